"""The WSGI app end to end with a real model: answers, the prediction log, failures, request ids,
health and metrics."""

import datetime
import re

import numpy as np
import pandas as pd
import pytest

from tests.unit.serving.conftest import FEATURES, SCRAPER, arm, call, metric, route, sample_records


@pytest.fixture
def credit(models, serve):
    model, path = models["logreg"]
    app, log = serve(route(arm(path)))
    return model, app, log


def test_predictions_probabilities_and_classes_match_the_model(credit):
    model, app, log = credit
    records = sample_records(6)
    answer = call(app, payload={"records": records})

    assert answer.status == 200
    body = answer.json
    frame = pd.DataFrame(records)[FEATURES]
    assert re.fullmatch(r"modelyard-[0-9a-f]{32}", body["request_id"])
    assert (body["model"], body["version"], body["deployment"]) == ("credit", 1, 1)
    assert body["predictions"] == model.predict(frame).tolist()
    assert np.allclose(body["probabilities"], model.predict_proba(frame))
    assert body["classes"] == ["bad", "good"]
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["X-Request-ID"] == body["request_id"]
    assert answer.headers["X-Served-By"].isdigit()


def test_every_row_is_logged_before_the_answer(credit):
    _, app, log = credit
    records = sample_records(3)
    body = call(app, payload={"records": records}).json

    assert [row["row"] for row in log.rows] == [0, 1, 2]
    for i, row in enumerate(log.rows):
        assert row["request_id"] == body["request_id"]
        assert (row["endpoint"], row["environment"], row["role"]) == ("credit", "production", "primary")
        assert (row["deployment_id"], row["version_id"]) == (1, 11)
        assert row["inputs"] == records[i]
        assert row["prediction"] == body["predictions"][i]
        assert row["probabilities"] == body["probabilities"][i]
        assert isinstance(row["latency_ms"], float) and row["latency_ms"] > 0
        assert datetime.datetime.fromisoformat(row["ts"]).utcoffset() == datetime.timedelta(0)
        assert (row["batch"], row["kind"]) == (False, "prediction")


def test_a_regressor_has_no_probabilities_or_classes(tmp_path, serve):
    import joblib
    from sklearn.linear_model import LinearRegression

    from tests.unit.serving.conftest import training_frame

    frame, _ = training_frame()
    model = LinearRegression().fit(frame, frame["income"] * 2)
    joblib.dump(model, tmp_path / "reg.joblib")
    app, log = serve(route(arm(str(tmp_path / "reg.joblib"))))
    body = call(app, payload={"records": sample_records(2)}).json
    assert "probabilities" not in body and "classes" not in body
    assert len(body["predictions"]) == 2
    assert log.rows[0]["probabilities"] is None


def test_the_environment_comes_from_the_query(models, serve):
    _, path = models["logreg"]
    app, log = serve(route(arm(path, deployment_id=7), environment="staging"))
    payload = {"records": sample_records(1)}
    assert call(app, payload=payload).status == 404  # production by default
    answer = call(app, payload=payload, query="environment=staging")
    assert answer.status == 200 and answer.json["deployment"] == 7
    assert log.rows[0]["environment"] == "staging"


def test_an_unknown_endpoint_is_404_with_detail(credit):
    _, app, _ = credit
    answer = call(app, "/v1/endpoints/fraud/predict", {"records": sample_records(1)})
    assert answer.status == 404
    assert answer.json["detail"] == "no endpoint 'fraud' in environment 'production'"
    assert call(app, "/v1/nothing", method="GET").status == 404


def test_predict_wants_post(credit):
    _, app, _ = credit
    answer = call(app, method="GET")
    assert answer.status == 405 and answer.headers["Allow"] == "POST"


def test_a_model_failure_is_500_without_traceback_or_values(models, serve):
    _, path = models["logreg"]
    # A feature the schema checker cannot judge lets a string through to the model, which fails.
    loose = {"features": [{"name": "income", "type": "money"}, {"name": "age"}, {"name": "tenure"}]}
    app, log = serve(route(arm(path, schema=loose)))
    secret = "ZZTOP-SECRET-123"
    answer = call(app, payload={"records": [{"income": secret, "age": 30, "tenure": 1.0}]})

    assert answer.status == 500
    assert answer.json == {
        "detail": "the model failed on this input",
        "request_id": answer.json["request_id"],
    }
    assert "Traceback" not in answer.body.decode() and secret not in answer.body.decode()
    assert log.rows == []


def test_an_unloadable_model_is_503(serve, tmp_path):
    broken = tmp_path / "broken.joblib"
    broken.write_bytes(b"not a model")
    app, log = serve(route(arm(str(broken))))
    answer = call(app, payload={"records": sample_records(1)})
    assert answer.status == 503
    assert answer.json["detail"] == "the model is not available right now"
    assert log.rows == []


def test_a_failing_log_turns_the_answer_into_503(credit):
    _, app, log = credit
    log.fail = True
    answer = call(app, payload={"records": sample_records(2)})
    assert answer.status == 503
    assert answer.json["detail"] == "prediction log unavailable"
    assert "predictions" not in answer.json


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("order-42.retry:1", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("has space", False),
        ("<script>", False),
        ("", False),
    ],
)
def test_a_safe_client_request_id_is_kept(credit, given, kept):
    _, app, log = credit
    answer = call(app, payload={"records": sample_records(1)}, headers={"X-Request-ID": given})
    request_id = answer.json["request_id"]
    if kept:
        assert request_id == given
    else:
        assert re.fullmatch(r"modelyard-[0-9a-f]{32}", request_id)
    assert answer.headers["X-Request-ID"] == request_id == log.rows[0]["request_id"]


def test_health_counts_routes_and_loaded_models(credit):
    _, app, _ = credit
    call(app, payload={"records": sample_records(1)})  # loaded by now, warmed up or not
    answer = call(app, "/health", method="GET")
    assert answer.status == 200
    assert answer.json == {"status": "ok", "routes": 1, "models_loaded": 1, "routes_from": "source"}


def test_health_is_503_until_routes_load(models):
    from apps.serving.inference.app import make_app
    from apps.serving.inference.routes import RouteTable

    app = make_app(RouteTable(lambda: []), lambda rows: None)
    answer = call(app, "/health", method="GET")
    assert answer.status == 503 and answer.json["status"] == "starting"


@pytest.mark.parametrize("key", [None, "myk_some-consumer-key"])
def test_a_predict_before_any_routes_is_a_503_with_retry_after_not_a_404_or_401(key):
    """A worker whose route source has not answered (its database is down) and that found no saved
    routes cannot tell that an endpoint does not exist, nor that a key is wrong."""
    from apps.serving.inference.app import make_app
    from apps.serving.inference.routes import RouteTable

    app = make_app(RouteTable(lambda: []), lambda rows: None, require_keys=True)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    answer = call(app, payload={"records": sample_records(1)}, headers=headers)
    assert answer.status == 503, answer.json
    assert answer.headers["Retry-After"] == "2"
    assert "no routes yet" in answer.json["detail"] and answer.json["request_id"]


def test_metrics_show_latency_requests_and_process_usage(credit):
    _, app, _ = credit
    for _ in range(3):
        call(app, payload={"records": sample_records(1)})
    app.metrics.sample_process()
    answer = call(app, "/metrics", method="GET", headers=SCRAPER)
    text = answer.body.decode()
    assert answer.headers["Content-Type"].startswith("text/plain")
    labels = {"endpoint": "credit", "version": "1", "role": "primary"}
    assert metric(text, "inference_request_duration_seconds_count", **labels) == 3
    assert metric(text, "inference_request_duration_seconds_bucket", **labels, le="0.0005") is not None
    assert metric(text, "inference_request_duration_seconds_bucket", **labels, le="+Inf") == 3
    assert metric(text, "inference_requests_total", endpoint="credit", version="1", status="200") == 3
    assert metric(text, "inference_process_rss_bytes", pid=answer.headers["X-Served-By"]) > 10_000_000
    assert metric(text, "inference_process_cpu_seconds", pid=answer.headers["X-Served-By"]) > 0


def test_models_are_loaded_in_the_background_when_routes_arrive(models):
    import time

    from apps.serving.inference.app import make_app
    from apps.serving.inference.routes import RouteTable

    _, path = models["logreg"]
    table = RouteTable(lambda: [route(arm(path))])
    table.refresh()
    app = make_app(table, lambda rows: None)
    deadline = time.monotonic() + 10
    while len(app.cache) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(app.cache) == 1
