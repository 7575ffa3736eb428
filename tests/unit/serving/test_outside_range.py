"""Values outside the schema's range are data: scored, logged and counted by default; refused only
for the features an endpoint names. ``?partial=true`` scores the records that fit and lists the rest."""

import json

import pandas as pd

from apps.serving.inference.metrics import field_problem
from apps.serving.inference.routes import routes_from_json, routes_to_json
from tests.unit.serving.conftest import SCRAPER, arm, call, metric, route, sample_records

SECRET = "ZZTOP-SECRET-123"


def _metrics(app) -> str:
    return call(app, "/metrics", method="GET", headers=SCRAPER).body.decode()


def _outside(metrics: str, field: str, problem: str):
    return metric(
        metrics, "inference_outside_range_values_total", endpoint="credit", field=field, problem=problem
    )


def test_values_outside_the_range_are_scored_logged_and_counted_by_default(models, serve):
    model, path = models["logreg"]
    app, log = serve(route(arm(path)))
    records = sample_records(4)
    records[1]["age"] = 130  # above the schema's maximum 120
    records[2]["age"] = 12  # below its minimum 18
    records[3]["income"] = -50.0  # below its minimum 0

    answer = call(app, payload={"records": records})

    assert answer.status == 200, answer.json
    assert answer.json["predictions"] == model.predict(pd.DataFrame(records)).tolist()
    assert [row["kind"] for row in log.rows] == ["prediction"] * 4  # no rejected-request event
    assert [row["inputs"] for row in log.rows] == records  # the values as sent, for monitoring
    metrics = _metrics(app)
    assert _outside(metrics, "age", "above_max") == 1
    assert _outside(metrics, "age", "below_min") == 1
    assert _outside(metrics, "income", "below_min") == 1
    assert metric(metrics, "inference_rejected_fields_total", endpoint="credit") is None


def test_types_missing_features_and_nulls_are_still_refused(models, serve):
    _, path = models["logreg"]
    app, log = serve(route(arm(path)))
    good = sample_records(3)
    missing = {k: v for k, v in good[2].items() if k != "income"}
    records = [{**good[0], "age": SECRET}, {**good[1], "income": None}, missing]
    answer = call(app, payload={"records": records})
    assert answer.status == 422
    assert answer.json["errors"] == [
        "records[0].age: expected integer",
        "records[1].income: null is not allowed",
        "records[2]: missing feature income",
    ]
    assert [row["kind"] for row in log.rows] == ["rejected"]


def test_an_endpoint_refuses_values_outside_the_range_of_the_features_it_names_only(models, serve):
    _, path = models["logreg"]
    app, log = serve(route(arm(path), refuse_outside={"age"}))
    record = sample_records(1)[0]

    refused = call(app, payload={"records": [record, {**record, "age": 130}]})
    assert refused.status == 422
    assert refused.json["errors"] == ["records[1].age: above the allowed maximum 120"]

    accepted = call(app, payload={"records": [{**record, "income": -50.0}]})  # income did not opt in
    assert accepted.status == 200, accepted.json
    metrics = _metrics(app)
    assert _outside(metrics, "income", "below_min") == 1
    assert _outside(metrics, "age", "above_max") is None  # refused values are not counted as scored
    assert (
        metric(
            metrics, "inference_rejected_fields_total", endpoint="credit", field="age", problem="above_max"
        )
        == 1
    )


def test_partial_scoring_answers_the_records_that_fit_at_their_indices(models, serve):
    model, path = models["logreg"]
    shadow_model, shadow_path = models["tree"]
    app, log = serve(
        route(
            arm(path),
            arm(shadow_path, deployment_id=2, version_id=12, number=2, role="shadow"),
            refuse_outside={"age"},
        )
    )
    good = sample_records(5)
    records = [
        good[0],
        {**good[1], "age": SECRET},  # a type: refused
        {**good[2], "income": -50.0},  # outside, income did not opt in: scored
        {**good[3], "age": 130},  # outside, age opted in: refused
        good[4],
    ]

    answer = call(app, payload={"records": records}, query="partial=true", headers={"X-Request-ID": "app-7"})

    assert answer.status == 200, answer.json
    body = answer.json
    scored = [records[0], records[2], records[4]]
    expected = model.predict(pd.DataFrame(scored)).tolist()
    assert body["predictions"] == [expected[0], None, expected[1], None, expected[2]]
    probabilities = model.predict_proba(pd.DataFrame(scored)).tolist()
    assert body["probabilities"] == [probabilities[0], None, probabilities[1], None, probabilities[2]]
    assert body["refused"] == [1, 3]
    assert body["errors"] == [
        "records[1].age: expected integer",
        "records[3].age: above the allowed maximum 120",
    ]
    assert body["error_count"] == 2
    assert SECRET not in answer.body.decode()

    primary = [row for row in log.of_kind("prediction") if row["role"] == "primary"]
    assert [(row["row"], row["inputs"]) for row in primary] == [
        (0, records[0]),
        (2, records[2]),
        (4, records[4]),
    ]
    shadow = [row for row in log.of_kind("prediction") if row["role"] == "shadow"]
    assert [row["row"] for row in shadow] == [0, 2, 4]
    assert [row["prediction"] for row in shadow] == shadow_model.predict(pd.DataFrame(scored)).tolist()
    [event] = log.of_kind("rejected")
    assert (event["request_id"], event["rows"], event["error_count"]) == ("app-7", 2, 2)
    assert event["errors"] == body["errors"]
    assert SECRET not in json.dumps(log.rows)

    metrics = _metrics(app)
    assert _outside(metrics, "income", "below_min") == 1
    assert metric(metrics, "inference_requests_total", endpoint="credit", version="1", status="200") == 1
    for field, problem in [("age", "wrong_type"), ("age", "above_max")]:
        assert (
            metric(
                metrics, "inference_rejected_fields_total", endpoint="credit", field=field, problem=problem
            )
            == 1
        )


def test_partial_scoring_refuses_per_record_what_the_default_refuses_per_request(models, serve):
    _, path = models["logreg"]
    app, log = serve(route(arm(path)))
    good = sample_records(2)
    records = [{**good[0], "nickname": SECRET}, good[1]]
    assert call(app, payload={"records": records}).status == 422
    answer = call(app, payload={"records": records}, query="partial=1")
    assert answer.status == 200
    assert answer.json["refused"] == [0]
    assert answer.json["errors"] == ["records[0]: unexpected fields: 'nickname'"]
    assert answer.json["predictions"][0] is None and answer.json["predictions"][1] is not None
    metrics = _metrics(app)
    assert (
        metric(
            metrics,
            "inference_rejected_fields_total",
            endpoint="credit",
            field="(unexpected)",
            problem="unexpected",
        )
        == 2
    )
    assert "nickname" not in metrics


def test_partial_scoring_with_no_record_that_fits_is_the_default_422(models, serve):
    _, path = models["logreg"]
    app, log = serve(route(arm(path)))
    records = [{**record, "age": SECRET} for record in sample_records(3)]
    default = call(app, payload={"records": records})
    partial = call(app, payload={"records": records}, query="partial=true")
    assert partial.status == default.status == 422
    assert {k: v for k, v in partial.json.items() if k != "request_id"} == {
        k: v for k, v in default.json.items() if k != "request_id"
    }
    assert log.of_kind("prediction") == []


def test_partial_scoring_where_everything_fits_answers_as_the_default(models, serve):
    model, path = models["logreg"]
    app, _ = serve(route(arm(path)))
    records = sample_records(3)
    answer = call(app, payload={"records": records}, query="partial=true")
    assert answer.status == 200
    assert answer.json["predictions"] == model.predict(pd.DataFrame(records)).tolist()
    assert "refused" not in answer.json and "errors" not in answer.json


def test_partial_must_be_true_or_false(models, serve):
    _, path = models["logreg"]
    app, log = serve(route(arm(path)))
    answer = call(app, payload={"records": sample_records(1)}, query="partial=maybe")
    assert answer.status == 400
    assert answer.json["detail"] == "the query parameter partial must be true or false"
    assert call(app, payload={"records": sample_records(1)}, query="partial=false").status == 200


def test_saved_routes_keep_the_refused_features_and_older_tables_still_load(models):
    _, path = models["logreg"]
    saved = routes_to_json([route(arm(path), refuse_outside={"age", "income"})])
    [restored] = routes_from_json(saved)
    assert restored.refuse_outside == frozenset({"age", "income"})
    older = json.loads(saved)
    del older["routes"][0]["refuse_outside"]
    [restored] = routes_from_json(json.dumps(older).encode())
    assert restored.refuse_outside == frozenset()


def test_per_record_unexpected_fields_are_labelled_without_their_names():
    assert field_problem("records[2]: unexpected fields: 'x'") == ("(unexpected)", "unexpected")


def test_a_model_that_cannot_score_an_unseen_category_is_a_422_naming_the_feature(serve, tmp_path):
    """Unseen categories are accepted by default; when the model's encoder refuses one, the caller
    gets a 422 naming the feature (what to change), not a 500."""
    import joblib
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.DataFrame(
        {"purpose": ["car", "home", "car", "study"] * 10, "amount": [1.0, 2.0, 3.0, 4.0] * 10}
    )
    strict = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="error"), ["purpose"]), remainder="passthrough"
        ),
        LogisticRegression(),
    ).fit(frame, [0, 1, 0, 1] * 10)
    path = tmp_path / "strict.joblib"
    joblib.dump(strict, path)
    schema = {
        "features": [
            {
                "name": "purpose",
                "type": "categorical",
                "nullable": False,
                "categories": ["car", "home", "study"],
            },
            {"name": "amount", "type": "number", "nullable": False, "min": 1, "max": 4},
        ]
    }
    app, log = serve(route(arm(str(path), schema=schema)))

    assert call(app, payload={"records": [{"purpose": "car", "amount": 9.0}]}).status == 200  # range: data
    answer = call(app, payload={"records": [{"purpose": "boat", "amount": 2.0}]})
    assert answer.status == 422, answer.json
    assert "categories it was not trained on in purpose" in answer.json["detail"]
    assert answer.json["errors"] == ["purpose: a category the model was not trained on"]
    assert [row["kind"] for row in log.rows] == ["prediction"]  # the refused request stored nothing
