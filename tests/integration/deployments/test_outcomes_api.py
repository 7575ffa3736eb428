"""Outcomes arrive later: joined by request id (or business key) within one endpoint and environment
of the caller's team; unknown ids are reported back; only the model's team and IT write them, and
every write is audited."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.accounts.roles import Role
from apps.core.models import AuditEvent
from apps.registry.models import RegisteredModel
from apps.serving.ingest import ingest_batch
from apps.serving.models import Outcome
from tests.integration.serving_log.conftest import deployed

pytestmark = pytest.mark.django_db


def prediction_records(deployment, prefix="req", count=5) -> list[dict]:
    return [
        {
            "kind": "prediction",
            "request_id": f"{prefix}-{i}",
            "row": 0,
            "endpoint": deployment.endpoint.name,
            "environment": deployment.endpoint.environment.name,
            "deployment_id": deployment.pk,
            "version_id": deployment.version_id,
            "role": "primary",
            "inputs": {"customer": f"C{i}", "Age": 30 + i},
            "prediction": "good",
            "probabilities": [0.3, 0.7],
            "latency_ms": 1.2,
            "ts": timezone.now().isoformat(),
            "batch": False,
        }
        for i in range(count)
    ]


@pytest.fixture
def logged(make_user):
    """dana's credit-risk in production, sponsored by bea, with five logged predictions."""
    dana = make_user("dana")
    deployment = deployed(dana.teams.get(), "credit-risk")
    bea = make_user("bea", Role.BUSINESS_OWNER, team=None)
    RegisteredModel.objects.filter(pk=deployment.version.model_id).update(business_owner=bea)
    assert ingest_batch(prediction_records(deployment)) == 5
    return dana


def test_json_outcomes_by_request_id_and_business_key(logged, api_for):
    api = api_for(logged)
    answer = api.post(
        "/api/v1/outcomes/",
        {
            "endpoint": "credit-risk",
            "outcomes": [{"request_id": "req-1", "value": "bad"}, {"request_id": "nope", "value": "good"}],
        },
        format="json",
    ).json()
    assert answer == {"accepted": 1, "overwritten": 0, "unknown": ["nope"], "unknown_count": 1}
    by_key = api.post(
        "/api/v1/outcomes/",
        {
            "endpoint": "credit-risk",
            "key_field": "customer",
            "outcomes": [{"business_key": "C3", "value": "bad"}],
        },
        format="json",
    ).json()
    assert by_key["accepted"] == 1
    assert Outcome.objects.count() == 2


def test_csv_outcomes_and_bad_input(logged, api_for, make_user):
    api = api_for(logged)
    upload = io.BytesIO(b"request_id,value\nreq-0,good\nreq-4,bad\nreq-99,bad\n")
    upload.name = "outcomes.csv"
    answer = api.post(
        "/api/v1/outcomes/", {"endpoint": "credit-risk", "file": upload}, format="multipart"
    ).json()
    assert answer["accepted"] == 2 and answer["unknown"] == ["req-99"]
    bad = io.BytesIO(b"id,label\n1,2\n")
    bad.name = "bad.csv"
    response = api.post("/api/v1/outcomes/", {"endpoint": "credit-risk", "file": bad}, format="multipart")
    assert response.status_code == 400 and "value column" in response.json()["file"][0]
    assert api.post("/api/v1/outcomes/", {"endpoint": "credit-risk"}, format="json").status_code == 400
    missing = api.post(
        "/api/v1/outcomes/", {"endpoint": "credit-risk", "outcomes": [{"value": 1}]}, format="json"
    )
    assert missing.status_code == 400 and "request_id or a business_key" in missing.json()["outcomes"][0]
    mark = api_for(make_user("mark", team="Customer Insights"))
    other = mark.post(
        "/api/v1/outcomes/",
        {"endpoint": "credit-risk", "outcomes": [{"request_id": "req-0", "value": 1}]},
        format="json",
    )
    assert other.status_code == 400
    assert other.json()["endpoint"] == ["no endpoint you can send outcomes for: 'credit-risk' in production"]


def test_outcomes_csv_from_the_deployments_page(logged, client):
    client.force_login(logged)
    page = client.get("/deployments/").content.decode()
    assert 'data-testid="outcomes-form"' in page
    upload = io.BytesIO(b"request_id,value\nreq-1,bad\nreq-77,good\n")
    upload.name = "outcomes.csv"
    answer = client.post(
        "/deployments/outcomes/", {"endpoint": "credit-risk", "file": upload}, follow=True
    ).content.decode()
    assert "1 outcomes stored. 1 matched no logged prediction: req-77" in answer
    again = io.BytesIO(b"request_id,value\nreq-1,good\n")
    again.name = "again.csv"
    replaced = client.post(
        "/deployments/outcomes/",
        {"endpoint": "credit-risk", "environment": "production", "file": again},
        follow=True,
    ).content.decode()
    assert "1 outcomes stored (1 replaced an earlier value)." in replaced
    assert Outcome.objects.get(request_id="req-1").value == "good"
    nothing = client.post("/deployments/outcomes/", {"endpoint": "credit-risk"}, follow=True)
    assert nothing.status_code == 200 and "choose a CSV file" in nothing.content.decode()
    junk = io.BytesIO(b"\x00\x01\x02")
    junk.name = "junk.csv"
    wrong = client.post("/deployments/outcomes/", {"endpoint": "credit-risk", "file": junk}, follow=True)
    assert wrong.status_code == 200 and "value column" in wrong.content.decode()


def test_another_team_learns_nothing_of_predictions_through_outcomes(logged, api_for, make_user):
    """Issue 12, point 3: team C owns ``credit-risk`` in staging; team A's predictions are in
    production. C's outcomes never land on A's predictions, and the answer for one of A's request
    ids (or business keys) is the answer for an id nobody logged."""
    mark = make_user("mark", team="Customer Insights")
    staging = deployed(mark.teams.get(), "credit-risk", environment="staging")
    ingest_batch(prediction_records(staging, prefix="mine", count=1))
    api = api_for(mark)

    def send(ids, **fields):
        outcomes = [{"request_id": i, "value": "bad"} for i in ids]
        body = {"endpoint": "credit-risk", "environment": "staging", "outcomes": outcomes, **fields}
        return api.post("/api/v1/outcomes/", body, format="json")

    theirs, nobodys = send(["req-1"]), send(["never-1"])
    assert theirs.status_code == nobodys.status_code == 200
    assert theirs.json() == {"accepted": 0, "overwritten": 0, "unknown": ["req-1"], "unknown_count": 1}
    assert nobodys.json() == {**theirs.json(), "unknown": ["never-1"]}
    keyed = {"key_field": "customer", "outcomes": [{"business_key": "C1", "value": "bad"}]}
    by_key = api.post(
        "/api/v1/outcomes/", {"endpoint": "credit-risk", "environment": "staging", **keyed}, format="json"
    )
    assert by_key.json() == {"accepted": 0, "overwritten": 0, "unknown": ["C1"], "unknown_count": 1}
    assert send(["mine-0"]).json()["accepted"] == 1  # C's own prediction in staging

    # A's endpoint in production is answered like an endpoint that does not exist.
    production = send(["req-1"], environment="production")
    nowhere = send(["req-1"], endpoint="nowhere", environment="production")
    assert production.status_code == nowhere.status_code == 400
    assert production.json()["endpoint"] == [
        nowhere.json()["endpoint"][0].replace("'nowhere'", "'credit-risk'")
    ]
    assert not Outcome.objects.filter(environment="production").exists()


def test_business_owners_may_not_write_outcomes(logged, api_for, client, make_user):
    """Issue 12, point 4: bea sponsors the model and sees its endpoint; she still may not write or
    overwrite its ground truth, through the API or the page."""
    dana_api = api_for(logged)
    body = {"endpoint": "credit-risk", "outcomes": [{"request_id": "req-1", "value": "good"}]}
    assert dana_api.post("/api/v1/outcomes/", body, format="json").status_code == 200
    bea = get_user_model().objects.get(username="bea")
    overwrite = {"endpoint": "credit-risk", "outcomes": [{"request_id": "req-1", "value": "bad"}]}
    refused = api_for(bea).post("/api/v1/outcomes/", overwrite, format="json")
    assert refused.status_code == 403

    client.force_login(bea)
    assert 'data-testid="outcomes-form"' not in client.get("/deployments/").content.decode()
    upload = io.BytesIO(b"request_id,value\nreq-1,bad\n")
    upload.name = "outcomes.csv"
    page = client.post("/deployments/outcomes/", {"endpoint": "credit-risk", "file": upload})
    assert page.status_code == 403
    assert Outcome.objects.get(request_id="req-1").value == "good"
    assert AuditEvent.objects.filter(action="outcomes.written").count() == 1


def test_every_accepted_write_is_audited_with_what_it_replaced(logged, api_for, make_user):
    """Issue 12, point 4: who wrote, how many rows, and the values an overwrite replaced."""
    api = api_for(logged)
    ivan = api_for(make_user("ivan", Role.IT_OPERATOR, team=None))

    def send(client, values: dict):
        outcomes = [{"request_id": i, "value": v} for i, v in values.items()]
        body = {"endpoint": "credit-risk", "outcomes": outcomes}
        return client.post("/api/v1/outcomes/", body, format="json").json()

    answers = [
        send(api, {"req-0": "good", "req-1": "good"}),
        send(api, {"req-1": "bad", "req-2": "good", "ghost": "bad"}),
        send(api, {"ghost": "bad"}),  # nothing written, nothing to audit
        send(ivan, {"req-1": "good"}),
    ]
    events = list(AuditEvent.objects.filter(action="outcomes.written").order_by("id"))
    assert [(e.actor.username, e.object_repr, e.team.name) for e in events] == [
        ("dana", "credit-risk (production)", "Credit Risk"),
        ("dana", "credit-risk (production)", "Credit Risk"),
        ("ivan", "credit-risk (production)", "Credit Risk"),
    ]
    assert [(e.details["rows"], e.details["new"], e.details["overwritten"]) for e in events] == [
        (2, 2, 0),
        (2, 1, 1),
        (1, 0, 1),
    ]
    assert [(a["accepted"], a["overwritten"]) for a in answers] == [(2, 0), (2, 1), (0, 0), (1, 1)]

    from apps.serving.models import OutcomeRevision  # imported here: the module also runs on main's code

    history = OutcomeRevision.objects.filter(outcome__request_id="req-1").order_by("id")
    assert [(r.value, r.audit_event_id) for r in history] == [("good", events[1].pk), ("bad", events[2].pk)]
    assert Outcome.objects.get(request_id="req-1").value == "good"
