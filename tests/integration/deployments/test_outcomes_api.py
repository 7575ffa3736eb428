"""Outcomes arrive later: joined by request id (or business key); unknown ids are reported back."""

import io

import pytest
from django.utils import timezone

from apps.deployments.models import Endpoint, Environment
from apps.serving.ingest import ingest_batch
from apps.serving.models import Outcome

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged(make_user):
    dana = make_user("dana")
    Endpoint.objects.create(
        environment=Environment.objects.get(name="production"), name="credit-risk", team=dana.teams.get()
    )
    records = [
        {
            "kind": "prediction",
            "request_id": f"req-{i}",
            "row": 0,
            "endpoint": "credit-risk",
            "environment": "production",
            "deployment_id": 1,
            "version_id": 1,
            "role": "primary",
            "inputs": {"customer": f"C{i}", "Age": 30 + i},
            "prediction": "good",
            "probabilities": [0.3, 0.7],
            "latency_ms": 1.2,
            "ts": timezone.now().isoformat(),
            "batch": False,
        }
        for i in range(5)
    ]
    assert ingest_batch(records) == 5
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
    assert answer == {"accepted": 1, "unknown": ["nope"], "unknown_count": 1}
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
    assert other.status_code == 400 and "no endpoint you can see" in other.json()["endpoint"][0]


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
    assert Outcome.objects.get(request_id="req-1").value == "bad"
    nothing = client.post("/deployments/outcomes/", {"endpoint": "credit-risk"}, follow=True)
    assert nothing.status_code == 200 and "choose a CSV file" in nothing.content.decode()
    junk = io.BytesIO(b"\x00\x01\x02")
    junk.name = "junk.csv"
    wrong = client.post("/deployments/outcomes/", {"endpoint": "credit-risk", "file": junk}, follow=True)
    assert wrong.status_code == 200 and "value column" in wrong.content.decode()
