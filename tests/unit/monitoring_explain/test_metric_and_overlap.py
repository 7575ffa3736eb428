"""The pure parts of the root-cause explorer: the metric an alert follows, and broader slices left
out when a smaller listed slice inside them carries their change."""

import json

import numpy as np
import pandas as pd
import pytest

from apps.monitoring.explain_charts import explanation_figure
from apps.monitoring.explain_metric import MetricUnavailable, choose, restates
from apps.monitoring.stats.slice_model import Condition, Explanation, Slice, SliceMetric, SliceResult
from apps.monitoring.stats.slice_overlap import drop_broader

SPECS = [{"name": "Income", "type": "number"}, {"name": "Home", "type": "categorical"}]


def frames():
    reference = pd.DataFrame(
        {
            "Income": [10.0, 0.0, None, 40.0],
            "Home": ["rent", "own", "own", "own"],
            "__prediction__": ["good", "good", "bad", "good"],
            "__score__": [0.9, 0.8, 0.3, 0.7],
            "__outcome__": [None] * 4,
        }
    )
    current = reference.assign(
        Home=["rent", "rent", "rent", "own"], __prediction__=["bad", "bad", "bad", "good"]
    )
    return reference, current


def test_the_metric_follows_the_alert():
    reference, current = frames()
    share = choose(
        check="class_share",
        feature="__prediction__",
        task_type="binary_classification",
        specs=SPECS,
        reference=reference,
        current=current,
    )
    assert share == SliceMetric.prediction_share("bad")  # a binary tie goes to the class that rose
    home = choose(
        check="drift",
        feature="Home",
        task_type="binary_classification",
        specs=SPECS,
        reference=reference,
        current=current,
    )
    assert (home.kind, home.column, home.value) == ("share", "Home", "rent")
    assert choose(
        check="drift",
        feature="Income",
        task_type="binary_classification",
        specs=SPECS,
        reference=reference,
        current=current,
    ) == SliceMetric.feature_mean("Income")
    missing = choose(
        check="null_rate",
        feature="Income",
        task_type="binary_classification",
        specs=SPECS,
        reference=reference,
        current=current,
    )
    assert missing.column == "Income missing" and current["Income missing"].tolist() == [
        "no",
        "no",
        "yes",
        "no",
    ]
    assert (
        choose(
            check="score_drift",
            feature="__score__",
            task_type="binary_classification",
            specs=SPECS,
            reference=reference,
            current=current,
        ).kind
        == "mean"
    )
    with pytest.raises(MetricUnavailable, match="no outcomes"):
        choose(
            check="performance",
            feature="__prediction__",
            task_type="binary_classification",
            specs=SPECS,
            reference=reference,
            current=current,
        )
    with pytest.raises(MetricUnavailable, match="'Nope'"):
        choose(
            check="drift",
            feature="Nope",
            task_type="binary_classification",
            specs=SPECS,
            reference=reference,
            current=current,
        )


def test_a_score_bracket_restates_the_predicted_share_but_not_the_error_rate():
    bracket = {"from": "__score__", "transform": "scorecard"}
    assert restates(SliceMetric.prediction_share("bad"), bracket)
    assert not restates(SliceMetric.error_rate("__outcome__"), bracket)
    assert not restates(SliceMetric.feature_mean("Income"), bracket)


def explanation(the_slice: Slice, points: float) -> Explanation:
    return Explanation(the_slice, 10, 10, 0.2, 0.5, 0.3, 1e-6, 1e-5, points / 0.1, points, "…")


def test_a_broader_slice_holding_most_of_a_smaller_ones_rows_is_left_out():
    rng = np.random.default_rng(0)
    current = pd.DataFrame({"Debt": rng.integers(0, 3, 1000), "Home": rng.choice(["rent", "own"], 1000)})
    current.loc[current["Home"] == "rent", "Debt"] = 0  # every renter has no debt
    renters = Slice.of(Condition("Home", "category", value="rent"))
    no_debt = Slice.of(Condition("Debt", "range", high=1.0))
    result = SliceResult([explanation(no_debt, 0.10), explanation(renters, 0.09)], 50, 0.05, {})
    kept, dropped = drop_broader(result, current)
    assert dropped == 1 and [e.slice for e in kept.explanations] == [renters]
    # Not when the smaller slice carries too little of the broader one's change, or the other way.
    for points in (0.05, -0.09):
        result = SliceResult([explanation(no_debt, 0.10), explanation(renters, points)], 50, 0.05, {})
        assert drop_broader(result, current)[1] == 0


def test_each_chart_shows_the_slice_and_the_overall_in_percent():
    e = {"metric_reference": 0.6, "metric_current": 0.83}
    figure = json.loads(
        explanation_figure(e, {"reference": 0.23, "current": 0.32}, percent=True, baseline="reference")
    )
    bars, line = figure["data"]
    assert bars["y"] == [60.0, 83.0] and line["y"] == [23.0, 32.0] and line["line"]["dash"] == "dash"
    assert bars["x"] == ["reference", "window"] and figure["layout"]["yaxis"]["ticksuffix"] == "%"
