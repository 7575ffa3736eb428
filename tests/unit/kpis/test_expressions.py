"""The KPI expression language: what it reads, what it refuses (without eval), what a bad row gives."""

import pytest

from apps.kpis.compute import Tally, point_result, tally_row
from apps.kpis.definitions import DefinitionError, check_fields, compile_kpi
from apps.kpis.expressions import ExpressionError, Row, parse

ROW = Row(
    inputs={"Amount": 1000, "Home": "rent", "Age": 30},
    prediction="good",
    score=0.8,
    outcome="bad",
    has_outcome=True,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('prediction == "good"', True),
        ("prediction != 'good'", False),
        ('inputs.Home in ["rent", "other"]', True),
        ('inputs["Home"] not in ["owner"]', True),
        ("score >= 0.5 and inputs.Age < 40", True),
        ("0.1 * inputs.Amount", 100.0),
        ("-inputs.Amount", -1000.0),
        ("inputs.Missing is None", True),
        ("inputs.Amount / 0", None),
        ("inputs.Missing + 1", None),
        ("max(inputs.Amount, 2000) - abs(-5)", 1995.0),
        ("1 if outcome == 'bad' else 0", 1),
        ("not (prediction == 'bad')", True),
    ],
)
def test_evaluates(text, expected):
    assert parse(text).evaluate(ROW) == expected


def test_labels_compare_across_types():
    assert parse("prediction == 1").is_true(Row(inputs={}, prediction="1"))
    assert parse("prediction == '1'").is_true(Row(inputs={}, prediction=1.0))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("__import__('os').system('x')", "only the functions"),
        ("inputs.Amount ** 2", "only + - * /"),
        ("ROW", "unknown field 'ROW'"),
        ("inputs", "name the request field"),
        ("prediction.__class__", "only inputs.<field>"),
        ("[x for x in inputs]", "is not allowed"),
        ("prediction ==", "cannot be read"),
        ("", "an expression is needed"),
        ("lambda: 1", "is not allowed"),
    ],
)
def test_refuses(text, fragment):
    with pytest.raises(
        ExpressionError, match=fragment.replace("(", r"\(").replace("*", r"\*").replace("+", r"\+")
    ):
        parse(text)


def test_definition_errors_name_the_field_path():
    with pytest.raises(DefinitionError) as caught:
        compile_kpi("rate_among", {"condition": "outcome =="}, ["inputs.Home === 1"])
    assert set(caught.value.errors) == {"params.among", "params.condition", "segments[0]"}
    compiled = compile_kpi("share", {"condition": "inputs.FICO > 600 and score > 0.5"}, [])
    errors = check_fields(compiled, features={"Amount", "Home"}, has_scores=False)
    assert "'inputs.FICO'" in errors["params.condition"]


def test_empty_subset_is_insufficient_with_a_message():
    kpi = compile_kpi("rate_among", {"among": 'prediction == "good"', "condition": 'outcome == "bad"'}, [])
    tally = Tally(kind="rate_among")
    for _ in range(5):
        tally_row(kpi, tally, Row(inputs={}, prediction="bad", outcome="good", has_outcome=True))
    result = point_result(kpi, tally)
    assert result.status == "insufficient" and result.value is None
    assert 'no prediction in this window meets prediction == "good"' in result.message


def test_rows_waiting_for_outcomes_are_left_out_and_said():
    kpi = compile_kpi("mean", {"by_outcome": {"good": "0.1 * inputs.Amount", "bad": "-inputs.Amount"}}, [])
    tally = Tally(kind="mean")
    tally_row(kpi, tally, Row(inputs={"Amount": 1000}, prediction="good", outcome="good", has_outcome=True))
    tally_row(kpi, tally, Row(inputs={"Amount": 500}, prediction="good", outcome="bad", has_outcome=True))
    tally_row(kpi, tally, Row(inputs={"Amount": 700}, prediction="good"))
    result = point_result(kpi, tally, band_low=0)
    assert result.value == pytest.approx((100 - 500) / 2)
    assert result.status == "out_of_band"
    assert "1 of 3 predictions still wait for an outcome" in result.message
