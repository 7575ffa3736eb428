"""A full credit-default model (every column of ../shared/data/credit) live behind ``credit-risk``
in staging, realistic prediction-log records for it (clean, or with a planted drift: Income up by
half and a different Home mix), and a local webhook receiver."""

import io
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import joblib
import numpy as np
import pandas as pd
import pytest
from django.contrib.auth import get_user_model

from apps.demo.training import CREDIT_CATEGORICAL, CREDIT_NUMERIC
from apps.deployments.models import Deployment
from apps.deployments.services import deployment_request, deployment_rollout_run
from apps.monitoring.models import NotificationChannel
from apps.monitoring.references import reference_profile_build
from apps.monitoring.runs import check_run_enqueue, check_run_execute
from apps.monitoring.services import monitor_for_live_deployment
from apps.monitoring.windows import windows_profile_deployment
from apps.packaging.services import package_build_enqueue, package_build_run
from apps.registry.services import Registration, version_register
from apps.serving.ingest import ingest_batch

FEATURES = CREDIT_NUMERIC + CREDIT_CATEGORICAL
PLANTED = {"Income", "Home"}
# Two whole hours in the past, so "now" never cuts a test window in two.
HOUR0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
HOUR1 = HOUR0 + timedelta(hours=1)


@pytest.fixture(scope="session")
def split(credit_frame):
    """The reference (1,500 rows) and the rows live traffic is drawn from (the rest, shuffled: the
    file is not in random order): disjoint."""
    reference = credit_frame.sample(1500, random_state=11)
    rest = credit_frame.drop(reference.index).sample(frac=1.0, random_state=12)
    return reference.reset_index(drop=True), rest.reset_index(drop=True)


@pytest.fixture(scope="session")
def credit_model(credit_model_bytes):
    """The test's own model (trained in tests/conftest.py), to give the log realistic outputs."""
    return joblib.load(io.BytesIO(credit_model_bytes))


def register_and_deploy(user, *, model_bytes: bytes, reference: pd.DataFrame, endpoint="credit-risk"):
    version = version_register(
        user=user,
        reg=Registration(
            model_name="credit-default",
            task_type="binary_classification",
            artifact=io.BytesIO(model_bytes),
            artifact_filename="model.joblib",
            reference=io.BytesIO(reference.to_csv(index=False).encode()),
            reference_filename="train.csv",
            target="Status",
        ),
    )
    build = package_build_run(build=package_build_enqueue(version=version), step=lambda p, m: None)
    assert build.status == "succeeded", build.error
    deployment = deployment_request(user=user, version=version, endpoint=endpoint, environment="staging")
    deployment_rollout_run(deployment=Deployment.objects.get(pk=deployment.pk), step=lambda p, m: None)
    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.LIVE
    return deployment


@pytest.fixture
def dana(make_user):
    user = make_user("dana")
    user.email = "dana@example.com"
    user.save(update_fields=["email"])
    return user


@pytest.fixture
def deployed(dana, credit_model_bytes, split):
    """dana's credit model live in staging (in-process rollout)."""
    return register_and_deploy(dana, model_bytes=credit_model_bytes, reference=split[0])


def drifted(rows: pd.DataFrame, seed: int = 3) -> pd.DataFrame:
    """Income up by half; a third of the applicants switched to living with their parents."""
    out = rows.copy()
    out["Income"] = out["Income"] * 1.5
    rng = np.random.default_rng(seed)
    out.loc[rng.random(len(out)) < 0.35, "Home"] = "parents"
    return out


def _plain(value):
    if isinstance(value, float) and np.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def log_records(model, deployment, rows: pd.DataFrame, hour: datetime) -> list[dict]:
    """What the inference service appends for each scored row, spread over ``hour``."""
    frame = rows[FEATURES].reset_index(drop=True)
    predictions = model.predict(frame)
    probabilities = model.predict_proba(frame)
    step = timedelta(seconds=3599 / max(len(frame), 1))
    request = uuid.uuid4().hex[:12]
    return [
        {
            "request_id": f"{request}-{i}",
            "row": 0,
            "endpoint": deployment.endpoint.name,
            "environment": deployment.endpoint.environment.name,
            "deployment_id": deployment.pk,
            "version_id": deployment.version_id,
            "role": deployment.role,
            "inputs": {k: _plain(v) for k, v in frame.iloc[i].items()},
            "prediction": str(predictions[i]),
            "probabilities": [float(p) for p in probabilities[i]],
            "latency_ms": 2.0,
            "ts": (hour + step * i).isoformat(),
        }
        for i in range(len(frame))
    ]


class Webhook:
    """A tiny HTTP server on 127.0.0.1 that answers 500 to its first ``fail_first`` POSTs."""

    def __init__(self, fail_first: int = 0):
        self.bodies: list[dict] = []
        self.statuses: list[int] = []
        self.fail_first = fail_first
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = 500 if len(hook.statuses) < hook.fail_first else 200
                hook.statuses.append(status)
                if status == 200:
                    hook.bodies.append(body)
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook():
    hook = Webhook(fail_first=1)
    yield hook
    hook.close()


def other_user(username):
    return get_user_model().objects.get(username=username)


@pytest.fixture
def monitored(deployed, credit_model, split, dana):
    """The deployment's monitor with its reference profile, a channel for dana's team and two
    hours of traffic profiled: HOUR0 like the reference, HOUR1 with the planted drift."""
    monitor = monitor_for_live_deployment(deployment=deployed)
    assert monitor.template.task_type == "binary_classification"
    assert monitor.config["slices"] == [["score bracket", "age"]]
    reference = reference_profile_build(version=deployed.version)
    assert reference.status == "ready" and {"__prediction__", "__score__"} <= set(
        reference.profile["features"]
    )
    NotificationChannel.objects.create(
        team=deployed.version.model.team,
        name="oncall",
        emails=["credit-oncall@example.com"],
        webhook_url="http://127.0.0.1:9/unused",
    )
    live = split[1]
    monitor.hour0_records = log_records(credit_model, deployed, live.iloc[:1200], HOUR0)
    ingest_batch(monitor.hour0_records)
    ingest_batch(log_records(credit_model, deployed, drifted(live.iloc[1200:2400]), HOUR1))
    assert windows_profile_deployment(deployment=deployed, settle=0) == 2400
    return monitor


def run(monitor, hour, window="hour"):
    queued = check_run_enqueue(monitor=monitor, window=window, end=hour + timedelta(hours=1))
    return check_run_execute(run=queued)
