"""Package builds of every supported kind of model, and of hostile ones, through the service and a
real sandbox process. The Celery side is covered in test_build_worker.py."""

import io
import tarfile

import pytest

from apps.packaging.bundle.archive import verify_archive
from apps.packaging.models import PackageBuild
from apps.packaging.services import package_build_enqueue, package_build_run
from tests import model_zoo
from tests.conftest import register_credit_version, wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def frame(credit_frame):
    return model_zoo.training_frame(credit_frame)


def register(user, filename, content, frame, name="zoo", **extra):
    return register_credit_version(user, filename, content, frame, name=name, **extra)


def build(version) -> PackageBuild:
    steps = []
    result = package_build_run(
        build=package_build_enqueue(version=version), step=lambda p, m: steps.append((p, m))
    )
    assert steps and steps[0][0] <= steps[-1][0]  # progress only moves forward
    return result


def archive_members(build: PackageBuild) -> dict[str, bytes]:
    data = build.archive.open("rb").read()
    assert verify_archive(data) == []
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


MAKERS = {
    "sklearn pickle": lambda f, t: model_zoo.sklearn_pickle(f),
    "sklearn joblib": lambda f, t: model_zoo.sklearn_joblib(f),
    "sklearn skops": lambda f, t: model_zoo.sklearn_skops(f),
    "onnx": lambda f, t: model_zoo.onnx_model(f),
    "xgboost": model_zoo.xgboost_json,
    "lightgbm": model_zoo.lightgbm_text,
    "mlflow": lambda f, t: model_zoo.mlflow_zip(f),
    "mlflow onnx": lambda f, t: model_zoo.mlflow_onnx_zip(f),
    "python class": lambda f, t: model_zoo.python_source(f),
}


@pytest.mark.parametrize("kind", list(MAKERS))
def test_every_kind_validates_and_packages(kind, make_user, frame, tmp_path):
    from apps.packaging.models import PackagingPolicy

    policy = PackagingPolicy.current()
    policy.skops_trusted_types = [
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.linear_model._logistic.LogisticRegression",
    ]
    policy.latency_budget_ms_per_row = 50
    policy.save()
    filename, content = MAKERS[kind](frame, tmp_path)
    version = register(make_user("dana"), filename, content, frame)
    result = build(version)
    checks = {c["name"]: c for c in result.report["checks"]}
    assert result.status == PackageBuild.Status.SUCCEEDED, result.report
    assert result.validation_passed, checks
    assert checks["outputs match the output schema"]["status"] == "pass"
    assert checks["same input gives the same output"]["status"] == "pass"
    members = archive_members(result)
    for name in (
        "serve.py",
        "batch.py",
        "model_loader.py",
        "requirements.lock",
        "Dockerfile",
        "MODEL_CARD.md",
        "sbom.cdx.json",
        "manifest.json",
        "validation.json",
        filename,
    ):
        assert name in members, name
    assert members[filename] == content


def test_same_inputs_give_the_same_package(make_user, frame):
    filename, content = model_zoo.sklearn_joblib(frame)
    version = register(make_user("dana"), filename, content, frame)
    first = build(version)
    again = package_build_enqueue(version=version)
    assert again.pk == first.pk  # asking again returns the same build
    PackageBuild.objects.filter(pk=again.pk).update(status=PackageBuild.Status.QUEUED)  # build it anew
    rerun = package_build_run(build=again, step=lambda p, m: None)
    assert rerun.archive_sha256 == first.archive_sha256  # and a re-run gives the same bytes


def test_holdout_threshold_and_previous_version(make_user, frame, credit_frame):
    dana = make_user("dana")
    filename, content = model_zoo.sklearn_joblib(frame)
    holdout = credit_frame[model_zoo.FEATURES + ["Status"]].dropna().sample(300, random_state=9)
    holdout_csv = holdout.to_csv(index=False).encode()
    passing = register(
        dana,
        filename,
        content,
        frame,
        holdout=io.BytesIO(holdout_csv),
        holdout_filename="holdout.csv",
        thresholds={"roc_auc": 0.6},
    )
    result = build(passing)
    auc = next(c for c in result.report["checks"] if c["name"] == "holdout roc_auc")
    assert auc["status"] == "pass" and 0.6 < auc["value"] < 1
    assert result.report["holdout_rows"] == 300
    _, other = model_zoo.python_source(frame)
    strict = register(
        dana,
        "model.py",
        other,
        frame,
        holdout=io.BytesIO(holdout_csv),
        holdout_filename="holdout.csv",
        thresholds={"accuracy": 0.99},
    )
    result = build(strict)
    checks = {c["name"]: c for c in result.report["checks"]}
    assert result.status == PackageBuild.Status.SUCCEEDED and result.validation_passed is False
    assert checks["holdout accuracy"]["status"] == "fail"
    changed = checks["changed predictions vs previous version"]
    assert changed["status"] == "info" and 0 < changed["value"] < 1  # a different model, compared with v1


HOSTILE = {
    "predict raises": (
        "model.py",
        b"class Model:\n    def predict(self, frame):\n        raise ValueError('feature drift exploded')\n",
        "feature drift exploded",
    ),
    "hangs on load": (
        "model.py",
        b"import time\nclass Model:\n    def __init__(self):\n        time.sleep(600)\n"
        b"    def predict(self, frame):\n        return frame\n",
        "did not finish",
    ),
    "allocates far too much": (
        "model.pkl",
        model_zoo.hostile_pickle("bytearray(16 * 1024 ** 3)"),
        "memory",
    ),
    "reads the app's secrets": (
        "model.pkl",
        model_zoo.hostile_pickle(
            "__import__('os').environ['DJANGO_SECRET_KEY'] + __import__('os').environ['DATABASE_URL']"
        ),
        "KeyError",
    ),
    "loads but is no model": ("model.pkl", model_zoo.hostile_pickle("'just a string'"), "predict"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_artifacts_fail_cleanly(case, make_user, frame, monkeypatch):
    from apps.packaging.models import PackagingPolicy

    monkeypatch.setenv("DJANGO_SECRET_KEY", "s3cr3t-never-leaks")
    policy = PackagingPolicy.current()
    policy.sandbox_timeout_seconds = 8
    policy.sandbox_memory_mb = 1536
    policy.save()
    filename, content, expected = HOSTILE[case]
    version = register(make_user("dana"), filename, content, frame)
    result = build(version)
    assert result.status == PackageBuild.Status.FAILED
    assert expected in result.error, result.error
    assert not result.archive_sha256
    assert "s3cr3t-never-leaks" not in str(result.report) + result.error


def test_mlflow_zip_with_path_traversal_is_refused(make_user, frame, tmp_path):
    import pickle
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("MLmodel", "flavors:\n  sklearn:\n    pickled_model: ../../escape.pkl\n")
        archive.writestr("../../escape.pkl", pickle.dumps(1))
    version = register(make_user("dana"), "evil.zip", buffer.getvalue(), frame)
    result = build(version)
    assert result.status == PackageBuild.Status.FAILED
    assert "escape.pkl" in result.error


def test_a_schema_the_model_does_not_match_fails_with_the_reason(make_user, frame):
    """The model was fitted on six features; the reference data (and so the schema) has three."""
    filename, content = model_zoo.sklearn_joblib(frame)
    narrow = frame[["Age", "Amount", "Price", "Status"]]
    version = register(make_user("dana"), filename, content, narrow)
    result = build(version)
    assert result.status == PackageBuild.Status.FAILED
    assert "predict" in result.error and "Seniority" in result.error, result.error


def test_predictions_of_the_wrong_type_fail_validation_and_never_strand_the_build(make_user, frame):
    """A classifier registered as a regression: the output schema says numbers, it answers labels."""
    filename, content = model_zoo.sklearn_joblib(frame)
    numeric = frame.assign(Status=(frame["Status"] == "good").astype(float))
    version = register(make_user("dana"), filename, content, numeric, task_type="regression")
    result = build(version)
    assert result.status == PackageBuild.Status.SUCCEEDED and result.validation_passed is False
    outputs = next(c for c in result.report["checks"] if c["name"] == "outputs match the output schema")
    assert outputs["status"] == "fail"
    assert "the output schema says numbers, but" in outputs["detail"] and "'good'" in outputs["detail"]


def test_a_stored_build_is_not_run_again(make_user, frame):
    """A redelivered message after the build was stored (the worker died before acking) returns
    the stored build: no second archive, no second audit event."""
    from apps.core.models import AuditEvent

    filename, content = model_zoo.sklearn_joblib(frame)
    version = register(make_user("dana"), filename, content, frame)
    first = build(version)
    steps = []
    again = package_build_run(build=first, step=lambda p, m: steps.append(p))
    assert (again.pk, again.archive_sha256, steps) == (first.pk, first.archive_sha256, [])
    assert AuditEvent.objects.filter(action="package.built", object_id=first.pk).count() == 1


def test_an_unexpected_error_fails_the_build_and_its_job(make_user, frame, monkeypatch):
    """A bug of ours mid-build ends the build and its job as failed, with the reason, so it can be
    requested again (it never stays 'running')."""
    from apps.jobs.models import Job
    from apps.packaging import services
    from apps.packaging.tasks import build_package

    def broken(*args, **kwargs):
        raise RuntimeError("validation blew up")

    monkeypatch.setattr(services, "validate_version", broken)
    filename, content = model_zoo.sklearn_joblib(frame)
    version = register(make_user("dana"), filename, content, frame)
    queued = package_build_enqueue(version=version)
    job = Job.objects.get(subject_type="package", subject_id=queued.pk)
    build_package(job.pk)  # what the worker runs, here in-process
    queued.refresh_from_db()
    job.refresh_from_db()
    assert queued.status == PackageBuild.Status.FAILED
    assert queued.error == "internal error: RuntimeError: validation blew up"
    assert job.status == Job.Status.FAILED and "validation blew up" in job.error
    monkeypatch.undo()
    again = package_build_enqueue(version=version)  # asked again, it is queued anew
    assert again.pk == queued.pk and again.status == PackageBuild.Status.QUEUED


def test_the_downloaded_package_serves_and_scores_as_built(make_user, frame, tmp_path):
    """Unpack the built .tar.gz as IT would and run its own entrypoints: serve.py answers /health,
    /metadata and /predict with the model's own predictions; batch.py scores a CSV."""
    import json
    import socket
    import subprocess
    import sys
    import urllib.request

    filename, content = model_zoo.sklearn_joblib(frame)
    result = build(register(make_user("dana"), filename, content, frame))
    with tarfile.open(fileobj=io.BytesIO(result.archive.open("rb").read())) as tar:
        tar.extractall(tmp_path, filter="data")
    (folder,) = list(tmp_path.iterdir())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "serve.py"],
        cwd=folder,
        env={"PATH": "/usr/bin:/bin", "HOST": "127.0.0.1", "PORT": str(port)},
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"

    def health():
        assert server.poll() is None, server.stderr.read().decode()
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                return json.load(response)
        except OSError:
            return None  # not listening yet

    try:
        assert wait_for(health, timeout=60, interval=0.2) == {"status": "ok"}
        with urllib.request.urlopen(f"{base}/metadata", timeout=10) as response:
            metadata = json.load(response)
        assert (metadata["model_name"], metadata["model_version"], metadata["format"]) == ("zoo", 1, "joblib")
        assert [f["name"] for f in metadata["input_schema"]["features"]] == model_zoo.FEATURES
        rows = frame[model_zoo.FEATURES].head(25)
        body = json.dumps({"records": rows.to_dict(orient="records")}).encode()
        request = urllib.request.Request(f"{base}/predict", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.load(response)
    finally:
        server.terminate()
        server.wait(timeout=10)
    expected = model_zoo._logistic(frame).predict(rows)
    assert answer["predictions"] == list(expected)

    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    rows.to_csv(source, index=False)
    batch = subprocess.run(
        [sys.executable, "batch.py", str(source), str(target)], cwd=folder, capture_output=True, text=True
    )
    assert batch.returncode == 0, batch.stderr
    import pandas as pd

    assert list(pd.read_csv(target)["prediction"]) == list(expected)
