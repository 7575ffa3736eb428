"""Planted changes in real data are found, and nothing planted means (almost) nothing reported.

Each planting splits the real rows at random into a reference and a current window, then changes the
metric for the rows of one slice of the current window only: "good" predictions flipped to "bad"
(credit_data.csv, approval rate) or outcomes flipped from "good" to "bad" (lending_club_2016q1.csv,
error rate). The slices are cut on the finder's own bins, so "found" means the reported slice holds
(nearly) the same rows: Jaccard overlap at least 0.8 with the planted rows.
"""

import numpy as np
import pytest

from apps.monitoring.stats import slice_cells, slice_words
from apps.monitoring.stats.slice_model import labels
from apps.monitoring.stats.slices import Slice, SliceMetric, find_slices
from tests.unit.monitoring_slices.conftest import (
    CREDIT_CATEGORICAL,
    CREDIT_NUMERIC,
    LENDING_CATEGORICAL,
    LENDING_NUMERIC,
    profile_edges,
    schema,
    split,
)

PLANTINGS = 20
NULL_RUNS = 100
Q = 0.05
APPROVAL = SliceMetric.prediction_share("good", words="approval rate")
ERRORS = SliceMetric.error_rate("Class")


def conditions(reference, current, feature, kind, edges):
    """The finder's own slices of one feature (bins on the profile's edges, or categories)."""
    if kind == "numeric":
        cuts = slice_words.readable_edges(np.asarray(edges[feature]), integer=False).tolist()
        to_values = slice_cells.Column(
            feature,
            feature,
            kind,
            *(frame[feature].to_numpy(dtype=float) for frame in (reference, current)),
            cuts,
        )
    else:
        to_values = slice_cells.Column(
            feature, feature, kind, labels(reference[feature]), labels(current[feature])
        )
    return [c for c in slice_cells.code(to_values, 5).conditions if c is not None and c.kind != "missing"]


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return (a & b).sum() / max((a | b).sum(), 1)


def found(result, current, planted: np.ndarray, top: int = 5) -> bool:
    return any(jaccard(e.slice.mask(current), planted) >= 0.8 for e in result.explanations[:top])


def pick_single(reference, current, rng, numeric, categorical, eligible, edges):
    while True:
        feature = rng.choice(numeric + categorical)
        kind = "numeric" if feature in numeric else "categorical"
        options = conditions(reference, current, feature, kind, edges)
        condition = options[rng.integers(len(options))]
        the_slice = Slice.of(condition)
        mask = the_slice.mask(current)
        if 0.05 <= mask.mean() <= 0.3 and eligible(current, mask):
            return the_slice, mask


def pick_pair(reference, current, rng, numeric, categorical, eligible, edges):
    """A cell of a categorical × numeric pair that is at most 40 % of either parent: neither feature
    alone explains it."""
    while True:
        cat, num = rng.choice(categorical), rng.choice(numeric)
        a = rng.choice(conditions(reference, current, cat, "categorical", edges))
        b = rng.choice(conditions(reference, current, num, "numeric", edges))
        mask, mask_a, mask_b = (
            Slice.of(a, b).mask(current),
            Slice.of(a).mask(current),
            Slice.of(b).mask(current),
        )
        if (
            mask.sum() >= 80
            and mask.sum() <= 0.4 * min(mask_a.sum(), mask_b.sum())
            and eligible(current, mask)
        ):
            return Slice.of(a, b), mask


def approving(current, mask):
    return (current.loc[mask, "__prediction__"] == "good").mean() >= 0.4


def plant_approval(current, mask, rng, share):
    current = current.copy()
    flip = mask & (current["__prediction__"] == "good").to_numpy() & (rng.random(len(current)) < share)
    current.loc[flip, "__prediction__"] = "bad"
    return current


def plant_errors(current, mask, rng, share):
    current = current.copy()
    flip = mask & (current["Class"] == "good").to_numpy() & (rng.random(len(current)) < share)
    current.loc[flip, "Class"] = "bad"
    return current


CASES = {
    "credit": ("credit", APPROVAL, CREDIT_NUMERIC, CREDIT_CATEGORICAL, plant_approval, approving),
    "lending": ("lending", ERRORS, LENDING_NUMERIC, LENDING_CATEGORICAL, plant_errors, lambda c, m: True),
}


@pytest.mark.parametrize("shape", ["single", "pair"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_planted_slices_are_in_the_top_five(request, case, shape):
    data_name, metric, numeric, categorical, plant, eligible = CASES[case]
    data = request.getfixturevalue(data_name)
    features = schema(numeric, categorical)
    edges = profile_edges(data, numeric)
    rng = np.random.default_rng(7)
    hits, misses = 0, []
    for run in range(PLANTINGS):
        reference, current = split(data, seed=1000 + run)
        pick = pick_single if shape == "single" else pick_pair
        planted, mask = pick(reference, current, rng, numeric, categorical, eligible, edges)
        changed = plant(current, mask, rng, share=0.5 if shape == "single" else 0.6)
        result = find_slices(reference, changed, metric=metric, features=features, q=Q, edges=edges)
        if found(result, changed, mask):
            hits += 1
        else:
            misses.append((planted.words(), [e.sentence for e in result.explanations[:5]]))
    assert hits / PLANTINGS >= 0.9, misses


@pytest.mark.parametrize("case", sorted(CASES))
def test_nothing_planted_reports_at_most_q_on_average(request, case):
    """Two random halves of the same rows: every null hypothesis is true, so Benjamini–Hochberg keeps
    the chance of reporting anything at all at most q (its false-discovery rate is then the chance of
    any discovery). Pruning leaves about one explanation per false alarm, so the average number
    reported should also stay near q; with 100 runs we allow the binomial noise of a rate of q (a
    one-sided 95 % bound: q + 1.645·sqrt(q(1−q)/100) ≈ 0.086)."""
    data_name, metric, numeric, categorical, _, _ = CASES[case]
    data = request.getfixturevalue(data_name)
    features = schema(numeric, categorical)
    edges = profile_edges(data, numeric)
    reported, any_reported, tests = [], [], []
    for run in range(NULL_RUNS):
        reference, current = split(data, seed=run)
        result = find_slices(reference, current, metric=metric, features=features, q=Q, edges=edges)
        reported.append(len(result.explanations))
        any_reported.append(bool(result.explanations))
        tests.append(result.tests_run)
    bound = Q + 1.645 * np.sqrt(Q * (1 - Q) / NULL_RUNS)
    assert min(tests) > 100  # pairs were tested too
    assert np.mean(any_reported) <= bound
    assert np.mean(reported) <= bound, reported
