"""Shared fixtures: real users with roles, API clients with real tokens, real model files, and a
real Celery worker process against the configured broker and the test database."""

import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import joblib
import pandas as pd
import pytest
from rest_framework.test import APIClient

from apps.accounts.roles import Role
from apps.accounts.services import token_create, user_create
from tests.shared_data import require

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"


def pytest_sessionstart(session):
    """SQLite in WAL mode leaves -wal/-shm files beside a test database that pytest-django has
    deleted; a new database with stale ones gives "disk I/O error". Remove them first."""
    from django.conf import settings

    test_name = settings.DATABASES["default"].get("TEST", {}).get("NAME")
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") and test_name:
        for suffix in ("-wal", "-shm"):
            Path(test_name + suffix).unlink(missing_ok=True)
    # Stored files are content-addressed: ones left by an earlier run would be reused as they are.
    shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)


@pytest.fixture
def make_user(db):
    def make(username, role=Role.DATA_SCIENTIST, team="Credit Risk", password="pw-for-tests"):
        return user_create(username=username, role=role, team_name=team, password=password)

    return make


@pytest.fixture
def api_for():
    """An API client authenticated the way the Python client is: with a real hashed token."""

    def make(user):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=user, name='test')}")
        return client

    return make


@pytest.fixture(scope="session")
def credit_frame() -> pd.DataFrame:
    return pd.read_csv(require(DATA / "credit" / "credit_data.csv"))


@pytest.fixture(scope="session")
def credit_model_bytes(credit_frame) -> bytes:
    """A real scikit-learn pipeline trained on 600 credit applications, dumped with joblib."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from apps.demo.training import CREDIT_CATEGORICAL, CREDIT_NUMERIC

    sample = credit_frame.sample(600, random_state=1)
    model = Pipeline(
        [
            (
                "features",
                ColumnTransformer(
                    [
                        ("num", make_pipeline(SimpleImputer(), StandardScaler()), CREDIT_NUMERIC),
                        (
                            "cat",
                            make_pipeline(
                                SimpleImputer(strategy="most_frequent"),
                                OneHotEncoder(handle_unknown="ignore"),
                            ),
                            CREDIT_CATEGORICAL,
                        ),
                    ]
                ),
            ),
            ("classify", LogisticRegression(max_iter=500)),
        ]
    ).fit(sample[CREDIT_NUMERIC + CREDIT_CATEGORICAL], sample["Status"])
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def credit_csv_bytes(credit_frame) -> bytes:
    return credit_frame.sample(800, random_state=2).to_csv(index=False).encode()


def named_file(name: str, content: bytes) -> io.BytesIO:
    handle = io.BytesIO(content)
    handle.name = name
    return handle


@pytest.fixture
def post_credit_version(credit_model_bytes, credit_csv_bytes):
    """POST the credit model with its reference data through the API as ``api``'s user."""

    def post(api, **fields):
        from tests import model_zoo

        data = {
            "model": "credit-default",
            "task_type": "binary_classification",
            "artifact": named_file("model.joblib", credit_model_bytes),
            "reference": named_file("train.csv", credit_csv_bytes),
            "target": "Status",
            # What the client captures from this file and sends with it.
            "environment": json.dumps(model_zoo.environment("model.joblib", credit_model_bytes)),
            **fields,
        }
        return api.post("/api/v1/versions/", data, format="multipart")

    return post


def register_credit_version(user, filename: str, content: bytes, frame, name: str = "zoo", **extra):
    """Register a binary classifier on the credit columns through the service, as dana would."""
    from apps.registry.services import Registration, version_register
    from tests import model_zoo

    extra.setdefault("environment", model_zoo.environment(filename, content))  # as the client sends
    return version_register(
        user=user,
        reg=Registration(
            model_name=name,
            task_type=extra.pop("task_type", "binary_classification"),
            artifact=io.BytesIO(content),
            artifact_filename=filename,
            reference=io.BytesIO(model_zoo.reference_csv(frame)),
            reference_filename="train.csv",
            target="Status",
            **extra,
        ),
    )


def _wait_for_worker(proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the Celery worker exited early:\n{log.read_text()[-3000:]}")
        if " ready." in log.read_text():
            return
        time.sleep(0.3)
    raise RuntimeError(f"the Celery worker did not start within {timeout}s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def celery_worker(django_db_setup, tmp_path_factory):
    """A real ``celery -A config worker`` process on every queue, using the test database and the
    test broker. Tests that use it must be ``django_db(transaction=True)`` so the worker sees
    their rows. One worker per test, so that tests without one can rely on jobs staying queued."""
    from django.db import connection

    log = tmp_path_factory.mktemp("worker") / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "MODELYARD_TEST_DB_NAME": str(connection.settings_dict["NAME"]),
        "PYTHONUNBUFFERED": "1",
    }
    from config.celery import QUEUES, app

    app.control.purge()  # messages left by an earlier, interrupted run name rows that are gone
    cmd = [
        str(Path(sys.executable).parent / "celery"),
        "-A",
        "config",
        "worker",
        "-Q",
        ",".join(QUEUES),
        "--pool",
        "prefork",
        "--concurrency",
        "2",
        "--loglevel",
        "INFO",
        "--hostname",
        f"tests-{os.getpid()}@%h",
        "--without-mingle",
        "--without-gossip",
    ]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_worker(proc, log)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_for(predicate, timeout: float = 60, interval: float = 0.3):
    """Poll until ``predicate()`` returns something truthy; fail with a clear message otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


@pytest.fixture
def failed_validation_build(make_user, credit_frame):
    """dana's rule-based model held to an accuracy it cannot reach: a package whose validation failed."""
    from apps.packaging.services import package_build_enqueue, package_build_run
    from tests import model_zoo

    frame = model_zoo.training_frame(credit_frame)
    dana = make_user("dana", password="browser-pass-1")
    filename, content = model_zoo.python_source(frame)
    version = register_credit_version(
        dana,
        filename,
        content,
        frame,
        name="rule",
        holdout=io.BytesIO(model_zoo.reference_csv(frame.head(200))),
        holdout_filename="holdout.csv",
        thresholds={"accuracy": 0.99},
    )
    build = package_build_run(build=package_build_enqueue(version=version), step=lambda p, m: None)
    assert build.validation_passed is False and build.archive_sha256
    return build


@pytest.fixture
def packaged_version(make_user, credit_frame):
    """A factory: dana's credit model registered as a new version and packaged (validation passes)."""
    from apps.packaging.services import package_build_enqueue, package_build_run
    from tests import model_zoo

    frame = model_zoo.training_frame(credit_frame)
    dana = make_user("dana", password="browser-pass-1")

    def make(name="credit", seed=0):
        filename, content = model_zoo.sklearn_joblib(frame.sample(frac=1.0, random_state=seed))
        version = register_credit_version(dana, filename, content, frame, name=name)
        build = package_build_run(build=package_build_enqueue(version=version), step=lambda p, m: None)
        assert build.validation_passed, build.report
        return version

    return make


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The /metrics scraper's token of every inference service the tests start.
METRICS_TOKEN = "tests-metrics-scraper-token"
SCRAPER = {"Authorization": f"Bearer {METRICS_TOKEN}"}


@pytest.fixture
def start_inference_service(django_db_setup, tmp_path_factory, monkeypatch):
    """start(**environment) → the URL of a real ``manage.py inference`` (2 workers) reading its routes
    from the test database and logging to a prediction-log buffer of this test's own, which
    ``open_buffer()`` in the test then opens too. Routes refresh every half second; /metrics answers
    to SCRAPER. ``environment`` adds to (or, with None, removes from) the service's environment,
    e.g. MODELYARD_INFERENCE_REQUIRE_KEYS="true", or REDIS_URL=None for the spool and SQLite."""
    import uuid

    import requests
    from django.db import connection

    monkeypatch.setenv("MODELYARD_PREDICTION_LOG_PREFIX", f"modelyard-test-{uuid.uuid4().hex[:12]}:")
    monkeypatch.setenv("MODELYARD_SPOOL_DIR", str(tmp_path_factory.mktemp("spool")))
    started: list[subprocess.Popen] = []

    def start(**environment) -> str:
        port = free_port()
        output = tmp_path_factory.mktemp("inference") / "server.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "MODELYARD_TEST_DB_NAME": str(connection.settings_dict["NAME"]),
            "MODELYARD_METRICS_TOKEN": METRICS_TOKEN,
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        for name, value in environment.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        command = [sys.executable, "manage.py", "inference", "--bind", f"127.0.0.1:{port}"]
        command += ["--workers", "2", "--refresh-seconds", "0.5"]
        with open(output, "w") as out:
            proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        started.append(proc)
        url = f"http://127.0.0.1:{port}"

        def answering():
            if proc.poll() is not None:
                raise AssertionError(f"the inference service exited:\n{output.read_text()[-3000:]}")
            try:
                return requests.get(f"{url}/health", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        wait_for(answering, timeout=60)
        return url

    try:
        yield start
    finally:
        for proc in started:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        _forget_redis_keys(os.environ["MODELYARD_PREDICTION_LOG_PREFIX"])


def _forget_redis_keys(prefix: str) -> None:
    """The test's prediction-log stream and claimed request ids, left in Redis otherwise."""
    from django.conf import settings

    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        for name in client.scan_iter(f"{prefix}*", count=1000):
            client.delete(name)


@pytest.fixture
def inference_service(start_inference_service):
    """The URL of a real inference service on the configured buffer (see start_inference_service);
    consumer keys are checked when sent, as on the embedded default."""
    return start_inference_service()
