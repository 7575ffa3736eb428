"""Batch scoring: submit a file, score it chunk by chunk, put the scored file together. Called by
the API, the pages, the tasks and the demo alike.

One task scores a job's chunks in order through one sandboxed model process (a SandboxSession:
apps/packaging/sandbox/process.py), started when the first valid row needs it: the process start,
the imports and the model's loading (about 1.7 s) are paid once per job, not once per chunk, and
the job records how many times they were (``model_starts``). Each chunk still commits on its own
(its part file, its predictions in the log, its BatchChunk row and the progress), so a job whose
worker died carries on where it stopped when its task is redelivered (acks_late), and a long job
hands over to a continuation of itself every ``SLICE_SECONDS``, under the task's time limits.

The fan-in is counted in the database rather than by a chord: the chunk whose transaction records
the last missing chunk queues ``finish``. A count kept next to the predictions cannot drift from
them when a chunk is scored again."""

import collections
import json
import time
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone

from apps.accounts import access
from apps.accounts.roles import Role
from apps.deployments.models import Deployment
from apps.deployments.selectors import endpoints_visible_to
from apps.deployments.services import environment_named
from apps.jobs.models import Job
from apps.jobs.services import job_enqueue, job_fail, job_start, job_step, job_succeed
from apps.packaging.models import PackageBuild
from apps.packaging.scoring import sandbox_session
from apps.registry import datasets
from apps.registry.models import ModelVersion
from apps.registry.storage import store_by_hash
from apps.serving.batch import tables
from apps.serving.ingest import ingest_batch
from apps.serving.models import BatchChunk, BatchJob

DEFAULT_CHUNK_SIZE = 5_000
MAX_CHUNK_SIZE = 100_000
# Percent of the job's progress bar the chunks fill; writing the scored file takes the rest.
CHUNKS_SHARE = 95
MAX_REFUSALS_LOGGED = 100
# A task scores chunks for about this long, then queues its continuation (a new model process):
# well inside the batch tasks' soft time limit of 900 s, with a chunk's sandbox time-out to spare.
SLICE_SECONDS = 600.0


# --- submit -----------------------------------------------------------------------------------


def batch_job_submit(
    *,
    user,
    upload,
    filename: str,
    endpoint: str | None = None,
    environment: str = "production",
    version: ModelVersion | None = None,
    chunk_size: int | None = None,
) -> BatchJob:
    """Check the file against the scoring version's input schema and queue it, or say what is
    wrong (ValidationError by field, Http404 for an endpoint the user cannot see) and queue nothing.

    ``endpoint`` + ``environment`` score with that endpoint's live primary version as it is now;
    ``version`` scores with a version directly, once it has a package."""
    target = _target(user=user, endpoint=endpoint, environment=environment, version=version)
    size = _chunk_size(chunk_size)
    limit = settings.MODELYARD_MAX_UPLOAD_MB * 1024 * 1024
    if getattr(upload, "size", 0) and upload.size > limit:
        raise ValidationError({"file": f"{filename} is larger than {settings.MODELYARD_MAX_UPLOAD_MB} MB"})
    try:
        frame, kind = datasets.read_table(upload, filename)
    except datasets.DatasetError as exc:
        raise ValidationError({"file": f"{filename} {exc}"}) from exc
    problems = tables.header_problems(frame.columns, target["version"].input_schema)
    if problems:
        raise ValidationError({"file": problems})
    stored = store_by_hash(upload, kind="batch-inputs", filename=filename)
    with transaction.atomic():
        batch = BatchJob.objects.create(
            submitted_by=user if user.is_authenticated else None,
            input_file=stored.path,
            input_filename=PurePosixPath(filename).name[:255],
            input_format=kind,
            input_sha256=stored.sha256,
            row_count=len(frame),
            chunk_size=size,
            chunks_total=tables.chunk_count(len(frame), size),
            **target,
        )
        batch.job = job_enqueue(
            kind="serving.batch",
            subject_type="batch_job",
            subject_id=batch.pk,
            idempotency_key=f"serving.batch:{batch.pk}",
            send=lambda _job_id: _launch(batch.pk, batch.chunks_total),
            team=batch.team,
            requested_by=user,
        )
        batch.save(update_fields=["job"])
    return batch


def _target(*, user, endpoint, environment, version) -> dict:
    if bool(endpoint) == (version is not None):
        raise ValidationError({"endpoint": "name an endpoint (and its environment) or a version, not both"})
    if version is not None:
        package = _package(version)
        _check_may_run(user, version.model.team)
        return {"team": version.model.team, "version": version, "package": package}
    env = environment_named(environment or "production")
    found = endpoints_visible_to(user).filter(name=endpoint, environment=env).first()
    if found is None:
        raise Http404(f"no endpoint '{endpoint}' in {env.name} that you can see")
    _check_may_run(user, found.team)
    live = (
        found.deployments.filter(status=Deployment.Status.LIVE, role=Deployment.Role.PRIMARY)
        .select_related("version__model", "package")
        .first()
    )
    if live is None:
        raise ValidationError({"endpoint": f"'{found.name}' in {env.name} has no live version to score with"})
    return {
        "team": found.team,
        "endpoint": found,
        "environment": env.name,
        "deployment": live,
        "version": live.version,
        "package": live.package,
    }


def _package(version: ModelVersion) -> PackageBuild:
    package = version.packages.filter(status=PackageBuild.Status.SUCCEEDED).order_by("-created_at").first()
    if package is None:
        raise ValidationError(
            {"version": f"{version.model.name} v{version.number} has no package yet; wait for its build"}
        )
    return package


def _check_may_run(user, team) -> None:
    if not (access.can_register_in_team(user, team) or access.has_role(user, Role.IT_OPERATOR)):
        raise PermissionDenied("only the team's data scientists and IT operators run batch jobs")


def _chunk_size(value) -> int:
    if value in (None, ""):
        return DEFAULT_CHUNK_SIZE
    try:
        size = int(value)
    except (TypeError, ValueError):
        size = 0
    if not 1 <= size <= MAX_CHUNK_SIZE:
        raise ValidationError({"chunk_size": f"must be a whole number from 1 to {MAX_CHUNK_SIZE}"})
    return size


def _launch(batch_job_id: int, chunks: int) -> None:
    from apps.serving.tasks import score_batch_job

    score_batch_job.delay(batch_job_id)


# --- the chunks ---------------------------------------------------------------------------------


def batch_job_score(
    *, batch_job_id: int, slice_seconds: float = SLICE_SECONDS, max_chunks: int | None = None
) -> bool:
    """Score the job's chunks that are not recorded yet, in order, through one sandboxed model
    process. Returns True when chunks remain because this slice's time (or ``max_chunks``) ran
    out: the caller queues the continuation. Safe to run again: recorded chunks are skipped."""
    batch = BatchJob.objects.select_related("version__model", "endpoint").filter(pk=batch_job_id).first()
    if batch is None or batch.is_done:
        return False  # rolled back, reset, or already failed
    recorded = set(batch.chunks.values_list("index", flat=True))
    todo = [index for index in range(batch.chunks_total) if index not in recorded]
    if not todo:
        _finish_when_complete(batch)  # an earlier run may have died between its commit and queueing finish
        return False
    _mark_running(batch)
    started = time.monotonic()
    with sandbox_session(batch.version, on_start=lambda _n: _count_model_start(batch)) as session:
        for done, index in enumerate(todo):
            out_of_time = time.monotonic() - started > slice_seconds
            if done and (out_of_time or (max_chunks is not None and done >= max_chunks)):
                return True
            if not BatchJob.objects.filter(pk=batch.pk, status=BatchJob.Status.RUNNING).exists():
                return False  # failed, rolled back or reset meanwhile
            if not _chunk_score(batch, index, session.score):
                return False
    return False


def batch_chunk_score(*, batch_job_id: int, index: int) -> None:
    """Score chunk ``index`` alone, with a model process of its own (a chunk task queued before
    jobs were scored whole, or a chunk scored again by hand). Safe to run again."""
    batch = BatchJob.objects.select_related("version__model", "endpoint").filter(pk=batch_job_id).first()
    if batch is None or batch.is_done:
        return  # rolled back, reset, or already failed
    if batch.chunks.filter(index=index).exists():
        _finish_when_complete(batch)  # the first run may have died between its commit and queueing finish
        return
    _mark_running(batch)
    with sandbox_session(batch.version, on_start=lambda _n: _count_model_start(batch)) as session:
        _chunk_score(batch, index, session.score)


def _count_model_start(batch: BatchJob) -> None:
    BatchJob.objects.filter(pk=batch.pk).update(model_starts=F("model_starts") + 1)


def _chunk_score(batch: BatchJob, index: int, score) -> bool:
    """Check chunk ``index``'s rows, score the valid ones with ``score`` (a frame → the sandbox's
    answer), write its part, then, in one transaction, log its predictions and count it. False
    when the model failed (the job is failed with the reason)."""
    version = batch.version
    schema = version.input_schema
    start = index * batch.chunk_size
    with batch.input_file.open("rb") as handle:
        frame = tables.read_rows(handle.read(), batch.input_format, start, batch.chunk_size, schema)
    outside = collections.Counter()
    refuse = frozenset(batch.endpoint.refuse_outside_range or ()) if batch.endpoint else frozenset()
    errors = tables.row_errors(frame, schema, refuse_outside=refuse, outside=outside)
    valid = [not e for e in errors]
    answer = {"predictions": [], "probabilities": None, "classes": None, "latency_ms_per_row": 0.0}
    if any(valid):
        answer = score(frame.loc[valid, tables.feature_names(schema)])
        if not answer.get("ok"):
            where = f"rows {start + 1}-{start + len(frame)}"
            batch_job_fail(
                batch_job_id=batch.pk,
                error=f"{where}: the model failed ({answer.get('stage')}): {answer.get('error')}",
            )
            return False
    part = tables.part(
        len(frame), errors, answer["predictions"], answer.get("probabilities"), answer.get("classes")
    )
    part_path = _save(f"batch/{batch.pk}/part-{index:05d}.json", json.dumps(part).encode())
    log = _log_records(batch, frame, part, answer.get("latency_ms_per_row") or 0.0, index)
    scored, refused = sum(valid), len(valid) - sum(valid)
    with transaction.atomic():
        locked = BatchJob.objects.select_for_update().get(pk=batch.pk)
        ingest_batch(log)
        _, created = BatchChunk.objects.get_or_create(
            batch_job=locked,
            index=index,
            defaults={"rows_scored": scored, "rows_refused": refused, "part_file": part_path},
        )
        if created:
            BatchJob.objects.filter(pk=batch.pk).update(
                chunks_done=F("chunks_done") + 1,
                rows_scored=F("rows_scored") + scored,
                rows_refused=F("rows_refused") + refused,
            )
            if outside:  # under the row lock, so concurrent chunks add up
                counted = collections.Counter(locked.values_outside_range)
                for (feature, _kind), n in outside.items():
                    counted[feature] += n
                BatchJob.objects.filter(pk=batch.pk).update(values_outside_range=dict(counted))
            locked.refresh_from_db(fields=["chunks_done"])
            percent = CHUNKS_SHARE * locked.chunks_done // locked.chunks_total
            Job.objects.filter(pk=locked.job_id, progress__lt=percent).update(progress=percent)
    _finish_when_complete(batch)
    return True


def _mark_running(batch: BatchJob) -> None:
    """The first chunk to start marks the batch job and its Job running, once."""
    now = timezone.now()
    if BatchJob.objects.filter(pk=batch.pk, status=BatchJob.Status.QUEUED).update(
        status=BatchJob.Status.RUNNING, started_at=now
    ):
        job = job_start(job_id=batch.job_id) if batch.job_id else None
        if job is not None:
            job_step(
                job,
                progress=0,
                message=f"scoring {batch.row_count} rows in {batch.chunks_total} chunks of up to "
                f"{batch.chunk_size} with {batch.version.model.name} v{batch.version.number}",
            )


def _log_records(batch: BatchJob, frame, part: dict, latency_ms: float, index: int) -> list[dict]:
    """The chunk's rows for the prediction log, like the inference service's, flagged as batch."""
    common = {
        "request_id": batch.request_id,
        "endpoint": batch.endpoint.name if batch.endpoint else "",
        "environment": batch.environment,
        "deployment_id": batch.deployment_id or 0,  # 0: scored by a version, not a deployment
        "version_id": batch.version_id,
        "ts": time.time(),
    }
    log = []
    refusals = []
    for row, inputs, prediction, probabilities, error in zip(
        frame.index,
        tables.records(frame),
        part["predictions"],
        part["probabilities"] or [None] * len(frame),
        part["errors"],
        strict=True,
    ):
        if error:
            refusals.append(f"row {row}: {error}")
            continue
        log.append(
            {
                **common,
                "kind": "prediction",
                "row": int(row),
                "role": "batch",
                "inputs": inputs,
                "prediction": prediction,
                "probabilities": probabilities,
                "latency_ms": latency_ms,
                "batch": True,
            }
        )
    if refusals:  # a data-quality event per chunk, naming rows and features, never values
        log.append(
            {
                **common,
                "kind": "rejected",
                "request_id": f"{batch.request_id}-{index}",
                "errors": refusals[:MAX_REFUSALS_LOGGED],
            }
        )
    return log


def _save(path: str, data: bytes) -> str:
    """Write ``data`` at exactly ``path`` (storage would pick a new name beside an old file)."""
    if default_storage.exists(path):
        default_storage.delete(path)
    return default_storage.save(path, ContentFile(data))


def _finish_when_complete(batch: BatchJob) -> None:
    from apps.serving.tasks import finish_batch_job

    done = BatchJob.objects.filter(pk=batch.pk).values_list("chunks_done", "chunks_total", "status").first()
    if done and done[0] >= done[1] and done[2] == BatchJob.Status.RUNNING:
        transaction.on_commit(lambda: finish_batch_job.delay(batch.pk))


# --- the end ------------------------------------------------------------------------------------


def batch_job_finish(*, batch_job_id: int) -> None:
    """Put the parts together into one scored file in the input's format. Safe to run again."""
    batch = BatchJob.objects.select_related("job").filter(pk=batch_job_id).first()
    if batch is None or batch.is_done or batch.chunks_done < batch.chunks_total:
        return
    if batch.job:
        job_step(batch.job, progress=CHUNKS_SHARE + 2, message="writing the scored file")
    parts = []
    for chunk in batch.chunks.order_by("index"):
        with default_storage.open(chunk.part_file, "rb") as handle:
            parts.append(json.loads(handle.read()))
    with batch.input_file.open("rb") as handle:
        frame = tables.read_table(handle.read(), batch.input_format)
    scored = tables.assemble(frame, parts)
    stem = PurePosixPath(batch.input_filename).stem or "batch"
    suffix = "parquet" if batch.input_format == "parquet" else "csv"
    output = _save(f"batch/{batch.pk}/{stem}-scored.{suffix}", tables.write_table(scored, batch.input_format))
    with transaction.atomic():
        locked = BatchJob.objects.select_for_update(of=("self",)).select_related("job").get(pk=batch.pk)
        if locked.is_done:
            return
        locked.output_file = output
        locked.status = BatchJob.Status.SUCCEEDED
        locked.finished_at = timezone.now()
        locked.save(update_fields=["output_file", "status", "finished_at"])
        if locked.job:
            message = f"scored {locked.rows_scored} rows; {locked.rows_refused} break the input schema"
            if locked.values_outside_range:
                counted = ", ".join(f"{k} {n}" for k, n in sorted(locked.values_outside_range.items()))
                message += f"; values outside the reference range, scored: {counted}"
            job_succeed(locked.job, message=message)
    transaction.on_commit(lambda: _remove_parts(batch))


def _remove_parts(batch: BatchJob) -> None:
    for path in batch.chunks.values_list("part_file", flat=True):
        default_storage.delete(path)


def batch_job_fail(*, batch_job_id: int, error: str) -> None:
    with transaction.atomic():
        batch = (
            BatchJob.objects.select_for_update(of=("self",))
            .select_related("job")
            .filter(pk=batch_job_id)
            .first()
        )
        if batch is None or batch.is_done:
            return
        batch.status = BatchJob.Status.FAILED
        batch.error = error[:5000]
        batch.finished_at = timezone.now()
        batch.save(update_fields=["status", "error", "finished_at"])
        if batch.job and not batch.job.is_done:
            job_fail(batch.job, error=batch.error)
