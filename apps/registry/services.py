"""Registry use cases. Views, the API, tasks and management commands all call these."""

from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max

from apps.accounts import access, limits
from apps.accounts.models import Team
from apps.core.audit import audit_record
from apps.jobs.models import Job
from apps.jobs.services import job_enqueue
from apps.packaging.metrics import threshold_problems
from apps.registry import datasets, formats
from apps.registry.models import ModelVersion, RegisteredModel, Stage, TaskType
from apps.registry.names import model_name_problem
from apps.registry.storage import StoredFile, discard, store_by_hash


@dataclass
class Registration:
    """What a person hands over to register a version. Files are open binary file objects."""

    model_name: str
    artifact: object
    artifact_filename: str
    team: Team | None = None
    task_type: str = ""
    description: str = ""
    reference: object | None = None
    reference_filename: str = ""
    target: str = ""
    input_schema: dict | None = None
    output_schema: dict | None = None
    metrics: dict = field(default_factory=dict)
    requirements: str = ""
    environment: dict = field(default_factory=dict)
    code_commit: str = ""
    data_uri: str = ""
    parent_version: int | None = None
    tags: list = field(default_factory=list)
    business_owner: object | None = None
    holdout: object | None = None
    holdout_filename: str = ""
    thresholds: dict = field(default_factory=dict)


def _max_upload_bytes() -> int:
    return settings.MODELYARD_MAX_UPLOAD_MB * 1024 * 1024


def _check_size(fileobj, field_name: str) -> None:
    fileobj.seek(0, 2)
    size = fileobj.tell()
    fileobj.seek(0)
    if size > _max_upload_bytes():
        raise ValidationError(
            {
                field_name: f"the file is {size / 1e6:.1f} MB; "
                f"the limit is {settings.MODELYARD_MAX_UPLOAD_MB} MB"
            }
        )


def model_create(
    *,
    user,
    team: Team,
    name: str,
    task_type: str,
    description: str = "",
    tags: list | None = None,
    business_owner=None,
) -> RegisteredModel:
    if not access.can_register_in_team(user, team):
        raise PermissionDenied(f"you may not register models in team '{team.slug}'")
    name = (name or "").strip()
    problem = model_name_problem(name)
    if problem:
        raise ValidationError({"name": problem})
    if not task_type:
        raise ValidationError(
            {"task_type": f"'{name}' is a new model: give its task type, one of {', '.join(TaskType.values)}"}
        )
    if task_type not in TaskType.values:
        raise ValidationError({"task_type": f"'{task_type}' is not one of {', '.join(TaskType.values)}"})
    try:
        # The unique constraint decides, in a savepoint: a check beforehand could race.
        with transaction.atomic():
            model = RegisteredModel.objects.create(
                team=team,
                name=name,
                task_type=task_type,
                description=description,
                tags=list(tags or []),
                business_owner=business_owner,
                created_by=user,
            )
    except IntegrityError:
        raise ValidationError({"name": f"team '{team.slug}' already has a model named '{name}'"}) from None
    audit_record(actor=user, action="model.created", obj=model, team=team, task_type=task_type)
    return model


def model_update(*, user, model: RegisteredModel, **changes) -> RegisteredModel:
    if not access.can_edit_model(user, model):
        raise PermissionDenied("only the owning team's data scientists may change this model")
    allowed = {"description", "tags", "business_owner"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "cannot be changed here"})
    before = {k: str(getattr(model, k)) for k in changes}
    for key, value in changes.items():
        setattr(model, key, value)
    model.save()
    audit_record(
        actor=user,
        action="model.updated",
        obj=model,
        team=model.team,
        before=before,
        after={k: str(v) for k, v in changes.items()},
    )
    return model


def _resolve_team(user, team: Team | None) -> Team:
    if team is not None:
        return team
    teams = list(user.teams.all())
    if len(teams) == 1:
        return teams[0]
    raise ValidationError(
        {"team": "say which team the model belongs to" if teams else "you belong to no team"}
    )


def _load_reference(reg: Registration, schema_given: dict | None):
    """Read the reference file and reconcile it with the schema. Returns (frame, fmt, schema)."""
    try:
        frame, fmt = datasets.read_table(reg.reference, reg.reference_filename)
    except datasets.DatasetError as exc:
        raise ValidationError({"reference": f"'{reg.reference_filename}' {exc}"}) from exc
    target = reg.target or None
    if schema_given is None:
        if target and target not in frame.columns:
            raise ValidationError({"target": f"column '{target}' is not in '{reg.reference_filename}'"})
        return frame, fmt, datasets.infer_schema(frame, target)
    problems = datasets.check_columns(frame, schema_given, target) or datasets.check_values(
        frame, schema_given
    )
    if problems:
        raise ValidationError({"reference": [f"'{reg.reference_filename}': {p}" for p in problems]})
    return frame, fmt, schema_given


def _check_holdout(reg: Registration, schema: dict, task_type: str) -> None:
    """Holdout rows need the schema's features and the label; thresholds need known metrics."""
    problems = threshold_problems(reg.thresholds or {}, task_type)
    if problems:
        raise ValidationError({"thresholds": problems})
    if reg.holdout is None:
        return
    if not reg.target:
        raise ValidationError({"target": "holdout data needs the name of its label column (target)"})
    _check_size(reg.holdout, "holdout")
    try:
        frame, _ = datasets.read_table(reg.holdout, reg.holdout_filename)
    except datasets.DatasetError as exc:
        raise ValidationError({"holdout": f"'{reg.holdout_filename}' {exc}"}) from exc
    # Empty cells are allowed here: how the model copes with them is for validation to find out.
    problems = datasets.check_columns(frame, schema, reg.target) or datasets.check_values(
        frame, schema, nulls=False
    )
    if problems:
        raise ValidationError({"holdout": [f"'{reg.holdout_filename}': {p}" for p in problems]})


@transaction.atomic
def version_register(*, user, reg: Registration) -> ModelVersion:
    """Register a new version (creating the model on its first version) in one transaction.
    Nothing is kept when any part is invalid; a profile job is queued once it commits."""
    team = _resolve_team(user, reg.team)
    if not access.can_register_in_team(user, team):
        raise PermissionDenied(f"you may not register models in team '{team.slug}'")
    problem = model_name_problem((reg.model_name or "").strip())
    if problem:
        raise ValidationError({"model": problem})

    model = RegisteredModel.objects.select_for_update().filter(team=team, name=reg.model_name).first()
    if model is None:
        try:
            model = model_create(
                user=user,
                team=team,
                name=reg.model_name,
                task_type=reg.task_type,
                description=reg.description,
                tags=reg.tags,
                business_owner=reg.business_owner,
            )
        except ValidationError:
            # Another first registration of this name committed meanwhile: this one becomes v2.
            model = RegisteredModel.objects.select_for_update().filter(team=team, name=reg.model_name).first()
            if model is None:
                raise
    if reg.task_type and reg.task_type != model.task_type:
        raise ValidationError(
            {
                "task_type": f"model '{model.name}' is {model.task_type}; "
                f"a version cannot change it to {reg.task_type}"
            }
        )

    _check_size(reg.artifact, "artifact")
    try:
        detection = formats.detect(reg.artifact, reg.artifact_filename)
    except formats.ArtifactError as exc:
        raise ValidationError({"artifact": f"'{reg.artifact_filename}': {exc}"}) from exc

    schema = reg.input_schema
    if schema is not None:
        problems = datasets.validate_schema(schema)
        if problems:
            raise ValidationError({"input_schema": problems})
    output_schema = reg.output_schema or {}
    frame = fmt = None
    if reg.reference is not None:
        _check_size(reg.reference, "reference")
        frame, fmt, schema = _load_reference(reg, schema)
        if not output_schema and reg.target:
            output_schema = datasets.infer_output_schema(frame[reg.target], model.task_type)
    if schema is None:
        raise ValidationError({"input_schema": "give an input schema, or reference data to infer it from"})

    _check_holdout(reg, schema, model.task_type)

    parent = None
    if reg.parent_version is not None:
        parent = model.versions.filter(number=reg.parent_version).first()
        if parent is None:
            raise ValidationError(
                {"parent_version": f"model '{model.name}' has no version {reg.parent_version}"}
            )

    stored: list[StoredFile] = []
    try:
        artifact = store_by_hash(reg.artifact, kind="artifacts", filename=reg.artifact_filename)
        stored.append(artifact)
        reference = None
        if reg.reference is not None:
            reference = store_by_hash(reg.reference, kind="reference", filename=reg.reference_filename)
            stored.append(reference)
        holdout = None
        if reg.holdout is not None:
            holdout = store_by_hash(reg.holdout, kind="holdout", filename=reg.holdout_filename)
            stored.append(holdout)
        number = (model.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        version = ModelVersion.objects.create(
            model=model,
            number=number,
            description=reg.description,
            artifact=artifact.path,
            artifact_filename=reg.artifact_filename[:255],
            artifact_sha256=artifact.sha256,
            artifact_size=artifact.size,
            framework=detection.framework,
            format=detection.format,
            safe_format=detection.safe,
            format_details=detection.details,
            input_schema=schema,
            output_schema=output_schema,
            schema_source="given" if reg.input_schema is not None else "inferred",
            reference_data=reference.path if reference else "",
            reference_filename=reg.reference_filename[:255] if reference else "",
            reference_sha256=reference.sha256 if reference else "",
            reference_format=fmt or "",
            reference_rows=len(frame) if frame is not None else None,
            target_column=reg.target,
            holdout_data=holdout.path if holdout else "",
            holdout_filename=reg.holdout_filename[:255] if holdout else "",
            holdout_sha256=holdout.sha256 if holdout else "",
            validation_thresholds=reg.thresholds,
            metrics=reg.metrics,
            requirements=reg.requirements,
            environment=reg.environment,
            code_commit=reg.code_commit,
            data_uri=reg.data_uri,
            parent=parent,
            created_by=user,
        )
        audit_record(
            actor=user,
            action="version.registered",
            obj=version,
            team=team,
            framework=detection.framework,
            format=detection.format,
            artifact_sha256=artifact.sha256,
        )
        if reference is not None:
            version_profile_enqueue(version=version, user=user)
        from apps.packaging.services import package_build_enqueue

        package_build_enqueue(version=version, user=user)
    except BaseException:
        discard(stored)
        raise
    return version


def version_profile_enqueue(*, version: ModelVersion, user=None) -> Job:
    from apps.registry.tasks import profile_reference

    return job_enqueue(
        kind="registry.profile_reference",
        subject_type="version",
        subject_id=version.pk,
        idempotency_key=f"registry.profile_reference:{version.pk}:{version.reference_sha256}",
        send=lambda job_id: profile_reference.delay(job_id),
        team=version.model.team,
        requested_by=user,
    )


def version_profile_compute(*, version: ModelVersion, progress=None) -> dict:
    """Read the stored reference data and profile it against the version's schema."""
    with version.reference_data.open("rb") as handle:
        frame, _ = datasets.read_table(handle, version.reference_filename)
    profile = datasets.profile_frame(frame, version.input_schema, progress=progress)
    version.reference_profile = profile
    version.save(update_fields=["reference_profile"])
    return profile


@transaction.atomic
def version_set_stage(*, user, version: ModelVersion, stage: str, reason: str = "") -> ModelVersion:
    """Move a version to another stage; every transition is an audit event."""
    if stage not in Stage.values:
        raise ValidationError({"stage": f"'{stage}' is not one of {', '.join(Stage.values)}"})
    version = ModelVersion.objects.select_for_update().select_related("model__team").get(pk=version.pk)
    if not access.can_change_stage(user, version.model):
        raise PermissionDenied("only the owning team or IT may change a version's stage")
    if version.stage == stage:
        return version
    if stage == Stage.PRODUCTION:
        from apps.packaging.services import production_blocker

        blocker = production_blocker(version)
        if blocker:
            raise ValidationError({"stage": blocker})
    previous = version.stage
    version.stage = stage
    version.save(update_fields=["stage"])
    audit_record(
        actor=user,
        action="version.stage_changed",
        obj=version,
        team=version.model.team,
        **{"from": previous, "to": stage, "reason": reason},
    )
    return version


def parse_json_field(raw, field_name: str, expected=dict):
    """A JSON form field as a Python value, with a 400-ready error naming the field."""
    if raw in (None, ""):
        return None
    if isinstance(raw, expected):
        return raw
    try:
        value = limits.json_loads(raw)
    except (TypeError, ValueError) as exc:
        raise ValidationError({field_name: f"is not valid JSON: {exc}"}) from exc
    if not isinstance(value, expected):
        raise ValidationError({field_name: f"must be a JSON {expected.__name__}"})
    return value
