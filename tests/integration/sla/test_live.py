"""``manage.py inference`` as a real server with the real prediction log: after N requests the
drained rollups count N, split over both workers' flushes, and a worker's last counts are flushed
as it exits."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import requests

from apps.serving import logbuffer
from apps.serving.ingest import drain
from apps.sla import stats
from apps.sla.models import SlaRollup, WorkerSample
from tests.conftest import free_port
from tests.integration.serving_inference.fixtures import FOLDER_VARIABLE, write_routes

ROOT = Path(__file__).resolve().parents[3]
FEATURES = [f"x{i}" for i in range(4)]

pytestmark = pytest.mark.django_db


def _records(count: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [
        dict(zip(FEATURES, map(float, row), strict=True)) for row in rng.normal(size=(count, len(FEATURES)))
    ]


@pytest.fixture
def log_location(monkeypatch, tmp_path):
    """A prediction log of this test's own (Redis key prefix or spool folder), for server and test."""
    monkeypatch.setenv("MODELYARD_PREDICTION_LOG_PREFIX", f"modelyard-test-{uuid.uuid4().hex[:12]}:")
    monkeypatch.setenv("MODELYARD_SPOOL_DIR", str(tmp_path / "spool"))
    buffer = logbuffer.open_buffer()
    yield buffer
    for key, other in list(logbuffer._opened.items()):
        if other is buffer:
            del logbuffer._opened[key]
    if isinstance(buffer, logbuffer.RedisStreamBuffer):
        buffer._redis.delete(buffer.key)


def _start(folder: Path) -> tuple[subprocess.Popen, str, Path]:
    from sklearn.linear_model import LogisticRegression

    train = pd.DataFrame(_records(200, seed=0))
    joblib.dump(LogisticRegression().fit(train, (train["x0"] > 0).astype(int)), folder / "m.joblib")
    arm = {
        "deployment_id": 1,
        "version_id": 11,
        "model_name": "m",
        "version_number": 3,
        "role": "primary",
        "percent": 0.0,
        "artifact_path": str(folder / "m.joblib"),
        "format": "joblib",
        "input_schema": {"features": [{"name": f, "type": "number", "nullable": False} for f in FEATURES]},
    }
    write_routes(folder, [{"environment": "production", "endpoint": "risk", "arms": [arm]}])
    port, output = free_port(), folder / "server.log"
    env = {**os.environ, FOLDER_VARIABLE: str(folder), "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [
        sys.executable,
        "manage.py",
        "inference",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--threads",
        "2",
        "--refresh-seconds",
        "0.5",
        "--sla-flush-seconds",
        "1.5",
        "--routes-module",
        "tests.integration.serving_inference.fixtures:routes",
    ]
    with open(output, "w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the inference server exited early:\n{output.read_text()[-3000:]}")
        try:
            if requests.get(url + "/health", timeout=2).status_code == 200:
                return proc, url, output
        except requests.RequestException:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"the inference server did not become healthy:\n{output.read_text()[-3000:]}")


def _send(url: str, good: int, bad: int, broken: int, seed: int) -> None:
    """``good`` answered requests (some with several rows), ``bad`` 422s and ``broken`` 400s, each on
    a fresh connection so that both workers get some."""
    for i in range(good):
        answer = requests.post(
            f"{url}/v1/endpoints/risk/predict", json={"records": _records(1 + i % 3, seed + i)}, timeout=10
        )
        assert answer.status_code == 200, answer.text
    for i in range(bad):
        record = {**_records(1, seed + 1000 + i)[0], "x1": "not a number"}
        assert (
            requests.post(
                f"{url}/v1/endpoints/risk/predict", json={"records": [record]}, timeout=10
            ).status_code
            == 422
        )
    for _ in range(broken):
        answer = requests.post(f"{url}/v1/endpoints/risk/predict", data=b"{not json", timeout=10)
        assert answer.status_code == 400


def _drained_totals(buffer) -> tuple[int, int, int]:
    drain(buffer)
    rows = SlaRollup.objects.filter(endpoint="risk", environment="production")
    return (
        sum(r.count for r in rows),
        sum(r.client_errors for r in rows),
        sum(sum(r.buckets) for r in rows),
    )


def test_requests_become_rollups_counted_once_and_the_last_ones_flush_at_exit(log_location, tmp_path):
    proc, url, output = _start(tmp_path)
    try:
        _send(url, good=40, bad=5, broken=3, seed=1)
        deadline = time.monotonic() + 30
        while _drained_totals(log_location)[0] < 48 and time.monotonic() < deadline:
            time.sleep(0.5)
        count, client_errors, observed = _drained_totals(log_location)
        assert (count, client_errors) == (48, 8)
        assert observed == 45  # a request refused before parsing (400) has no model latency
        assert (
            SlaRollup.objects.filter(endpoint="risk")
            .values_list("version_number", flat=True)
            .distinct()
            .count()
            >= 1
        )
        assert set(SlaRollup.objects.filter(endpoint="risk").values_list("version_number", flat=True)) <= {
            0,
            3,
        }
        rows = list(SlaRollup.objects.filter(endpoint="risk", version_number=3))
        p99 = stats.percentile(stats.merge(*(r.buckets for r in rows)), 99)
        assert 0 < p99 < 1000
        assert WorkerSample.objects.values("pid").distinct().count() == 2  # both workers sampled

        _send(url, good=10, bad=0, broken=0, seed=500)
    finally:
        proc.terminate()  # at once: these ten are still in the workers' memory
        proc.wait(timeout=30)
    # A spool segment of a writer that is gone is read once it has been idle for a moment.
    deadline = time.monotonic() + 20
    while _drained_totals(log_location)[0] < 58 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _drained_totals(log_location)[0] == 58, output.read_text()[-3000:]
    assert _drained_totals(log_location)[0] == 58  # a second drain adds nothing
