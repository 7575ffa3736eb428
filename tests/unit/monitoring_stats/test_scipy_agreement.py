"""Our statistics agree with SciPy's wherever SciPy has the test."""

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats
from scipy.spatial.distance import jensenshannon

from apps.monitoring.stats import drift, multiplicity, prediction, profiles

NUMBER = {"name": "x", "type": "number", "nullable": False}


def reference_of(values, spec=NUMBER, **kwargs):
    frame = pd.DataFrame({spec["name"]: values})
    return profiles.build_reference_profile(frame, [spec], **kwargs)["features"][spec["name"]]


def test_ks_on_small_raw_samples_is_scipys_exact_test():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=800), rng.normal(0.1, size=600)
    ours = drift.ks(reference_of(a), b)
    theirs = stats.ks_2samp(a, b, method="exact")
    assert ours.statistic == pytest.approx(theirs.statistic)
    assert ours.p_value == pytest.approx(theirs.pvalue)
    assert ours.details["method"] == "exact"


def test_ks_against_a_large_reference_uses_its_quantile_grid_and_the_asymptotic_p_value():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=200_000), rng.normal(0.03, size=5_000)
    ours = drift.ks(reference_of(a), b)
    d = stats.ks_2samp(a, b).statistic
    assert ours.details["source"] == "quantile_grid"
    assert ours.statistic == pytest.approx(d, abs=2e-3)  # a 1,001-point grid: CDF within 1/1000
    en = np.sqrt(200_000 * 5_000 / 205_000)
    assert ours.p_value == pytest.approx(special.kolmogorov(en * ours.statistic))


def test_chi_squared_is_scipys_test_of_homogeneity_on_the_same_table():
    rng = np.random.default_rng(3)
    levels = np.array(list("abcdefgh"))
    ref = levels[rng.choice(8, size=3000, p=[0.3, 0.2, 0.15, 0.1, 0.1, 0.1, 0.045, 0.005])]
    cur = levels[rng.choice(8, size=700, p=[0.25, 0.25, 0.15, 0.1, 0.1, 0.1, 0.045, 0.005])]
    reference = reference_of(ref, {"name": "c", "type": "categorical", "nullable": False})
    ours = drift.chi_squared(reference, cur)
    names, table = drift.merge_rare(*drift.category_table(reference, cur))
    theirs = stats.chi2_contingency(table, correction=False)
    assert ours.statistic == pytest.approx(theirs.statistic)
    assert ours.p_value == pytest.approx(theirs.pvalue)
    assert ours.details["dof"] == theirs.dof
    assert "__rare__" in names  # "h" at 0.5 % of 700 rows expects fewer than 5: pooled


def test_unseen_categories_get_their_own_column():
    reference = reference_of(["a"] * 500 + ["b"] * 500, {"name": "c", "type": "categorical"})
    current = ["a"] * 200 + ["b"] * 200 + ["z"] * 100
    names, table = drift.category_table(reference, current)
    assert names == ["a", "b", drift.UNSEEN] and table[1].tolist() == [200, 200, 100]
    result = drift.chi_squared(reference, current)
    assert result.details["columns"] == ["a", "b", drift.UNSEEN] and result.p_value < 1e-10


def test_wasserstein_is_scipys_distance_divided_by_the_reference_std():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=1500), rng.normal(0.5, 2, size=900)
    ours = drift.wasserstein(reference_of(a), b)
    assert ours.statistic == pytest.approx(stats.wasserstein_distance(a, b) / np.std(a, ddof=1))
    # A large reference read from its quantile grid lands close to the exact value.
    big = rng.normal(size=100_000)
    approx = drift.wasserstein(reference_of(big), b).statistic
    assert approx == pytest.approx(stats.wasserstein_distance(big, b) / np.std(big, ddof=1), rel=0.02)


def test_jensen_shannon_and_psi_on_decile_bins():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=10_000), rng.normal(0.3, size=4_000)
    reference = reference_of(a)
    deciles = np.quantile(a, np.linspace(0, 1, 11))
    p = np.histogram(a, deciles)[0] / len(a)
    inside = np.clip(b, deciles[0], deciles[-1])
    q_inner = np.histogram(inside[(b >= deciles[0]) & (b <= deciles[-1])], deciles)[0]
    q = np.concatenate([[np.sum(b < deciles[0])], q_inner, [np.sum(b > deciles[-1])]]) / len(b)
    p = np.concatenate([[0], p, [0]])
    js = drift.jensen_shannon(reference, b)
    assert js.statistic == pytest.approx(
        jensenshannon(np.maximum(p, drift.EPSILON), np.maximum(q, drift.EPSILON), base=2), abs=0.01
    )
    expected_psi = np.sum(
        (np.maximum(q, 1e-4) - np.maximum(p, 1e-4)) * np.log(np.maximum(q, 1e-4) / np.maximum(p, 1e-4))
    )
    assert drift.psi(reference, b).statistic == pytest.approx(expected_psi, rel=0.05)
    assert drift.psi(reference, a[:4000]).statistic < 0.01


def test_adjustments_match_scipy_and_bonferroni():
    p = [0.001, 0.2, None, 0.03, 0.04, 0.5]
    given = np.array([0.001, 0.2, 0.03, 0.04, 0.5])
    bh = multiplicity.adjust(p, "bh")
    assert np.isnan(bh[2])
    assert np.allclose(bh[[0, 1, 3, 4, 5]], stats.false_discovery_control(given, method="bh"))
    assert np.allclose(multiplicity.adjust(p, "bonferroni")[[0, 3]], [0.005, 0.15])
    with pytest.raises(ValueError, match="unknown correction 'holm'"):
        multiplicity.adjust(p, "holm")


def test_wilson_interval_matches_scipy_and_the_sentence_reads_well():
    low, high = prediction.wilson_interval(np.array([300]), 1000)
    ci = stats.binomtest(300, 1000).proportion_ci(method="wilson")
    assert (low[0], high[0]) == pytest.approx((ci.low, ci.high))
    rows = prediction.class_shares({"yes": 700, "no": 300}, {"yes": 300, "no": 700})
    yes = rows[0]
    assert yes["class"] == "yes" and yes["p_value"] < 1e-50
    assert prediction.describe_share_change(yes) == '"yes" was 70%, now 30% (95% CI 27–33%)'
