"""Who may use the inference service, against a real ``manage.py inference`` reading its routes and
keys from the test database: consumer keys per endpoint (created, listed and revoked by the team
and IT, audited, refused after a refresh once revoked), request ids unique per endpoint on Redis
and on the spool, and /metrics for the scraper's token only."""

import os
import threading
from pathlib import Path

import pytest
import requests
from django.contrib.auth import get_user_model

from apps.accounts.roles import Role
from apps.core.models import AuditEvent
from apps.deployments.models import Deployment
from apps.deployments.services import deployment_request, deployment_rollout_run
from apps.serving.ingest import drain
from apps.serving.logbuffer import SpoolBuffer, open_buffer
from apps.serving.models import Prediction
from tests import model_zoo
from tests.conftest import SCRAPER, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def endpoints(packaged_version):
    """dana's credit model live behind two staging endpoints of her team: credit-risk and loans."""
    version = packaged_version()
    dana = get_user_model().objects.get(username="dana")
    live = {}
    for name in ("credit-risk", "loans"):
        deployment = deployment_request(user=dana, version=version, endpoint=name, environment="staging")
        deployment_rollout_run(deployment=Deployment.objects.get(pk=deployment.pk), step=lambda p, m: None)
        live[name] = Deployment.objects.select_related("endpoint").get(pk=deployment.pk).endpoint
    return live


@pytest.fixture
def record(credit_frame) -> dict:
    row = model_zoo.training_frame(credit_frame).iloc[0]
    return {name: row[name].item() for name in model_zoo.FEATURES}


def _predict(url, endpoint, record, *, key=None, request_id=None):
    headers = {}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    if request_id is not None:
        headers["X-Request-ID"] = request_id
    return requests.post(
        f"{url}/v1/endpoints/{endpoint}/predict?environment=staging",
        json={"records": [record]},
        headers=headers,
        timeout=30,
    )


def _served(url, endpoint, record, key=None) -> bool:
    """True once both workers answer with ``key``: each refreshes its routes and keys every half
    second on its own, so six requests on new connections in a row."""
    return all(_predict(url, endpoint, record, key=key).status_code == 200 for _ in range(6))


def _stored(buffer, request_id: str) -> list[Prediction]:
    drain(buffer, max_batches=None)
    return list(Prediction.objects.filter(request_id=request_id))


def test_keys_are_required_and_checked_per_endpoint_and_a_revoked_key_is_refused_after_a_refresh(
    endpoints, record, make_user, api_for, start_inference_service
):
    url = start_inference_service(MODELYARD_INFERENCE_REQUIRE_KEYS="true")
    dana = api_for(get_user_model().objects.get(username="dana"))
    created = dana.post(f"/api/v1/endpoints/{endpoints['credit-risk'].pk}/keys/", {"name": "origination"})
    assert created.status_code == 201, created.content
    key = created.json()["key"]
    other_key = dana.post(f"/api/v1/endpoints/{endpoints['loans'].pk}/keys/", {"name": "loans app"}).json()[
        "key"
    ]
    wait_for(
        lambda: _served(url, "credit-risk", record, key) and _served(url, "loans", record, other_key), 30
    )

    missing = _predict(url, "credit-risk", record)
    assert missing.status_code == 401
    assert "needs a consumer key" in missing.json()["detail"]
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")

    refused = [
        _predict(url, "credit-risk", record, key="myk_" + "x" * 43),  # wrong
        _predict(url, "credit-risk", record, key=other_key),  # loans' key on credit-risk
        _predict(url, "no-such-endpoint", record, key=key),  # an endpoint that does not exist
        _predict(url, "no-such-endpoint", record, key=other_key),
    ]
    assert [r.status_code for r in refused] == [401] * 4
    assert len({r.json()["detail"] for r in refused}) == 1  # nothing tells the cases apart
    assert _predict(url, "no-such-endpoint", record).json()["detail"] == missing.json()["detail"]

    answered = _predict(url, "credit-risk", record, key=key, request_id="keyed-1")
    assert answered.status_code == 200, answered.text
    assert _predict(url, "loans", record, key=other_key).status_code == 200
    stored = wait_for(lambda: _stored(open_buffer(), "keyed-1"), timeout=20)
    assert [(p.endpoint, p.prediction) for p in stored] == [
        ("credit-risk", answered.json()["predictions"][0])
    ]

    key_id = created.json()["id"]
    revoked = dana.post(f"/api/v1/endpoints/{endpoints['credit-risk'].pk}/keys/{key_id}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    # Each worker refuses it from its next refresh (every half second here): six in a row on new
    # connections, so both workers.
    wait_for(
        lambda: all(_predict(url, "credit-risk", record, key=key).status_code == 401 for _ in range(6)), 10
    )
    assert _predict(url, "loans", record, key=other_key).status_code == 200


def test_the_team_and_it_manage_keys_other_teams_get_404_and_every_change_is_audited(
    endpoints, make_user, api_for
):
    from apps.deployments.models import EndpointKey
    from apps.serving.inference.keys import hash_key

    endpoint = endpoints["credit-risk"]
    dana = api_for(get_user_model().objects.get(username="dana"))
    created = dana.post(f"/api/v1/endpoints/{endpoint.pk}/keys/", {"name": "origination"})
    assert created.status_code == 201
    assert created["Cache-Control"] == "no-store"
    body = created.json()
    assert body["key"].startswith("myk_") and body["prefix"] == body["key"][:10]
    stored = EndpointKey.objects.get(pk=body["id"])
    assert stored.key_hash == hash_key(body["key"]) and body["key"] not in str(stored.__dict__)

    listed = dana.get(f"/api/v1/endpoints/{endpoint.pk}/keys/")
    assert listed.status_code == 200
    assert [k["id"] for k in listed.json()] == [body["id"]] and "key" not in listed.json()[0]

    mark = api_for(make_user("mark", team="Customer Insights"))
    for answer in (
        mark.get(f"/api/v1/endpoints/{endpoint.pk}/keys/"),
        mark.post(f"/api/v1/endpoints/{endpoint.pk}/keys/", {"name": "stolen"}),
        mark.post(f"/api/v1/endpoints/{endpoint.pk}/keys/{body['id']}/revoke/"),
    ):
        assert answer.status_code == 404
        assert "credit-risk" not in answer.content.decode()
    ivan = api_for(make_user("ivan", Role.IT_OPERATOR, team=None))
    by_it = ivan.post(f"/api/v1/endpoints/{endpoint.pk}/keys/", {"name": "it-probe"})
    assert by_it.status_code == 201
    assert ivan.post(f"/api/v1/endpoints/{endpoint.pk}/keys/", {"name": " "}).status_code == 400
    revoked = ivan.post(f"/api/v1/endpoints/{endpoint.pk}/keys/{body['id']}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["revoked_by"] == "ivan"
    again = ivan.post(f"/api/v1/endpoints/{endpoint.pk}/keys/{body['id']}/revoke/")
    assert again.status_code == 400 and "already revoked" in again.json()["detail"]
    assert EndpointKey.objects.filter(endpoint=endpoint).count() == 2  # mark created nothing

    events = AuditEvent.objects.filter(object_type="endpointkey").order_by("id")
    assert [(e.action, e.actor.username, e.details["name"]) for e in events] == [
        ("endpoint_key.created", "dana", "origination"),
        ("endpoint_key.created", "ivan", "it-probe"),
        ("endpoint_key.revoked", "ivan", "origination"),
    ]
    assert all(e.team_id == endpoint.team_id for e in events)
    assert body["key"] not in str([e.details for e in events])


def _reuse(url, record, request_id, *, concurrent: int) -> list[requests.Response]:
    """The same X-Request-ID sent ``concurrent`` times at once, each on a connection of its own
    (so both workers get some), then once more."""
    answers: list[requests.Response] = []
    gate = threading.Barrier(concurrent)

    def send():
        gate.wait()
        answers.append(_predict(url, "credit-risk", record, request_id=request_id))

    threads = [threading.Thread(target=send) for _ in range(concurrent)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [*answers, _predict(url, "credit-risk", record, request_id=request_id)]


@pytest.mark.parametrize("buffer", ["redis", "spool"])
def test_a_reused_request_id_is_409_and_the_one_answered_prediction_is_stored(
    buffer, endpoints, record, start_inference_service
):
    if buffer == "redis" and not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL")
    url = start_inference_service(**({} if buffer == "redis" else {"REDIS_URL": None}))
    log = open_buffer() if buffer == "redis" else SpoolBuffer(Path(os.environ["MODELYARD_SPOOL_DIR"]))
    wait_for(lambda: _served(url, "credit-risk", record) and _served(url, "loans", record), timeout=30)
    generated = _predict(url, "credit-risk", record).json()["request_id"]

    answers = _reuse(url, record, "order-42", concurrent=6)
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [409] * 6, statuses
    conflict = next(a for a in answers if a.status_code == 409)
    assert conflict.json()["detail"].startswith("request id 'order-42' was already used on endpoint")
    assert conflict.json()["request_id"] == "order-42"
    answered = next(a for a in answers if a.status_code == 200).json()

    # Unique per endpoint: the same id on another endpoint is a request of its own.
    assert _predict(url, "loans", record, request_id="order-42").status_code == 200
    # A refused request keeps no claim: its id can be sent again.
    bad = _predict(url, "credit-risk", {**record, "Age": "old"}, request_id="order-43")
    assert bad.status_code == 422
    assert _predict(url, "credit-risk", record, request_id="order-43").status_code == 200
    # The service's own ids and batch jobs' ids are not the client's to take.
    for reserved in (generated, "batch-7"):
        answer = _predict(url, "credit-risk", record, request_id=reserved)
        assert answer.status_code == 400 and "Modelyard's own" in answer.json()["detail"]

    stored = wait_for(lambda: len(rows := _stored(log, "order-42")) == 2 and rows, timeout=20)
    assert sorted(p.endpoint for p in stored) == ["credit-risk", "loans"]
    mine = next(p for p in stored if p.endpoint == "credit-risk")
    assert (mine.deployment_id, mine.prediction) == (answered["deployment"], answered["predictions"][0])
    assert len(_stored(log, "order-43")) == 1


def test_metrics_are_served_to_the_scraper_token_only(endpoints, record, start_inference_service):
    url = start_inference_service()
    wait_for(lambda: _served(url, "credit-risk", record), timeout=30)

    anonymous = requests.get(f"{url}/metrics", timeout=5)
    assert anonymous.status_code == 401
    assert "scraper's token" in anonymous.json()["detail"]
    assert "credit-risk" not in anonymous.text
    wrong = requests.get(f"{url}/metrics", headers={"Authorization": "Bearer guess"}, timeout=5)
    assert wrong.status_code == 401 and "credit-risk" not in wrong.text
    scraped = requests.get(f"{url}/metrics", headers=SCRAPER, timeout=5)
    assert scraped.status_code == 200
    assert 'endpoint="credit-risk"' in scraped.text


def test_without_a_scraper_token_metrics_are_off(endpoints, record, start_inference_service):
    url = start_inference_service(MODELYARD_METRICS_TOKEN=None)
    wait_for(lambda: _served(url, "credit-risk", record), timeout=30)
    for headers in ({}, SCRAPER):
        answer = requests.get(f"{url}/metrics", headers=headers, timeout=5)
        assert answer.status_code == 403
        assert "MODELYARD_METRICS_TOKEN" in answer.json()["detail"]
        assert "credit-risk" not in answer.text
