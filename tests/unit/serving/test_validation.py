"""Records that break the input schema: 422 naming each field, never a value, and a data-quality
event counted per field and logged without the values."""

import json

from apps.serving.inference.metrics import field_problem
from tests.unit.serving.conftest import SCRAPER, arm, call, metric, route, sample_records

SECRET = "ZZTOP-SECRET-123"


def test_422_names_fields_and_never_echoes_values(models, serve):
    _, path = models["logreg"]
    app, log = serve(route(arm(path), refuse_outside={"age"}))  # age's range refuses: the 422 names it
    good = sample_records(2)
    records = [
        {**good[0], "income": SECRET, "age": 7},  # wrong type; below the minimum
        {**good[1], "age": None, "nickname": SECRET},  # null; an unexpected field
    ]
    answer = call(app, payload={"records": records})

    assert answer.status == 422
    body = answer.json
    assert body["detail"] == "the records do not match the input schema of 'credit'"
    assert body["errors"] == [
        "unexpected fields: 'nickname'",
        "records[0].income: expected number",
        "records[0].age: below the allowed minimum 18",
        "records[1].age: null is not allowed",
    ]
    assert SECRET not in answer.body.decode()
    assert str(good[0]["income"]) not in answer.body.decode()

    [event] = log.rows
    assert event["kind"] == "rejected"
    assert event["errors"] == body["errors"]
    assert event["request_id"] == body["request_id"]
    assert (event["endpoint"], event["deployment_id"], event["version_id"], event["rows"]) == (
        "credit",
        1,
        11,
        2,
    )
    assert "inputs" not in event
    assert SECRET not in json.dumps(log.rows)

    metrics = call(app, "/metrics", method="GET", headers=SCRAPER).body.decode()
    for field, problem in [
        ("income", "wrong_type"),
        ("age", "below_min"),
        ("age", "null"),
        ("(unexpected)", "unexpected"),
    ]:
        assert (
            metric(
                metrics, "inference_rejected_fields_total", endpoint="credit", field=field, problem=problem
            )
            == 1
        )
    assert metric(metrics, "inference_requests_total", endpoint="credit", version="1", status="422") == 1
    assert SECRET not in metrics and "nickname" not in metrics


def test_a_missing_feature_is_named(models, serve):
    _, path = models["logreg"]
    app, _ = serve(route(arm(path)))
    record = sample_records(1)[0]
    del record["tenure"]
    answer = call(app, payload={"records": [record]})
    assert answer.status == 422
    assert answer.json["errors"] == ["missing feature tenure"]


def test_extra_fields_pass_when_the_route_allows_them(models, serve):
    _, path = models["logreg"]
    app, log = serve(route(arm(path), allow_extra=True))
    record = {**sample_records(1)[0], "customer_note": SECRET}
    answer = call(app, payload={"records": [record]})
    assert answer.status == 200
    assert log.rows[0]["inputs"] == record  # the record as it was sent


def test_a_rejection_is_answered_even_when_the_log_is_down(models, serve):
    _, path = models["logreg"]
    app, log = serve(route(arm(path)))
    log.fail = True
    answer = call(app, payload={"records": [{**sample_records(1)[0], "age": "old"}]})
    assert answer.status == 422


def test_field_problem_labels():
    assert field_problem("records[3].age: expected integer") == ("age", "wrong_type")
    assert field_problem("records[0].age: null is not allowed") == ("age", "null")
    assert field_problem("records[0].age: above the allowed maximum 120") == ("age", "above_max")
    assert field_problem("records[0].plan: unknown category") == ("plan", "unknown_category")
    assert field_problem("records[0].income: expected a finite number") == ("income", "not_finite")
    assert field_problem("missing feature tenure") == ("tenure", "missing")
    assert field_problem("records[2]: missing feature tenure") == ("tenure", "missing")
    assert field_problem("unexpected fields: 'x', 'y'") == ("(unexpected)", "unexpected")
    assert field_problem("records[1]: expected an object") == ("(record)", "not_an_object")


def test_more_records_than_the_cap_are_413_before_any_check(models, serve):
    _, path = models["logreg"]
    app, log = serve(route(arm(path)), max_records=5)
    assert call(app, payload={"records": sample_records(5)}).status == 200
    answer = call(app, payload={"records": [{}] * 6})
    assert answer.status == 413
    assert answer.json["detail"].startswith("6 records in one request; at most 5 are accepted")
    assert [row["kind"] for row in log.rows] == ["prediction"] * 5  # no rejected-request event


def test_the_cap_counts_records_in_every_shape(models, serve):
    _, path = models["logreg"]
    app, log = serve(route(arm(path)), max_records=3)
    columns = {"income": [1.0] * 4, "age": [30] * 4, "tenure": [2.0] * 4}
    for payload in [
        {"dataframe_split": {"columns": ["income"], "data": [[1.0]] * 4}},
        {"inputs": columns},
        {"instances": [{}] * 4},
        {"dataframe_records": [{}] * 4},
    ]:
        answer = call(app, payload=payload)
        assert answer.status == 413, payload
        assert answer.json["detail"].startswith("4 records in one request; at most 3 are accepted")
    assert call(app, payload={"inputs": {name: values[:3] for name, values in columns.items()}}).status == 200
    assert log.rows and {row["kind"] for row in log.rows} == {"prediction"}


def test_errors_are_listed_up_to_a_hundred_with_their_count(models, serve):
    _, path = models["logreg"]
    app, log = serve(route(arm(path)))
    records = [{**record, "age": SECRET} for record in sample_records(250)]
    answer = call(app, payload={"records": records})

    assert answer.status == 422
    body = answer.json
    assert body["errors"] == [f"records[{i}].age: expected integer" for i in range(100)]
    assert body["error_count"] == 250
    [event] = log.rows
    assert event["errors"] == [*body["errors"], "… and 150 more errors not listed (250 in all)"]
    assert (event["error_count"], event["rows"]) == (250, 250)
    metrics = call(app, "/metrics", method="GET", headers=SCRAPER).body.decode()
    assert (
        metric(
            metrics, "inference_rejected_fields_total", endpoint="credit", field="age", problem="wrong_type"
        )
        == 100
    )


def test_first_errors_counts_what_it_does_not_list():
    from apps.packaging.bundle.templates.schema_check import first_errors, validate_records

    schema = {"features": [{"name": "a", "type": "number"}, {"name": "b", "type": "number"}]}
    records = [{"a": 1.0, "b": 2.0}] + [{}] * 4 + [{"a": "x", "b": 1.0}]
    every = validate_records(records, schema)
    assert len(every) == 9
    assert first_errors(records, schema, limit=3) == (every[:3], 9)
    assert first_errors(records, schema, limit=100) == (every, 9)
    assert first_errors(records[:1], schema, limit=3) == ([], 0)


def test_record_count_agrees_with_the_records_made():
    from apps.packaging.bundle.templates.schema_check import record_count, records_from_payload

    for payload in [
        {"records": [{"a": 1}, {"a": 2}]},
        {"dataframe_records": [{}]},
        {"instances": [{"a": 1}] * 3},
        {"instances": {"a": [1, 2], "b": [3, 4]}},
        {"inputs": {"a": [1, 2, 3]}},
        {"dataframe_split": {"columns": ["a"], "data": [[1], [2]]}},
    ]:
        assert record_count(payload) == len(records_from_payload(payload)), payload
    for refused in [[], {"records": {}}, {"records": [], "instances": []}, {"dataframe_split": []}, {}]:
        assert record_count(refused) == 0
