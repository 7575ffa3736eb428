"""The judging half of validation: sandbox answers in, checks out. No database, no sandbox."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from apps.packaging import validation
from apps.packaging.metrics import threshold_problems

SCHEMA = {
    "features": [
        {"name": "age", "type": "integer", "nullable": False, "min": 18, "max": 70},
        {"name": "income", "type": "number", "nullable": True, "min": 0.0, "max": 900.0},
        {"name": "home", "type": "categorical", "nullable": True, "categories": ["own", "rent"]},
    ]
}
OUTPUTS = {
    "outputs": [
        {"name": "prediction", "type": "categorical", "categories": ["bad", "good"]},
        {"name": "probabilities", "type": "probabilities", "classes": ["bad", "good"]},
    ]
}


def answer(n, **changes):
    rng = np.random.default_rng(0)
    p = rng.uniform(size=n)
    response = {
        "ok": True,
        "kind": "classifier",
        "classes": ["bad", "good"],
        "predictions": ["good" if x > 0.5 else "bad" for x in p],
        "probabilities": [[1 - x, x] for x in p],
        "deterministic": True,
        "latency_ms_per_row": 0.05,
        "null_rows": {"ok": True, "error": None, "rows": 20},
        "load_seconds": 0.3,
    }
    response.update(changes)
    return response


def statuses(report):
    return {c.name: c.status for c in report.checks}


def test_a_good_answer_passes_every_check():
    report = validation.evaluate(
        response=answer(100),
        sample_rows=100,
        output_schema=OUTPUTS,
        task_type="binary_classification",
        latency_budget_ms=1.0,
    )
    assert report.passed
    assert statuses(report) == {
        "loads": "pass",
        "predicts on the reference sample": "pass",
        "outputs match the output schema": "pass",
        "same input gives the same output": "pass",
        "rows with allowed nulls": "pass",
        "latency per row": "pass",
        "holdout metric": "skip",
        "changed predictions vs previous version": "skip",
    }


@pytest.mark.parametrize(
    ("changes", "failing"),
    [
        ({"predictions": ["maybe"] * 100}, "outputs match the output schema"),
        ({"probabilities": [[0.7, 0.7]] * 100}, "outputs match the output schema"),
        ({"deterministic": False}, "same input gives the same output"),
        ({"null_rows": {"ok": False, "error": "ValueError: NaN", "rows": 20}}, "rows with allowed nulls"),
        ({"latency_ms_per_row": 3.5}, "latency per row"),
        ({"predictions": ["good"] * 99}, "predicts on the reference sample"),
    ],
)
def test_each_problem_fails_its_own_check(changes, failing):
    report = validation.evaluate(
        response=answer(100, **changes),
        sample_rows=100,
        output_schema=OUTPUTS,
        task_type="binary_classification",
        latency_budget_ms=1.0,
    )
    assert not report.passed
    assert statuses(report)[failing] == "fail"


def test_a_sandbox_failure_is_the_loads_check_with_its_reason():
    response = {"ok": False, "stage": "timeout", "error": "the model did not finish within 5 s"}
    report = validation.evaluate(
        response=response,
        sample_rows=10,
        output_schema=OUTPUTS,
        task_type="binary_classification",
        latency_budget_ms=1.0,
    )
    assert [(c.name, c.status) for c in report.checks] == [("loads", "fail")]
    assert "within 5 s" in report.checks[0].detail


def test_holdout_auc_matches_scikit_learn_and_is_held_to_its_threshold():
    rng = np.random.default_rng(3)
    labels = pd.Series(rng.choice(["bad", "good"], 200))
    score = np.where(labels == "good", rng.uniform(0.3, 1, 200), rng.uniform(0, 0.7, 200))
    response = answer(50)
    response["predictions"] += ["good" if s > 0.5 else "bad" for s in score]
    response["probabilities"] += [[1 - s, s] for s in score]
    expected = roc_auc_score(labels == "good", score)
    for bound, verdict in ((expected - 0.01, "pass"), (expected + 0.01, "fail")):
        report = validation.evaluate(
            response=response,
            sample_rows=50,
            output_schema=OUTPUTS,
            task_type="binary_classification",
            latency_budget_ms=1.0,
            holdout_labels=labels,
            thresholds={"roc_auc": bound},
        )
        check = next(c for c in report.checks if c.name == "holdout roc_auc")
        assert check.value == pytest.approx(expected)
        assert check.status == verdict


def test_error_metrics_are_maxima():
    truth = pd.Series([1.0, 2.0, 3.0, 4.0])
    response = answer(0, kind="regressor", classes=None, probabilities=None, predictions=[1.5, 2.5, 2.5, 4.5])
    outputs = {"outputs": [{"name": "prediction", "type": "number"}]}
    report = validation.evaluate(
        response=response,
        sample_rows=0,
        output_schema=outputs,
        task_type="regression",
        latency_budget_ms=1.0,
        holdout_labels=truth,
        thresholds={"rmse": 0.6, "mae": 0.4},
    )
    by_name = {c.name: c for c in report.checks}
    assert by_name["holdout rmse"].value == pytest.approx(0.5) and by_name["holdout rmse"].status == "pass"
    assert by_name["holdout mae"].value == pytest.approx(0.5) and by_name["holdout mae"].status == "fail"


def test_thresholds_without_holdout_fail():
    report = validation.evaluate(
        response=answer(10),
        sample_rows=10,
        output_schema=OUTPUTS,
        task_type="binary_classification",
        latency_budget_ms=1.0,
        thresholds={"roc_auc": 0.7},
    )
    assert statuses(report)["holdout metric"] == "fail"


def test_class_indices_from_native_boosters_are_read_as_the_schema_classes():
    response = answer(4, classes=[0, 1], predictions=[0, 1, 1.0, 0.0])
    decoded = validation.decode_labels(response, OUTPUTS)
    assert decoded["predictions"] == ["bad", "good", "good", "bad"]
    assert decoded["classes"] == ["bad", "good"]
    report = validation.evaluate(
        response=response,
        sample_rows=4,
        output_schema=OUTPUTS,
        task_type="binary_classification",
        latency_budget_ms=1.0,
    )
    assert statuses(report)["outputs match the output schema"] == "pass"


def test_changed_predictions_share():
    report = validation.evaluate(
        response=answer(4, predictions=["good", "good", "bad", "bad"]),
        sample_rows=4,
        output_schema=OUTPUTS,
        task_type="binary_classification",
        latency_budget_ms=1.0,
        previous_predictions=["good", "bad", "bad", "good"],
    )
    check = next(c for c in report.checks if c.name.startswith("changed"))
    assert check.status == "info" and check.value == pytest.approx(0.5)


def test_samples_follow_the_schema():
    synthetic = validation.synthetic_sample(SCHEMA, rows=200)
    assert list(synthetic.columns) == ["age", "income", "home"]
    assert synthetic["age"].between(18, 70).all() and synthetic["income"].between(0, 900).all()
    assert set(synthetic["home"]) <= {"own", "rent"}
    nulls = validation.null_sample(synthetic, SCHEMA, rows=10)
    assert nulls["age"].notna().all()  # not nullable: never blanked
    assert nulls["income"].isna().sum() + nulls["home"].isna().sum() == 10
    assert validation.null_sample(synthetic, {"features": [SCHEMA["features"][0]]}) is None


def test_threshold_problems_name_the_metric():
    assert threshold_problems({"roc_auc": 0.7}, "binary_classification") == []
    problems = threshold_problems({"auc": 0.7, "rmse": 1, "accuracy": "high"}, "binary_classification")
    assert any("'auc' is not a known metric" in p for p in problems)
    assert any("'rmse' does not apply" in p for p in problems)
    assert any("'accuracy': the bound must be a number" in p for p in problems)
