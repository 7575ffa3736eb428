"""Numeric features with few distinct values (flags, terms, ratings, a 0/1 score) are profiled by value
and tested as categoricals: the p-value is SciPy's on the same counts, and a change of stated size is
tested whatever the number of distinct values (issue 15, point 1)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from apps.monitoring.stats import checks, drift, profiles, selection
from tests.shared_data import shared_path


def profiled(reference: pd.Series, current: pd.Series, kind="number"):
    spec = [{"name": "x", "type": kind}]
    ref = profiles.build_reference_profile(reference.rename("x").to_frame(), spec)
    window = profiles.profile_window(current.rename("x").to_frame(), ref)
    return ref, window, spec


def scipy_p(reference: pd.Series, current: pd.Series) -> float:
    """SciPy on the two columns' value counts, pooled as documented (rare columns, then Fisher)."""
    ref_counts = reference.dropna().astype(float).value_counts()
    cur_counts = current.dropna().astype(float).value_counts()
    names = list(ref_counts.index)
    unseen = cur_counts[~cur_counts.index.isin(names)].sum()
    table = np.array(
        [
            [*ref_counts.to_numpy(), 0],
            [*[cur_counts.get(v, 0) for v in names], unseen],
        ]
    )
    _, pooled = drift.merge_rare([str(v) for v in names] + ["unseen"], table)
    if pooled.shape[1] >= 2:
        return float(stats.chi2_contingency(pooled, correction=False).pvalue)
    full = table[:, table.sum(axis=0) > 0]
    top = int(np.argmax(full.sum(axis=0)))
    two = np.column_stack([full[:, top], full.sum(axis=1) - full[:, top]])
    return float(stats.fisher_exact(two).pvalue)


def test_a_flag_whose_share_doubles_is_tested_and_flagged():
    rng = np.random.default_rng(3)
    before = pd.Series((rng.random(1000) < 0.3).astype(int))
    after = pd.Series((rng.random(1000) < 0.6).astype(int))
    ref, window, spec = profiled(before, after, "integer")
    result = drift.chi_squared(ref["features"]["x"], window["features"]["x"])
    table = [[(before == 0).sum(), (before == 1).sum()], [(after == 0).sum(), (after == 1).sum()]]
    assert result.p_value == pytest.approx(stats.chi2_contingency(table, correction=False).pvalue, rel=1e-9)
    assert result.p_value < 1e-10 and "note" not in result.details
    [finding] = [f for f in checks.run_checks(ref, window, spec).findings if f.check == "drift"]
    assert finding.flagged and finding.effect_name == "jensen_shannon" and finding.effect_size > 0.1


def test_a_model_score_of_only_zero_or_one_is_tested_as_a_categorical():
    rng = np.random.default_rng(4)
    before = pd.Series((rng.random(500) < 0.2).astype(float))
    after = pd.Series((rng.random(500) < 0.45).astype(float))
    spec = [{"name": checks.SCORE, "type": "number"}]
    ref = profiles.build_reference_profile(before.rename(checks.SCORE).to_frame(), spec)
    window = profiles.profile_window(after.rename(checks.SCORE).to_frame(), ref)
    [finding] = [f for f in checks.run_checks(ref, window, spec).findings if f.check == "score_drift"]
    assert finding.test == "chi_squared" and finding.flagged
    assert finding.p_value == pytest.approx(scipy_p(before, after), rel=1e-9)


def test_a_rare_flag_gets_fishers_exact_test():
    # 1 of 40, then 8 of 40: the flag is expected 4.5 times a side, so pooling would leave one column.
    before, after = pd.Series([1] * 1 + [0] * 39), pd.Series([1] * 8 + [0] * 32)
    ref, window, _ = profiled(before, after, "integer")
    result = drift.chi_squared(ref["features"]["x"], window["features"]["x"])
    assert result.details["method"] == "fisher_exact"
    assert result.p_value == pytest.approx(stats.fisher_exact([[39, 1], [32, 8]]).pvalue, rel=1e-9)
    assert result.p_value < 0.05


def test_a_window_value_the_reference_never_had_is_counted_as_unseen():
    before = pd.Series([12] * 600 + [24] * 400)
    after = pd.Series([12] * 300 + [24] * 400 + [36] * 300)
    ref, window, _ = profiled(before, after, "integer")
    assert window["features"]["x"]["values"] == {"12": 300, "24": 400, "36": 300}
    result = drift.chi_squared(ref["features"]["x"], window["features"]["x"])
    assert result.details["columns"] == ["12", "24", drift.UNSEEN]
    assert result.p_value == pytest.approx(scipy_p(before, after), rel=1e-9)


def test_value_counts_add_up_under_merging():
    rng = np.random.default_rng(5)
    values = pd.Series(rng.choice([1, 2, 3, 4, 5], size=3000))
    ref, _, _ = profiled(values, values, "integer")
    parts = [profiles.profile_window(values.iloc[i::3].rename("x").to_frame(), ref) for i in range(3)]
    merged = profiles.merge_many(parts)
    assert merged["features"]["x"]["values"] == ref["features"]["x"]["values"]


def test_profiles_stored_before_value_counts_still_work():
    """A reference stored without "values"/"excess" is read as before: fine bins, no error."""
    rng = np.random.default_rng(6)
    before, after = pd.Series(rng.integers(0, 5, 5000)), pd.Series(rng.integers(0, 5, 5000))
    ref, window, spec = profiled(before, after, "integer")
    for profile in (ref, window):
        for key in ("values", "excess"):
            profile["features"]["x"].pop(key)
    result = checks.run_checks(ref, window, spec)
    assert [f.test for f in result.findings if f.check == "drift"] == ["chi_squared"]


def credit_columns():
    frames = {}
    for name in ("credit_data.csv", "lending_club_2016q1.csv", "loans_full_schema_2018q1.csv"):
        frames[name] = pd.read_csv(shared_path("credit", name))
    for name, frame in frames.items():
        half = len(frame) // 2
        for column in frame.columns:
            values = frame[column]
            if pd.api.types.is_numeric_dtype(values) and values.nunique() <= profiles.DISCRETE_MAX_DISTINCT:
                yield f"{name}:{column}", values.iloc[:half], values.iloc[half:]
    lc16, lc18 = frames["lending_club_2016q1.csv"], frames["loans_full_schema_2018q1.csv"]
    yield "lending club 2016→2018: term", lc16["term"].str.removeprefix("term_").astype(int), lc18["term"]


def test_every_few_valued_column_of_the_real_data_is_tested_with_scipys_p_value():
    tested = 0
    for label, before, after in credit_columns():
        ref, window, _ = profiled(before, after, "number")
        feature = ref["features"]["x"]
        choice = selection.choose("x", "numeric", feature["count"], 0, n_distinct=feature["distinct"])
        assert choice.test == "chi_squared", label
        result = drift.chi_squared(feature, window["features"]["x"])
        if feature["distinct"] == 1 and after.nunique() == 1:
            continue  # constant on both sides: nothing can differ
        assert "note" not in result.details, label
        assert result.p_value == pytest.approx(scipy_p(before, after), rel=1e-9), label
        tested += 1
    assert tested >= 15  # 18 columns in the three files


def _shifted(k: int, amount: float, rng, n: int, m: int):
    """k distinct values with even shares; the current side moves `amount` of the mass (total
    variation distance) from the lowest values to a value above them all."""
    levels = np.sort(rng.choice(1000, size=k, replace=False)).astype(float) / 7
    before = rng.choice(levels, size=n)
    after = rng.choice(levels, size=m)
    moved = rng.random(m) < amount
    after[moved] = levels[-1] + 1.0 if k <= profiles.DISCRETE_MAX_DISTINCT else levels[-1]
    return pd.Series(before), pd.Series(after)


@settings(max_examples=80, deadline=None)
@given(
    k=st.integers(min_value=1, max_value=60),
    n=st.integers(min_value=300, max_value=3000),
    m=st.integers(min_value=300, max_value=3000),
    seed=st.integers(min_value=0, max_value=2**31),
)
def test_a_change_of_total_variation_03_is_tested_and_flagged_whatever_the_distinct_count(k, n, m, seed):
    rng = np.random.default_rng(seed)
    before, after = _shifted(k, 0.3, rng, n, m)
    ref, window, spec = profiled(before, after, "number")
    [finding] = [f for f in checks.run_checks(ref, window, spec).findings if f.check == "drift"]
    assert "note" not in finding.details
    assert finding.p_value < 1e-6
    assert finding.flagged, finding
