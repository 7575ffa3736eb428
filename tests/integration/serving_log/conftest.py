"""Each test gets its own prediction-log buffer (a Redis stream under its own key prefix, or a
spool folder) through the environment, which a Celery worker started by the test inherits."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from apps.serving import logbuffer


@pytest.fixture(autouse=True)
def buffer(monkeypatch, tmp_path):
    monkeypatch.setenv("MODELYARD_PREDICTION_LOG_PREFIX", f"modelyard-test-{uuid.uuid4().hex[:12]}:")
    monkeypatch.setenv("MODELYARD_SPOOL_DIR", str(tmp_path / "spool"))
    opened = logbuffer.open_buffer()
    yield opened
    for key, other in list(logbuffer._opened.items()):
        if repr(other) == repr(opened):
            del logbuffer._opened[key]
    if isinstance(opened, logbuffer.RedisStreamBuffer):
        opened._redis.delete(opened.key)
    else:
        opened.close()


START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def records(
    count: int,
    *,
    prefix: str = "req",
    start: int = 0,
    deployment_id: int = 1,
    endpoint: str = "credit",
    environment: str = "production",
) -> list[dict]:
    """Prediction records as the inference service logs them: one per row, 20 features."""
    return [
        {
            "request_id": f"{prefix}-{i}",
            "row": 0,
            "endpoint": endpoint,
            "environment": environment,
            "deployment_id": deployment_id,
            "version_id": 3,
            "role": "primary",
            "inputs": {f"f{j}": i * 0.5 + j for j in range(20)} | {"customer": f"c{i}"},
            "prediction": i % 2,
            "probabilities": [0.25, 0.75],
            "latency_ms": 1.5,
            "ts": (START + timedelta(milliseconds=i)).isoformat(),
            "batch": False,
        }
        for i in range(start, start + count)
    ]


def deployed(team, endpoint: str, environment: str = "production"):
    """A live deployment of a new model of ``team`` on ``team``'s endpoint ``endpoint`` in
    ``environment`` (created when missing): database rows only, what outcomes are matched through."""
    from apps.deployments.models import Deployment, Endpoint, Environment
    from apps.packaging.models import PackageBuild
    from apps.registry.models import ModelVersion, RegisteredModel

    env = Environment.objects.get(name=environment)
    target, _ = Endpoint.objects.get_or_create(environment=env, name=endpoint, defaults={"team": team})
    model = RegisteredModel.objects.create(
        team=team, name=f"{endpoint}-{environment}-{uuid.uuid4().hex[:6]}", task_type="binary_classification"
    )
    version = ModelVersion.objects.create(
        model=model,
        number=1,
        artifact="artifacts/model.joblib",
        artifact_filename="model.joblib",
        artifact_sha256=uuid.uuid4().hex * 2,
        artifact_size=1000,
        framework="sklearn",
        format="joblib",
        safe_format=False,
        input_schema={"features": [{"name": "customer", "type": "categorical"}]},
        output_schema={"outputs": [{"name": "prediction"}]},
    )
    package = PackageBuild.objects.create(
        version=version, inputs_digest=uuid.uuid4().hex, status=PackageBuild.Status.SUCCEEDED
    )
    return Deployment.objects.create(
        endpoint=target,
        version=version,
        package=package,
        strategy="direct",
        role="primary",
        status=Deployment.Status.LIVE,
        live_at=START,
    )
