"""The Python API: ``Client`` talks to one Modelyard server with one token."""

import hashlib
import json
import os
import re
import tempfile
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path

from modelyard import artifacts, config, task_inference
from modelyard.environment import capture, capture_file, requirements_text
from modelyard.errors import ConfigError, JobFailed, ModelyardError
from modelyard.http import DEFAULT_TIMEOUT, Http
from modelyard.progress import follow

# The server's rule for model names (they become file names: NAME-vN.tar.gz); checked here too so
# that a bad name is refused before the model file is written and uploaded.
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@dataclass(frozen=True)
class Version:
    """A registered model version. ``raw`` is the server's full answer (schemas, profile, ...)."""

    id: int
    number: int
    model_name: str
    team: str
    stage: str
    status: str
    job: int | None
    framework: str
    format: str
    safe_format: bool
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict) -> "Version":
        return cls(
            id=data["id"],
            number=data["number"],
            model_name=data.get("model_name", ""),
            team=data.get("team", ""),
            stage=data.get("stage", ""),
            status=data.get("status", ""),
            job=data.get("job"),
            framework=data.get("framework", ""),
            format=data.get("format", ""),
            safe_format=bool(data.get("safe_format")),
            raw=data,
        )

    def __str__(self) -> str:
        return (
            f"{self.model_name} v{self.number} ({self.team}, {self.framework}/{self.format}, {self.status})"
        )


def obtain_token(
    url: str, username: str, password: str, name: str = "modelyard-cli", replaces: str | None = None
) -> dict:
    """Exchange a username and password for a new API token: {"token", "username", "expires_at",
    "replaced"}. ``replaces``: a token of the same user that the server revokes at the same time."""
    http = Http(config.normalise_url(url))
    body = {"username": username, "password": password, "name": name}
    if replaces:
        body["replaces"] = replaces
    return http.post("auth/token/", json=body)


class Client:
    """``Client()`` reads MODELYARD_URL / MODELYARD_TOKEN, then the file ``modelyard login`` wrote."""

    def __init__(self, url: str | None = None, token: str | None = None, *, timeout=DEFAULT_TIMEOUT):
        settings = config.resolve(url, token)
        if not settings.token:
            raise ConfigError(
                f"no API token for {settings.url}: run `modelyard login`, set {config.TOKEN_ENV}, "
                "or pass token="
            )
        self.url = settings.url
        self.http = Http(settings.url, settings.token, timeout=timeout)

    def __repr__(self) -> str:
        return f"Client(url={self.url!r})"

    # --- reading -------------------------------------------------------------------------------
    def me(self) -> dict:
        return self.http.get("me/")

    def teams(self) -> list[dict]:
        return list(self.http.paginate("teams/"))

    def models(
        self, name: str | None = None, team: str | None = None, task_type: str | None = None, tag=None
    ) -> list[dict]:
        params = {"name": name, "team": team, "task_type": task_type, "tag": tag}
        return list(self.http.paginate("models/", params))

    def versions(
        self, model_name: str | None = None, team: str | None = None, stage: str | None = None
    ) -> list[Version]:
        params = {"model_name": model_name, "team": team, "stage": stage}
        return [Version.from_api(v) for v in self.http.paginate("versions/", params)]

    def version(self, version_id: int) -> Version:
        return Version.from_api(self.http.get(f"versions/{int(version_id)}/"))

    def find_version(self, model_name: str, number: int, team: str | None = None) -> Version:
        """Version ``number`` of the model called ``model_name``: how people name a version. Model
        names are unique within a team; ``team`` (its slug) picks one when several teams you can
        see have a model of that name."""
        params = {"model_name": model_name, "number": int(number), "team": team}
        found = [Version.from_api(v) for v in self.http.paginate("versions/", params)]
        if not found:
            raise ModelyardError(
                f"no version {number} of a model named '{model_name}' that you can see"
                + (f" in team '{team}'" if team else "")
                + f" (`modelyard versions {model_name}` lists them)"
            )
        if len(found) > 1:
            teams = ", ".join(sorted(v.team for v in found))
            raise ModelyardError(f"several teams have a model named '{model_name}' ({teams}): give --team")
        return found[0]

    def job(self, job_id: int) -> dict:
        return self.http.get(f"jobs/{int(job_id)}/")

    def wait(
        self, job_id: int, progress: bool = True, interval: float = 1.0, timeout: float | None = None
    ) -> dict:
        """Poll a job until done; returns its final dict, raises JobFailed if it failed."""
        return follow(self.job, job_id, progress=progress, interval=interval, timeout=timeout)

    def packages(self, version_id: int) -> list[dict]:
        """Package builds of a version, newest first."""
        return list(self.http.paginate("packages/", {"version": int(version_id)}))

    def package(self, package_id: int) -> dict:
        return self.http.get(f"packages/{int(package_id)}/")

    def download_package(self, version_id: int, destination=None) -> Path:
        """Download the newest package of a version and check its SHA-256; returns the file path."""
        builds = [b for b in self.packages(version_id) if b.get("archive_sha256")]
        if not builds:
            raise ModelyardError(f"version {version_id} has no package yet: run `modelyard package build`")
        build = builds[0]
        path = Path(destination or f"{build['model_name']}-v{build['version_number']}.tar.gz")
        if path.is_dir():
            path = path / f"{build['model_name']}-v{build['version_number']}.tar.gz"
        self.http.download(f"packages/{build['id']}/download/", path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != build["archive_sha256"]:
            raise ModelyardError(
                f"downloaded {path} has SHA-256 {digest}, expected {build['archive_sha256']}"
            )
        return path

    def deployments(self, endpoint: str | None = None, environment: str | None = None) -> list[dict]:
        params = {"endpoint__name": endpoint, "endpoint__environment__name": environment}
        return list(self.http.paginate("deployments/", params))

    def endpoints(self, environment: str | None = None) -> list[dict]:
        return list(self.http.paginate("endpoints/", {"environment__name": environment}))

    # --- changing ------------------------------------------------------------------------------
    def deploy(
        self,
        model_name: str,
        version: int,
        *,
        endpoint: str,
        environment: str = "staging",
        strategy: str = "direct",
        percent: float | None = None,
        team: str | None = None,
    ) -> dict:
        """Deploy version number ``version`` of a model behind ``endpoint``. Production waits for an
        IT operator's approval (the answer's status says pending_approval)."""
        body = {
            "version": self.find_version(model_name, version, team=team).id,
            "endpoint": endpoint,
            "environment": environment,
            "strategy": strategy,
        }
        if percent is not None:
            body["percent"] = percent
        return self.http.post("deployments/", json=body)

    def _endpoint_id(self, endpoint: str, environment: str) -> int:
        found = self.http.get("endpoints/", {"name": endpoint, "environment__name": environment})
        results = found.get("results", []) if isinstance(found, dict) else found
        if not results:
            raise ModelyardError(f"no endpoint '{endpoint}' in {environment}")
        return results[0]["id"]

    def rollback(self, endpoint: str, environment: str = "production", reason: str = "") -> dict:
        """Put back the version that served before the current one."""
        return self.http.post(
            f"endpoints/{self._endpoint_id(endpoint, environment)}/rollback/", json={"reason": reason}
        )

    def promote(self, endpoint: str, environment: str = "production", reason: str = "") -> dict:
        """The live canary (or shadow) takes all traffic."""
        return self.http.post(
            f"endpoints/{self._endpoint_id(endpoint, environment)}/promote/", json={"reason": reason}
        )

    def send_outcomes(
        self, endpoint: str, outcomes, environment: str = "production", *, key_field: str | None = None
    ) -> dict:
        """Ground truth for the predictions ``endpoint`` logged in ``environment``: a list of
        {"request_id", "row"?, "value"} or {"business_key", "value"} dicts, a DataFrame, or the path
        of a CSV file with those columns. Sending a row again replaces its value. Answers how many
        rows were accepted (and how many of them replaced a different value) and which ids are unknown."""
        fields = {
            "endpoint": endpoint,
            "environment": environment,
            **({"key_field": key_field} if key_field else {}),
        }
        if artifacts.is_path(outcomes):
            path = artifacts.existing_file(outcomes, "outcomes file")
            with open(path, "rb") as handle:
                return self.http.post("outcomes/", data=fields, files={"file": (path.name, handle)})
        if artifacts.is_dataframe(outcomes):
            outcomes = json.loads(outcomes.to_json(orient="records"))
        return self.http.post("outcomes/", json={**fields, "outcomes": list(outcomes)})

    # --- batch scoring ---------------------------------------------------------------------------
    def batch_score(
        self,
        endpoint: str,
        path,
        environment: str = "production",
        chunk_size: int | None = None,
        wait: bool = True,
        output=None,
        progress: bool = True,
    ) -> dict:
        """Score a CSV or Parquet file with the version live on ``endpoint``, in chunks across the
        server's workers. Returns the batch job; with ``wait`` it follows the job's progress bar
        (JobFailed if the job fails) and, given ``output``, saves the scored file there."""
        source = artifacts.existing_file(path, "file to score")
        data = {"endpoint": endpoint, "environment": environment}
        if chunk_size is not None:
            data["chunk_size"] = str(int(chunk_size))
        with open(source, "rb") as handle:
            job = self.http.post("batch-jobs/", data=data, files={"file": (source.name, handle)})
        if not wait:
            return job
        self.wait(job["job"], progress=progress)
        job = self.batch_job(job["id"])
        if output is not None:
            self.download_batch(job["id"], output)
        return job

    def batch_jobs(self, status: str | None = None) -> list[dict]:
        return list(self.http.paginate("batch-jobs/", {"status": status}))

    def batch_job(self, batch_job_id: int) -> dict:
        return self.http.get(f"batch-jobs/{int(batch_job_id)}/")

    def download_batch(self, batch_job_id: int, path) -> Path:
        """Save a finished batch job's scored file at ``path`` (a file, or a folder to put it in)."""
        target = Path(path)
        if target.is_dir():
            job = self.batch_job(batch_job_id)
            stem = Path(job["input_filename"]).stem
            target = target / f"{stem}-scored.{'parquet' if job['input_format'] == 'parquet' else 'csv'}"
        self.http.download(f"batch-jobs/{int(batch_job_id)}/download/", target)
        return target

    def inference_url(self) -> str:
        return os.environ.get("MODELYARD_INFERENCE_URL") or self.http.get("server/")["inference_url"]

    def predict(
        self,
        endpoint: str,
        records,
        environment: str = "production",
        *,
        key: str | None = None,
        request_id: str | None = None,
        partial: bool = False,
    ) -> dict:
        """Score one record (a dict) or many (a list of dicts or a DataFrame) on the inference service.

        ``key``: the endpoint's consumer key (default: $MODELYARD_ENDPOINT_KEY), sent as a bearer
        token; your API token is never sent to the inference service. ``request_id``: your own id
        for the request (X-Request-ID), unique per endpoint: a reused one is refused (409).
        ``partial``: score the records that fit the schema even when others do not; the answer's
        ``predictions`` then hold None at the indices listed in ``refused``, with ``errors``.
        Without it one bad record refuses the whole request (422)."""
        if artifacts.is_dataframe(records):
            records = json.loads(records.to_json(orient="records"))
        elif isinstance(records, dict):
            records = [records]
        url = f"{self.inference_url().rstrip('/')}/v1/endpoints/{endpoint}/predict"
        key = key or os.environ.get(config.ENDPOINT_KEY_ENV)
        headers = {"Authorization": f"Bearer {key}" if key else None}  # None: no header at all
        if request_id:
            headers["X-Request-ID"] = request_id
        params = {"environment": environment}
        if partial:
            params["partial"] = "true"
        return self.http.request("POST", url, params=params, json={"records": records}, headers=headers)

    def refuse_outside_range(
        self, endpoint: str, features: list[str], environment: str = "production"
    ) -> dict:
        """Make the endpoint refuse (422) values outside the schema's range or categories for these
        features; by default such values are scored and counted. An empty list restores that."""
        return self.http.request(
            "PATCH",
            f"endpoints/{self._endpoint_id(endpoint, environment)}/",
            json={"refuse_outside_range": list(features)},
        )

    # --- consumer keys of endpoints --------------------------------------------------------------
    def endpoint_keys(self, endpoint: str, environment: str = "production") -> list[dict]:
        """The endpoint's consumer keys, revoked ones included (never the keys themselves)."""
        return self.http.get(f"endpoints/{self._endpoint_id(endpoint, environment)}/keys/")

    def create_endpoint_key(self, endpoint: str, name: str, environment: str = "production") -> dict:
        """A new consumer key for the endpoint; the answer's ``key`` is shown this once."""
        return self.http.post(
            f"endpoints/{self._endpoint_id(endpoint, environment)}/keys/", json={"name": name}
        )

    def revoke_endpoint_key(self, endpoint: str, key_id: int, environment: str = "production") -> dict:
        """Revoke a consumer key; the inference service refuses it within a few seconds."""
        return self.http.post(
            f"endpoints/{self._endpoint_id(endpoint, environment)}/keys/{int(key_id)}/revoke/"
        )

    def build_package(self, version_id: int, wait: bool = False, progress: bool = True) -> dict:
        """Build (or rebuild) a version's package; with wait=True follow it and return the build."""
        queued = self.http.post(f"versions/{int(version_id)}/package/")
        if wait and queued.get("job"):
            with suppress(JobFailed):  # the build itself says why; return it
                self.wait(queued["job"], progress=progress)
        return self.package(queued["package"])

    def set_stage(self, version_id: int, stage: str, reason: str = "") -> Version:
        body = self.http.post(f"versions/{int(version_id)}/stage/", json={"stage": stage, "reason": reason})
        return Version.from_api(body)

    def register(
        self,
        model_or_path,
        *,
        name: str,
        reference=None,
        task: str | None = None,
        target: str | None = None,
        team: str | None = None,
        description: str = "",
        metrics: dict | None = None,
        requirements: str | list[str] | None = None,
        input_schema: dict | None = None,
        output_schema: dict | None = None,
        environment: dict | None = None,
        code_commit: str | None = None,
        data_uri: str | None = None,
        parent_version: int | None = None,
        tags: list[str] | None = None,
        business_owner: str | None = None,
        holdout=None,
        thresholds: dict | None = None,
        format: str = "joblib",
        wait: bool = False,
        progress: bool = True,
    ) -> Version:
        """Register a model version; the model is created on its first version.

        ``model_or_path``: a fitted model object (saved with joblib, or skops with format="skops")
        or the path of a model file. ``reference``: a DataFrame or a CSV/Parquet path; its
        ``target`` column is the label. ``task`` is inferred for new models when not given (see
        modelyard.task_inference). The Python and package versions are captured (see
        modelyard.environment; for a file, from the modules it references) and sent as
        ``environment`` and pinned ``requirements``.
        ``holdout``: labelled rows kept out of training (DataFrame or path, with the ``target``
        column); ``thresholds``: metric bounds it must meet, e.g. {"roc_auc": 0.75}, checked when
        the package is validated. With ``wait=True`` the profiling job is followed to the end.
        """
        if not name or not str(name).strip():
            raise ModelyardError("name= is required: the registered model's name")
        if not MODEL_NAME.fullmatch(str(name).strip()):
            raise ModelyardError(
                f"name={name!r}: use letters, digits, '.', '_' and '-', starting with a letter or digit "
                "(at most 100 characters); the name becomes the package's file name"
            )
        if target and reference is None:
            raise ModelyardError("target= names a column of the reference data: pass reference= too")
        with tempfile.TemporaryDirectory(prefix="modelyard-") as tmp:
            tmpdir = Path(tmp)
            if artifacts.is_path(model_or_path):
                artifact = artifacts.existing_file(model_or_path, "model file")
                model_object = None
                # Read from the file's own bytes (opcodes, metadata); the file is never loaded.
                env = environment if environment is not None else capture_file(artifact)
            else:
                artifact = artifacts.dump_model(model_or_path, tmpdir, name, format)
                model_object = model_or_path
                # The serialiser is needed to load the file, whatever the model is made of.
                env = environment if environment is not None else capture(model_or_path, also=[format])

            reference_path, target_values = None, None
            if reference is not None:
                if artifacts.is_dataframe(reference):
                    stem = f"{artifacts.safe_stem(name)}-reference"
                    reference_path = artifacts.dump_frame(reference, tmpdir, stem)
                    if target and target in reference.columns:
                        target_values = reference[target]
                elif artifacts.is_path(reference):
                    reference_path = artifacts.existing_file(reference, "reference file")
                    if target and task is None:
                        target_values = artifacts.read_column(reference_path, target)
                else:
                    raise ModelyardError(
                        "reference must be a pandas DataFrame or the path of a CSV/Parquet file"
                    )

            holdout_path = None
            if holdout is not None:
                if artifacts.is_dataframe(holdout):
                    holdout_path = artifacts.dump_frame(
                        holdout, tmpdir, f"{artifacts.safe_stem(name)}-holdout"
                    )
                elif artifacts.is_path(holdout):
                    holdout_path = artifacts.existing_file(holdout, "holdout file")
                else:
                    raise ModelyardError(
                        "holdout must be a pandas DataFrame or the path of a CSV/Parquet file"
                    )

            if task is None and self._is_new_model(name, team):
                task = _infer(model_object, target_values)

            if requirements is None and env:
                requirements = requirements_text(env)
            elif isinstance(requirements, list | tuple):
                requirements = "".join(f"{line}\n" for line in requirements)

            fields = {
                "model": name,
                "team": team,
                "task_type": task,
                "description": description,
                "target": target,
                "requirements": requirements,
                "code_commit": code_commit,
                "data_uri": data_uri,
                "parent_version": parent_version,
                "business_owner": business_owner,
                "input_schema": _json(input_schema),
                "output_schema": _json(output_schema),
                "metrics": _json(metrics),
                "environment": _json(env),
                "tags": _json(list(tags) if tags is not None else None),
                "thresholds": _json(thresholds),
            }
            data = {k: str(v) for k, v in fields.items() if v not in (None, "")}
            with ExitStack() as stack:
                files = {"artifact": (artifact.name, stack.enter_context(open(artifact, "rb")))}
                if reference_path is not None:
                    files["reference"] = (
                        reference_path.name,
                        stack.enter_context(open(reference_path, "rb")),
                    )
                if holdout_path is not None:
                    files["holdout"] = (holdout_path.name, stack.enter_context(open(holdout_path, "rb")))
                body = self.http.post("versions/", data=data, files=files)

        version = Version.from_api(body)
        if wait and version.job is not None:
            self.wait(version.job, progress=progress)
            version = self.version(version.id)
        return version

    def _is_new_model(self, name: str, team: str | None) -> bool:
        """Whether registering creates the model: only then may an inferred task type be sent (the
        server refuses a task type that differs from an existing model's)."""
        found = self.models(name=name, team=team)
        if team or not found:
            return not found
        # No team given: the server uses the caller's team, so only models there count.
        mine = set(self.me().get("teams") or [])
        return not any(m.get("team") in mine for m in found)


def _infer(model, target_values) -> str:
    if target_values is not None:
        guess = task_inference.from_target(target_values)
        if guess:
            return guess
    return task_inference.infer_task(model=model)


def _json(value) -> str | None:
    return None if value is None else json.dumps(value)
