"""The deployments page compares a live shadow with the answers given to the same requests."""

import datetime

import pytest

from apps.accounts.roles import Role
from apps.deployments.comparison import shadow_agreement
from apps.deployments.models import Deployment
from apps.deployments.services import deployment_request, deployment_rollout_run
from apps.serving.ingest import ingest_batch

pytestmark = pytest.mark.django_db


def _row(deployment, request_id, prediction, probabilities):
    return {
        "kind": "prediction",
        "request_id": request_id,
        "row": 0,
        "endpoint": deployment.endpoint.name,
        "environment": deployment.endpoint.environment.name,
        "deployment_id": deployment.pk,
        "version_id": deployment.version_id,
        "role": deployment.role,
        "inputs": {},
        "prediction": prediction,
        "probabilities": probabilities,
        "latency_ms": 1.0,
        "ts": datetime.datetime.now(datetime.UTC).isoformat(),
    }


def test_shadow_agreement_on_the_page(packaged_version, make_user, client):
    v1, v2 = packaged_version(seed=1), packaged_version(seed=2)
    dana = make_user("dana")
    step = lambda p, m: None  # noqa: E731
    primary = deployment_request(user=dana, version=v1, endpoint="credit-risk")
    deployment_rollout_run(deployment=primary, step=step)
    shadow = deployment_request(user=dana, version=v2, endpoint="credit-risk", strategy="shadow")
    deployment_rollout_run(deployment=shadow, step=step)
    primary.refresh_from_db(), shadow.refresh_from_db()
    assert shadow.status == Deployment.Status.LIVE

    answers = [("good", [0.2, 0.8]), ("good", [0.4, 0.6]), ("bad", [0.7, 0.3]), ("good", [0.1, 0.9])]
    copies = [("good", [0.3, 0.7]), ("bad", [0.6, 0.4]), ("bad", [0.7, 0.3]), ("good", [0.1, 0.9])]
    ingest_batch([_row(primary, f"r{i}", *a) for i, a in enumerate(answers)])
    # One more shadow answer whose request the primary never logged: not compared.
    ingest_batch([_row(shadow, f"r{i}", *c) for i, c in enumerate(copies)] + [_row(shadow, "x", "bad", None)])

    result = shadow_agreement(shadow)
    assert (result.compared, result.agreeing) == (4, 3)
    assert result.mean_probability_shift == pytest.approx((0.1 + 0.2 + 0 + 0) / 4)

    make_user("ivan", Role.IT_OPERATOR, team=None)
    client.force_login(dana)
    page = client.get("/deployments/").content.decode()
    assert "agrees with the answers on 75% of 4 compared" in page
