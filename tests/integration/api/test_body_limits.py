"""Limits on what one request may carry, applied before the body is parsed (issue 13, point 7): JSON
nested 10,000 deep was a 500; bodies and uploads over their limits are refused with a 413 or 400 that
names the limit, on the API and on the pages' forms alike."""

import io
import json
import time

import pytest
from django.test import override_settings

from apps.registry.models import RegisteredModel
from tests.integration.deployments.test_outcomes_api import logged  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def named(name: str, content: bytes) -> io.BytesIO:
    handle = io.BytesIO(content)
    handle.name = name
    return handle


def test_json_nested_ten_thousand_deep_is_a_400_naming_the_limit_at_once(make_user, api_for):
    api = api_for(make_user("dana"))
    started = time.monotonic()
    answer = api.generic("POST", "/api/v1/outcomes/", nested(10_000), content_type="application/json")
    took = time.monotonic() - started
    assert answer.status_code == 400, answer.content
    assert answer.json() == {
        "detail": "JSON body: JSON nested deeper than 32 levels (MODELYARD_MAX_JSON_DEPTH)"
    }
    assert took < 1.0, f"refusing the deep JSON took {took:.2f}s"


def test_the_depth_limit_is_exact_and_configurable(make_user, api_for):
    api = api_for(make_user("dana"))
    outcomes = {"endpoint": "nowhere", "outcomes": [{"request_id": "r", "value": json.loads(nested(29))}]}
    within = api.post("/api/v1/outcomes/", outcomes, format="json")  # 32 levels: parsed, then checked
    assert within.status_code == 400 and "endpoint" in within.json(), within.content
    outcomes["outcomes"][0]["value"] = json.loads(nested(30))  # 33 levels
    assert api.post("/api/v1/outcomes/", outcomes, format="json").status_code == 400
    assert (
        "MODELYARD_MAX_JSON_DEPTH" in api.post("/api/v1/outcomes/", outcomes, format="json").json()["detail"]
    )
    with override_settings(MODELYARD_MAX_JSON_DEPTH=40):
        assert "endpoint" in api.post("/api/v1/outcomes/", outcomes, format="json").json()


def test_json_text_in_a_multipart_field_is_held_to_the_same_depth(make_user, api_for, credit_model_bytes):
    api = api_for(make_user("dana"))
    answer = api.post(
        "/api/v1/versions/",
        {
            "model": "deep",
            "task_type": "regression",
            "artifact": named("m.joblib", credit_model_bytes),
            "input_schema": nested(10_000),
        },
        format="multipart",
    )
    assert answer.status_code == 400, answer.content
    assert answer.json()["input_schema"] == ["JSON nested deeper than 32 levels (MODELYARD_MAX_JSON_DEPTH)"]
    assert not RegisteredModel.objects.exists()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024 * 1024)
def test_a_json_body_over_the_size_limit_is_a_413_before_it_is_parsed(make_user, api_for):
    api = api_for(make_user("dana"))
    body = json.dumps({"outcomes": [{"request_id": f"r{i}", "value": 1} for i in range(60_000)]})
    assert len(body) > 1024 * 1024
    answer = api.generic("POST", "/api/v1/outcomes/", body, content_type="application/json")
    assert answer.status_code == 413, answer.content
    assert answer.json() == {
        "detail": "the request body is larger than 1 MB (MODELYARD_MAX_BODY_MB); send less at a time"
    }


@override_settings(MODELYARD_MAX_UPLOAD_MB=1)
def test_an_upload_over_its_limit_is_refused_while_it_arrives(logged, api_for):  # noqa: F811
    csv = b"request_id,value\n" + b"req-0,good\n" * 200_000  # 2.2 MB
    answer = api_for(logged).post(
        "/api/v1/outcomes/", {"endpoint": "credit-risk", "file": named("big.csv", csv)}, format="multipart"
    )
    assert answer.status_code == 413, answer.content
    assert answer.json() == {
        "detail": "file: the file 'big.csv' is larger than 1 MB (MODELYARD_MAX_UPLOAD_MB)"
    }


@override_settings(MODELYARD_MAX_UPLOAD_MB=1)
def test_page_uploads_are_held_to_the_same_limit(logged, client):  # noqa: F811
    client.force_login(logged)
    csv = b"request_id,value\n" + b"req-0,good\n" * 200_000
    page = client.post("/deployments/outcomes/", {"endpoint": "credit-risk", "file": named("big.csv", csv)})
    assert page.status_code == 413
    assert (
        "the file &#x27;big.csv&#x27; is larger than 1 MB (MODELYARD_MAX_UPLOAD_MB)" in page.content.decode()
    )


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024 * 1024)
def test_page_forms_over_the_body_limit_are_a_413_naming_it(logged, client):  # noqa: F811
    client.force_login(logged)
    page = client.post("/deployments/outcomes/", {"endpoint": "x" * (1024 * 1024 + 1)})
    assert page.status_code == 413
    assert "larger than 1 MB (MODELYARD_MAX_BODY_MB)" in page.content.decode()
