"""Bodies: refused by size before they are read, by nesting before they are parsed, by shape with a
message that says which shapes work; and the MLflow shapes accepted."""

import json

import pandas as pd
import pytest

from apps.serving.inference.payload import nesting_depth
from tests.unit.serving.conftest import FEATURES, NoReading, arm, call, route, sample_records


@pytest.fixture
def app_and_log(models, serve):
    _, path = models["logreg"]
    return serve(route(arm(path)), max_body_bytes=10_000, max_depth=8)


def test_a_body_over_the_limit_is_refused_before_it_is_read(app_and_log):
    app, log = app_and_log
    answer = call(app, length="10001", stream=NoReading())
    assert answer.status == 413
    assert "10000 bytes" in answer.json["detail"]
    assert log.rows == []


def test_a_body_without_content_length_is_refused(app_and_log):
    app, _ = app_and_log
    answer = call(app, length=None, stream=NoReading())
    assert answer.status == 411
    assert "Content-Length" in answer.json["detail"]


@pytest.mark.parametrize("length", ["ten", "-1"])
def test_a_malformed_content_length_is_refused(app_and_log, length):
    app, _ = app_and_log
    assert call(app, length=length, stream=NoReading()).status == 400


def test_a_body_shorter_than_declared_is_refused(app_and_log):
    app, _ = app_and_log
    assert call(app, body=b'{"records": []}', length="50").status == 400


def test_deep_nesting_is_refused_before_parsing(app_and_log):
    app, _ = app_and_log
    deep = '{"records": [' + "[" * 10 + "]" * 10 + "]}"
    answer = call(app, body=deep.encode())
    assert answer.status == 400
    assert "deeper than 8 levels" in answer.json["detail"]


def test_nesting_depth_ignores_brackets_inside_strings():
    assert nesting_depth(b"") == 0
    assert nesting_depth(b"42") == 0
    assert nesting_depth(b'{"a": [1, {"b": []}]}') == 4
    assert nesting_depth(b'{"a": "[[[[[[{{{{"}') == 1
    assert nesting_depth(b'{"a": "quote \\" [[[[ \\\\", "b": [[]]}') == 3
    assert nesting_depth(b"[" * 500) == 500  # unbalanced: counted all the same, then refused


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "not valid UTF-8 JSON"),
        (b"\xff\xfe", "not valid UTF-8 JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"rows": []}', "exactly one of records"),
        (b'{"records": [], "instances": []}', "exactly one of records"),
        (b'{"records": []}', "holds no records"),
        (b'{"records": [1]}', "records[0] must be an object"),
        (b'{"dataframe_split": {"columns": ["a"], "data": [[1, 2]]}}', "has 2 values for 1 columns"),
    ],
)
def test_shape_problems_are_400_with_a_clear_message(app_and_log, body, expected):
    app, log = app_and_log
    answer = call(app, body=body)
    assert answer.status == 400
    assert expected in answer.json["detail"]
    assert answer.json["request_id"]
    assert log.rows == []


def test_every_mlflow_shape_gives_the_same_predictions(models, app_and_log):
    model, _ = models["logreg"]
    app, _ = app_and_log
    records = sample_records(4)
    expected = model.predict(pd.DataFrame(records)[FEATURES]).tolist()
    shapes = [
        {"records": records},
        {"dataframe_records": records},
        {"dataframe_split": {"columns": FEATURES, "data": [[r[f] for f in FEATURES] for r in records]}},
        # columns in another order: the frame follows the schema's order, not the request's
        {
            "dataframe_split": {
                "columns": FEATURES[::-1],
                "data": [[r[f] for f in FEATURES[::-1]] for r in records],
            }
        },
        {"instances": records},
        {"inputs": {f: [r[f] for r in records] for f in FEATURES}},
    ]
    for payload in shapes:
        answer = call(app, body=json.dumps(payload).encode())
        assert answer.status == 200, (payload, answer.body)
        assert answer.json["predictions"] == expected
