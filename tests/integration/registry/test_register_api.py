"""Registering versions through the REST API: the happy path and every kind of bad input."""

import io
import json
import os

import pytest
from django.core.files.storage import default_storage
from django.test import override_settings

from apps.accounts.roles import Role
from apps.core.models import AuditEvent
from apps.registry.models import ModelVersion, RegisteredModel

pytestmark = pytest.mark.django_db


def upload(name, content: bytes):
    f = io.BytesIO(content)
    f.name = name
    return f


def register(client, model_bytes, csv_bytes=None, **fields):
    data = {
        "model": "credit-default",
        "task_type": "binary_classification",
        "artifact": upload("model.joblib", model_bytes),
        **fields,
    }
    if csv_bytes is not None:
        data.setdefault("reference", upload("training.csv", csv_bytes))
        data.setdefault("target", "Status")
    return client.post("/api/v1/versions/", data, format="multipart")


def test_register_creates_model_version_schema_and_audit(
    make_user, api_for, credit_model_bytes, credit_csv_bytes
):
    dana = make_user("dana")
    response = register(
        api_for(dana),
        credit_model_bytes,
        credit_csv_bytes,
        metrics=json.dumps({"auc": 0.81}),
        code_commit="abc123",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["number"] == 1
    assert body["framework"] == "sklearn" and body["format"] == "joblib" and body["safe_format"] is False
    features = {f["name"]: f for f in body["input_schema"]["features"]}
    assert "Status" not in features and len(features) == 13
    assert features["Age"]["type"] == "integer"
    assert set(features["Home"]["categories"]) >= {"owner", "rent"}
    assert body["output_schema"]["outputs"][0]["categories"] == ["bad", "good"]
    assert body["reference_rows"] == 800
    assert body["status"] == "profiling" and body["job"] is not None
    version = ModelVersion.objects.get(pk=body["id"])
    assert default_storage.exists(version.artifact.name)
    assert version.artifact_sha256 in version.artifact.name  # content-addressed
    # Only the platform's user may read stored files: a sandboxed model runs as another user.
    for stored in (version.artifact, version.reference_data):
        assert os.stat(stored.path).st_mode & 0o777 == 0o600
        assert os.stat(os.path.dirname(stored.path)).st_mode & 0o777 == 0o700
    registry = AuditEvent.objects.exclude(object_type__in=["user", "team", "apitoken"])
    actions = list(registry.order_by("id").values_list("action", flat=True))
    assert actions == ["model.created", "version.registered"]

    second = register(api_for(dana), credit_model_bytes, credit_csv_bytes, parent_version="1")
    assert second.status_code == 201, second.json()
    assert second.json()["number"] == 2 and second.json()["parent_version"] == 1


def test_schema_given_must_match_the_reference_values(make_user, api_for, credit_model_bytes):
    schema = {"features": [{"name": "Age", "type": "integer", "nullable": False}]}
    csv = b"Age,Status\n31,good\nabc,bad\n,good\n"
    response = register(api_for(make_user("dana")), credit_model_bytes, csv, input_schema=json.dumps(schema))
    assert response.status_code == 400
    assert response.json()["reference"] == [
        "'training.csv': column 'Age' is not nullable in the schema but 1 rows are empty (rows 3)",
        "'training.csv': column 'Age' is integer in the schema but 1 values are not (row 2: 'abc')",
    ]
    assert not RegisteredModel.objects.exists()


def test_schema_given_must_match_reference_columns(make_user, api_for, credit_model_bytes, credit_csv_bytes):
    dana = make_user("dana")
    schema = {"features": [{"name": "Age", "type": "integer"}, {"name": "FICO", "type": "number"}]}
    response = register(api_for(dana), credit_model_bytes, credit_csv_bytes, input_schema=json.dumps(schema))
    assert response.status_code == 400
    body = response.json()
    assert "reference" in body and "FICO" in " ".join(body["reference"])
    assert "detail" in body
    assert not RegisteredModel.objects.exists() and not ModelVersion.objects.exists()


@pytest.mark.parametrize(
    ("filename", "content", "expected"),
    [
        ("model.joblib", b"", "empty"),
        ("model.bin", b"\x00\x01 not a model at all", "unrecognised model format"),
        ("model.zip", b"PK\x03\x04 broken zip", "corrupt zip"),
        ("model.onnx", b"hello", "not an ONNX"),
    ],
)
def test_bad_artifacts_are_refused_and_nothing_is_kept(make_user, api_for, filename, content, expected):
    dana = make_user("dana")
    response = api_for(dana).post(
        "/api/v1/versions/",
        {"model": "m", "task_type": "regression", "artifact": upload(filename, content)},
        format="multipart",
    )
    assert response.status_code == 400
    assert expected in " ".join(response.json()["artifact"])
    assert not RegisteredModel.objects.exists()
    assert not AuditEvent.objects.exclude(object_type__in=["user", "team", "apitoken"]).exists()


def test_bad_reference_files_name_the_field(make_user, api_for, credit_model_bytes):
    client = api_for(make_user("dana"))
    for content, expected in [
        (b"", "empty"),
        (b"a,b,c\n", "no rows"),
        (b"\xff\xfe\x00garbage\x00", "neither CSV"),
    ]:
        response = register(client, credit_model_bytes, content)
        assert response.status_code == 400, content
        assert expected in " ".join(response.json()["reference"]), response.json()
    assert not ModelVersion.objects.exists()


def test_invalid_json_fields_and_schema_problems(make_user, api_for, credit_model_bytes):
    client = api_for(make_user("dana"))
    response = register(client, credit_model_bytes, metrics="{not json")
    assert response.status_code == 400 and "metrics" in response.json()
    schema = {"features": [{"name": "a", "type": "float64"}]}
    response = register(client, credit_model_bytes, input_schema=json.dumps(schema))
    assert response.status_code == 400
    assert "features[0].type" in " ".join(response.json()["input_schema"])
    response = register(client, credit_model_bytes)  # no schema and no reference data
    assert response.status_code == 400 and "input_schema" in response.json()


def test_oversize_upload_is_refused(make_user, api_for, credit_model_bytes, credit_csv_bytes):
    client = api_for(make_user("dana"))
    with override_settings(MODELYARD_MAX_UPLOAD_MB=0):
        response = register(client, credit_model_bytes, credit_csv_bytes)
    # Refused while it arrives (apps/accounts/limits.py): the rest of the file is never stored.
    assert response.status_code == 413
    assert response.json() == {
        "detail": "artifact: the file 'model.joblib' is larger than 0 MB (MODELYARD_MAX_UPLOAD_MB)"
    }


def test_duplicate_model_name_in_team_is_refused(make_user, api_for):
    client = api_for(make_user("dana"))
    first = client.post(
        "/api/v1/models/", {"name": "churn", "task_type": "binary_classification"}, format="json"
    )
    assert first.status_code == 201, first.json()
    again = client.post(
        "/api/v1/models/", {"name": "churn", "task_type": "binary_classification"}, format="json"
    )
    assert again.status_code == 400
    assert "already has a model named 'churn'" in " ".join(again.json()["name"])
    assert RegisteredModel.objects.count() == 1


def test_a_new_version_cannot_change_the_task(make_user, api_for, credit_model_bytes, credit_csv_bytes):
    client = api_for(make_user("dana"))
    assert register(client, credit_model_bytes, credit_csv_bytes).status_code == 201
    response = register(client, credit_model_bytes, credit_csv_bytes, task_type="regression")
    assert response.status_code == 400 and "task_type" in response.json()
    assert ModelVersion.objects.count() == 1


def test_a_new_model_without_a_task_type_is_told_to_give_one(make_user, api_for, credit_model_bytes):
    client = api_for(make_user("dana"))
    response = register(client, credit_model_bytes, task_type="")
    assert response.status_code == 400
    assert response.json()["task_type"] == [
        "'credit-default' is a new model: give its task type, one of binary_classification, "
        "multiclass_classification, regression, ranking, text_classification"
    ]
    assert not RegisteredModel.objects.exists()


def test_business_owner_and_it_cannot_register(make_user, api_for, credit_model_bytes, credit_csv_bytes):
    make_user("dana")  # creates the team
    ivan = make_user("ivan", Role.IT_OPERATOR, team=None)
    response = register(api_for(ivan), credit_model_bytes, credit_csv_bytes, team="credit-risk")
    assert response.status_code == 403 and "may not register" in response.json()["detail"]
    # A sponsor is in no team: the team is not even visible to them.
    bea = make_user("bea", Role.BUSINESS_OWNER, team=None)
    response = register(api_for(bea), credit_model_bytes, credit_csv_bytes, team="credit-risk")
    assert response.status_code == 400 and "no team 'credit-risk'" in response.json()["team"][0]
    assert not ModelVersion.objects.exists()


def test_stage_change_is_audited(make_user, api_for, credit_model_bytes, credit_csv_bytes):
    dana = make_user("dana")
    client = api_for(dana)
    version_id = register(client, credit_model_bytes, credit_csv_bytes).json()["id"]
    response = client.post(f"/api/v1/versions/{version_id}/stage/", {"stage": "staging", "reason": "try it"})
    assert response.status_code == 200 and response.json()["stage"] == "staging"
    response = client.post(f"/api/v1/versions/{version_id}/stage/", {"stage": "live"})
    assert response.status_code == 400 and "stage" in response.json()
    event = AuditEvent.objects.get(action="version.stage_changed")
    assert event.actor == dana and event.details == {"from": "none", "to": "staging", "reason": "try it"}
    events = client.get("/api/v1/audit-events/", {"action": "version.stage_changed"}).json()
    assert events["count"] == 1


def test_audit_events_are_append_only(make_user):
    user = make_user("dana")
    from apps.core.audit import audit_record

    event = audit_record(actor=user, action="model.created", obj=user.teams.get())
    event.action = "something.else"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()


@pytest.mark.django_db(transaction=True)
def test_two_first_registrations_of_one_name_at_once_give_v1_and_v2(make_user, credit_model_bytes):
    """Both see no model yet and create it: the one that loses the race becomes version 2, not a 500."""
    import threading

    from django.db import connection

    from apps.registry.services import Registration, version_register

    dana = make_user("dana")
    schema = {"features": [{"name": "Age", "type": "integer", "nullable": False}]}
    barrier, results = threading.Barrier(2), []

    def register_once():
        try:
            barrier.wait()
            reg = Registration(
                model_name="raced",
                task_type="binary_classification",
                artifact=io.BytesIO(credit_model_bytes),
                artifact_filename="model.joblib",
                input_schema=schema,
            )
            results.append(version_register(user=dana, reg=reg).number)
        except Exception as exc:  # noqa: BLE001 - reported below
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=register_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [1, 2], results
    assert RegisteredModel.objects.filter(name="raced").count() == 1
