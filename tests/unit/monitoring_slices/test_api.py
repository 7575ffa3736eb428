"""The slice finder's contract: drill-down, JSON round trips, sentences, readable bins, contributions
that add up, derived features and errors that name the problem."""

import json

import numpy as np
import pandas as pd
import pytest

from apps.monitoring.stats import slice_cells, slice_words
from apps.monitoring.stats.slice_derived import TEMPLATE_DERIVED, scorecard
from apps.monitoring.stats.slices import (
    Condition,
    Explanation,
    Slice,
    SliceMetric,
    SliceResult,
    find_slices,
    template_pairs,
)
from tests.unit.monitoring_slices.conftest import (
    CREDIT_CATEGORICAL,
    CREDIT_NUMERIC,
    profile_edges,
    schema,
    split,
)

APPROVAL = SliceMetric.prediction_share("good", words="approval rate")


@pytest.fixture(scope="module")
def planted(credit):
    """Credit halves with half of the approvals of part-time workers turned down in the current one."""
    reference, current = split(credit, seed=3)
    rng = np.random.default_rng(3)
    flip = (
        (current["Job"] == "partime")
        & (current["__prediction__"] == "good")
        & (rng.random(len(current)) < 0.5)
    )
    current = current.copy()
    current.loc[flip, "__prediction__"] = "bad"
    return reference, current


def run(reference, current, **kwargs):
    kwargs.setdefault("edges", profile_edges(pd.concat([reference, current]), CREDIT_NUMERIC))
    return find_slices(
        reference, current, metric=APPROVAL, features=schema(CREDIT_NUMERIC, CREDIT_CATEGORICAL), **kwargs
    )


def test_the_planted_slice_comes_first_with_honest_numbers(planted):
    reference, current = planted
    result = run(reference, current)
    top = result.explanations[0]
    # Half of the approvals flipped: most of the change is where approvals were (no criminal record),
    # so "Job = partime" may come with "and Records = no".
    assert Condition("Job", "category", value="partime") in top.slice.conditions
    inside_r, inside_c = top.slice.mask(reference), top.slice.mask(current)
    assert top.support_reference == inside_r.sum() and top.support_current == inside_c.sum()
    assert top.metric_reference == pytest.approx((reference.loc[inside_r, "__prediction__"] == "good").mean())
    assert top.metric_current == pytest.approx((current.loc[inside_c, "__prediction__"] == "good").mean())
    assert top.adjusted_p <= result.q and top.p_value <= top.adjusted_p
    assert result.tests_run > 300  # singles and pairs, all counted for Benjamini–Hochberg
    assert 0.5 < top.contribution < 1.2
    assert top.sentence.startswith(f"{top.slice.words()}: approval rate fell from ")
    assert top.sentence.endswith("of the overall drop") and f"(n = {inside_c.sum():,})" in top.sentence


def test_drill_down_returns_slices_inside_the_chosen_one(planted):
    reference, current = planted
    within = Slice.of(Condition("Records", "category", value="no"))
    result = run(reference, current, within=within)
    assert result.within == within
    assert result.overall["rows_current"] == within.mask(current).sum()
    assert result.explanations, "inside applicants without records, part-time workers still stand out"
    assert any("Job = partime" in e.sentence for e in result.explanations)
    for explanation in result.explanations:
        assert "Records" in explanation.slice.features
        assert not (explanation.slice.mask(current) & ~within.mask(current)).any()
        assert not (explanation.slice.mask(reference) & ~within.mask(reference)).any()


def test_drill_down_into_a_range_rebins_inside_it(planted):
    reference, current = planted
    within = Slice.of(Condition("Age", "range", low=30, high=50, integer=True))
    result = run(reference, current, within=within, edges=None)
    for explanation in result.explanations:
        age = [c for c in explanation.slice.conditions if c.feature == "Age"][0]
        assert age.low is not None and age.low >= 30 and age.high is not None and age.high <= 50


def test_results_round_trip_through_json(planted):
    reference, current = planted
    result = run(reference, current, within=Slice.of(Condition("Records", "category", value="no")))
    text = json.dumps(result.to_dict())
    again = SliceResult.from_dict(json.loads(text))
    assert again.to_dict() == result.to_dict()
    for before, after in zip(result.explanations, again.explanations, strict=True):
        assert after.slice == before.slice and hash(after.slice) == hash(before.slice)
    assert Explanation.from_dict(result.explanations[0].to_dict()).sentence == result.explanations[0].sentence
    assert SliceMetric.from_dict(APPROVAL.to_dict()) == APPROVAL


def test_a_slice_is_a_set_of_conditions_in_any_order():
    a = Condition("Age", "range", low=25, high=35, integer=True)
    b = Condition("Home", "category", value="rent")
    assert Slice.of(a, b) == Slice.of(b, a)
    assert len({Slice.of(a, b), Slice.of(b, a)}) == 1
    narrowed = Slice.of(a).and_(Condition("Age", "range", low=30, high=None, integer=True))
    assert narrowed.conditions == (Condition("Age", "range", low=30, high=35, integer=True),)
    with pytest.raises(ValueError, match="cannot both hold"):
        Slice.of(b).and_(Condition("Home", "category", value="owner"))


def test_sentences_read_as_the_issue_writes_them():
    condition = Slice.of(
        Condition("score", "range", low=600, high=650, label="FICO-like score"),
        Condition("Age", "range", low=25, high=36, integer=True),
    )
    text = slice_words.sentence(
        condition.words(),
        words="approval rate",
        percent=True,
        reference=0.71,
        current=0.28,
        support=4213,
        contribution=0.62,
        overall_change=-0.1,
    )
    assert text == (
        "Age 25–35 and FICO-like score 600–650: approval rate fell from 71% to 28% (n = 4,213); "
        "accounts for 62% of the overall drop"
    )
    assert "works against the overall rise" in slice_words.sentence(
        "Home = rent",
        words="error rate",
        percent=True,
        reference=0.2,
        current=0.1,
        support=50,
        contribution=-0.3,
        overall_change=0.05,
    )


def test_bin_edges_read_well_and_bound_exactly_the_rows_tested():
    edges = slice_words.readable_edges(np.array([24.999999, 35.00001, 47.3333]), integer=False)
    assert edges.tolist() == [25.0, 35.0, 47.0]
    assert slice_words.interval(25, 35, integer=True) == "25–34"
    assert slice_words.interval(None, 0.35, integer=False) == "< 0.35"
    assert slice_words.interval(12500, None, integer=False) == "≥ 12,500"
    values = np.array([24.0, 25.0, 34.0, 35.0, np.nan])
    assert Condition("Age", "range", low=25, high=35).mask(values).tolist() == [
        False,
        True,
        True,
        False,
        False,
    ]
    assert Condition("Age", "missing").mask(values).tolist() == [False] * 4 + [True]


def test_numeric_bins_are_reference_quantiles_and_skewed_features_get_a_bin_at_the_minimum(credit):
    column = slice_cells.Column(
        "Debt", "Debt", "numeric", credit["Debt"].to_numpy(float), credit["Debt"].to_numpy(float)
    )
    edges, integer = slice_cells.numeric_edges(column, 5)
    assert integer and edges[0] > 0  # Debt is mostly 0: "Debt < first positive edge" is the zero slice
    coded = slice_cells.code(column, 5)
    assert coded.conditions[0].high == edges[0]
    assert (coded.reference == 0).sum() == (credit["Debt"] < edges[0]).sum()


def test_contributions_of_one_features_slices_add_up_to_the_whole_change(planted):
    reference, current = planted
    y_r = (reference["__prediction__"] == "good").to_numpy(float)
    y_c = (current["__prediction__"] == "good").to_numpy(float)
    for feature, kind in (("Home", "categorical"), ("Income", "numeric")):
        if kind == "numeric":
            values = [f[feature].to_numpy(float) for f in (reference, current)]
        else:
            values = [
                f[feature].astype(object).where(f[feature].notna(), None).to_numpy()
                for f in (reference, current)
            ]
        coded = slice_cells.code(slice_cells.Column(feature, feature, kind, *values), 5)
        cells = slice_cells.single_cells(0, coded, y_r, y_c, squares=False)
        mean = (y_r.mean() + y_c.mean()) / 2
        parts = slice_cells.contributions(cells, (len(y_r), len(y_c)), mean)
        assert parts.sum() == pytest.approx(y_c.mean() - y_r.mean())


def test_a_change_everywhere_is_not_blamed_on_any_slice(credit):
    """Every approval turned down with the same probability: nothing stands out from the rest."""
    reference, current = split(credit, seed=11)
    rng = np.random.default_rng(11)
    current = current.copy()
    current.loc[
        (current["__prediction__"] == "good") & (rng.random(len(current)) < 0.2), "__prediction__"
    ] = "bad"
    result = run(reference, current)
    assert result.overall["change"] < -0.1
    assert len(result.explanations) <= 1


def test_error_rate_and_mean_metrics(credit):
    reference, current = split(credit, seed=5)
    wrong = current.copy()
    rng = np.random.default_rng(5)
    approved = (wrong["__prediction__"] == "good") & (wrong["Status"] == "good")
    flip = (wrong["Job"] == "partime") & approved & (rng.random(len(wrong)) < 0.6)
    wrong.loc[flip, "Status"] = "bad"  # outcomes: many approved part-time loans went bad
    errors = find_slices(
        reference,
        wrong,
        metric=SliceMetric.error_rate("Status"),
        features=schema(CREDIT_NUMERIC, CREDIT_CATEGORICAL),
    )
    top = errors.explanations[0]
    assert "Job = partime" in top.slice.words() and top.metric_current > top.metric_reference
    shifted = current.copy()
    shifted.loc[shifted["Home"] == "owner", "__score__"] -= 0.2
    means = find_slices(
        reference,
        shifted,
        metric=SliceMetric.mean_score(),
        features=schema(CREDIT_NUMERIC, CREDIT_CATEGORICAL),
    )
    assert Condition("Home", "category", value="owner") in means.explanations[0].slice.conditions
    assert "mean score fell from 0.8" in means.explanations[0].sentence


def test_template_pairs_and_derived_features(planted):
    reference, current = planted
    pairs, marked = template_pairs([["score bracket", "age"], ["predicted class"]])
    assert pairs == [("score bracket", "age")] and marked == ["score bracket", "age", "predicted class"]
    derived = {"score bracket": TEMPLATE_DERIVED["score bracket"]}
    result = run(reference, current, pairs=pairs, marked=["score bracket", "age"], derived=derived)
    assert result.notes and "not a bureau score" in result.notes[0]
    for explanation in result.explanations:
        assert bool(explanation.notes) == ("FICO-like score" in explanation.sentence)
    assert scorecard(np.array([50 / 51]))[0] == pytest.approx(600)
    assert scorecard(np.array([100 / 101]))[0] == pytest.approx(620)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda kw: kw.update(features=[{"name": "Salary", "type": "number"}]),
            "feature 'Salary' is not a column",
        ),
        (lambda kw: kw.update(current=kw["current"].iloc[:0]), "the current window is empty"),
        (
            lambda kw: kw.update(metric=SliceMetric.error_rate("Outcome")),
            "metric column 'Outcome' is missing",
        ),
        (lambda kw: kw.update(pairs=[("Age", "Zodiac")]), "pairs: unknown feature 'Zodiac'"),
        (lambda kw: kw.update(q=1.5), "q: the false-discovery rate"),
        (lambda kw: kw.update(derived={"x": {"from": "nope"}}), "derived feature 'x': source column 'nope'"),
        (
            lambda kw: kw.update(within=Slice.of(Condition("Zodiac", "missing"))),
            "within: unknown feature 'Zodiac'",
        ),
        (lambda kw: kw.update(edges={"Home": [1, 2]}), "edges for 'Home'"),
    ],
)
def test_bad_input_names_the_problem(planted, change, message):
    reference, current = planted
    kwargs = {
        "reference": reference,
        "current": current,
        "metric": APPROVAL,
        "features": schema(CREDIT_NUMERIC, CREDIT_CATEGORICAL),
    }
    change(kwargs)
    with pytest.raises(ValueError, match=message):
        find_slices(kwargs.pop("reference"), kwargs.pop("current"), **kwargs)
