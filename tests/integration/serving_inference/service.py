"""A real ``manage.py inference`` (two workers) over sockets, for the tests that drive it as clients
do: routes from routes.json and a JSON-lines prediction log in a folder of the test's own (see
fixtures.py), and a scikit-learn model of six numeric features behind endpoint "risk"."""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import requests

from tests.conftest import METRICS_TOKEN, free_port
from tests.integration.serving_inference.fixtures import FOLDER_VARIABLE, write_routes

ROOT = Path(__file__).resolve().parents[3]
FEATURES = [f"x{i}" for i in range(6)]
SCHEMA = {"features": [{"name": name, "type": "number", "nullable": False} for name in FEATURES]}


@dataclass
class Service:
    url: str
    host: str
    port: int
    folder: Path
    model: object
    output: Path
    process: subprocess.Popen


def records(count: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [
        dict(zip(FEATURES, map(float, row), strict=True)) for row in rng.normal(size=(count, len(FEATURES)))
    ]


def route(endpoint: str, path: Path, deployment_id: int = 1) -> dict:
    arm = {
        "deployment_id": deployment_id,
        "version_id": 100 + deployment_id,
        "model_name": "risk",
        "version_number": 1,
        "role": "primary",
        "percent": 0.0,
        "artifact_path": str(path),
        "format": "joblib",
        "mlflow_root": "",
        "trusted_types": [],
        "input_schema": SCHEMA,
        "output_schema": {},
    }
    return {"environment": "production", "endpoint": endpoint, "arms": [arm]}


def _wait_for_health(url: str, proc: subprocess.Popen, output: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the inference server exited early:\n{output.read_text()[-3000:]}")
        try:
            answer = requests.get(url + "/health", timeout=2)
            if answer.status_code == 200 and answer.json()["routes"] == 1:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the inference server did not become healthy:\n{output.read_text()[-3000:]}")


def wait_for_models(service: Service, workers: int = 2, timeout: float = 60) -> None:
    """Until every worker has loaded its model (each loads it in the background once routes arrive):
    a test that times answers then measures the service, not its start."""
    ready: set[str] = set()
    deadline = time.monotonic() + timeout
    while len(ready) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only workers {ready} loaded their model within {timeout}s")
        answer = requests.get(service.url + "/health", timeout=5, headers={"Connection": "close"})
        if answer.json()["models_loaded"] >= 1:
            ready.add(answer.headers["X-Served-By"])
        time.sleep(0.05)


@contextmanager
def running_service(folder: Path, *options: str) -> Iterator[Service]:
    """The service on a free port, serving endpoint "risk"; ``options`` go to ``manage.py inference``."""
    from sklearn.linear_model import LogisticRegression

    train = pd.DataFrame(records(300, seed=0))
    labels = (train["x0"] + train["x1"] - train["x2"] > 0).astype(int)
    model = LogisticRegression().fit(train, labels)
    joblib.dump(model, folder / "risk.joblib")
    write_routes(folder, [route("risk", folder / "risk.joblib")])

    port = free_port()
    output = folder / "server.log"
    env = {
        **os.environ,
        FOLDER_VARIABLE: str(folder),
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "PYTHONUNBUFFERED": "1",
        "MODELYARD_METRICS_TOKEN": METRICS_TOKEN,
        # Client request ids are claimed under this prefix (Redis) or in this folder (SQLite).
        "MODELYARD_PREDICTION_LOG_PREFIX": f"modelyard-test-{uuid.uuid4().hex[:12]}:",
        "MODELYARD_SPOOL_DIR": str(folder / "spool"),
    }
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
        "4",
        "--refresh-seconds",
        "0.5",
        "--routes-module",
        "tests.integration.serving_inference.fixtures:routes",
        "--log-module",
        "tests.integration.serving_inference.fixtures:log_to_file",
        *options,
    ]
    with open(output, "w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for_health(url, proc, output)
        yield Service(url, "127.0.0.1", port, folder, model, output, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
