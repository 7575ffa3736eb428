"""Null simulations: with no drift, every default test raises a false alarm at its nominal 5 %.

Each case draws a fresh reference and fresh current data 2,000 times (seeded, so the numbers are the
same on every run). With 2,000 replications the standard error of a 5 % rate is 0.49 points, so the
±1 point tolerance is about two standard errors. Raw arrays and window profiles are both covered;
windows get a reservoir smaller than their rows, so their test reads the binned CDFs as it does in
production, not a sample that happens to hold every row.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from apps.monitoring.stats import drift, profiles, quality, selection

REPS = 2000
BLOCK = 100
ALPHA = 0.05
TOLERANCE = 0.01
WINDOW_RESERVOIR = 500
LEVELS = [f"level-{i:02d}" for i in range(50)]


def _rate(p_values) -> float:
    return float(np.mean(np.asarray(p_values) <= ALPHA))


def _assert_nominal(rate: float, label: str) -> None:
    assert abs(rate - ALPHA) <= TOLERANCE, f"{label}: false-alarm rate {rate:.3f}, nominal {ALPHA}"


def _simulate(kind: str, draw, n_reference: int, seed: int, reps: int = REPS) -> dict[str, list[float]]:
    """p-values of the default test for raw arrays and window profiles at 1,000 and 5,000 rows.

    Vectorised: each block profiles BLOCK independent replications at once, as the columns of one
    frame (one reference column and one current column per replication)."""
    rng = np.random.default_rng(seed)
    p_values: dict[str, list[float]] = {}
    names = [f"r{i}" for i in range(BLOCK)]
    specs = [{"name": name, "type": kind, "nullable": False} for name in names]
    for block in range(reps // BLOCK):
        reference = profiles.build_reference_profile(
            pd.DataFrame(draw(rng, (n_reference, BLOCK)), columns=names), specs, seed=block
        )
        for rows in (1000, 5000):
            current = draw(rng, (rows, BLOCK))
            windows = profiles.profile_window(
                pd.DataFrame(current, columns=names), reference, reservoir=WINDOW_RESERVOIR, seed=block
            )
            for i, name in enumerate(names):
                ref = reference["features"][name]
                test, _, _ = selection.default_test(
                    ref["kind"], ref["count"], rows, n_distinct=ref.get("distinct")
                )
                p_values.setdefault(f"raw/{rows}", []).append(
                    drift.run_test(test, ref, current[:, i]).p_value
                )
                window = windows["features"][name]
                p_values.setdefault(f"window/{rows}", []).append(drift.run_test(test, ref, window).p_value)
    return p_values


@pytest.fixture(scope="module")
def continuous():
    return _simulate("number", lambda rng, shape: rng.gamma(2.0, size=shape), n_reference=5000, seed=11)


@pytest.fixture(scope="module")
def categorical():
    # 50 levels coded 0..49 (labels "0".."49"), unequal shares: the rarest has 1 % of the rows. Twice
    # the replications of the other cases: the test is slightly conservative (4.7 % over 20,000
    # replications at 1,000 rows each side), so ±1 point needs a standard error of 0.35 points.
    shares = np.linspace(1, 3, len(LEVELS))
    shares /= shares.sum()
    return _simulate(
        "categorical",
        lambda rng, shape: rng.choice(len(LEVELS), size=shape, p=shares),
        1000,
        12,
        reps=2 * REPS,
    )


@pytest.mark.parametrize("case", ["raw/1000", "raw/5000", "window/1000", "window/5000"])
def test_ks_holds_five_percent_on_continuous_data(continuous, case):
    _assert_nominal(_rate(continuous[case]), f"KS {case}")


@pytest.mark.parametrize("case", ["raw/1000", "raw/5000", "window/1000", "window/5000"])
def test_two_sample_chi_squared_holds_five_percent_with_fifty_levels(categorical, case):
    _assert_nominal(_rate(categorical[case]), f"chi-squared {case}")


def test_a_one_sample_chi_squared_against_reference_shares_does_not():
    """Evidently's categorical default treats the reference shares as the truth (a goodness-of-fit
    test); with 1,000 reference rows and 50 levels it flags most no-drift cases. Ours stays at 5 %."""
    rng = np.random.default_rng(13)
    shares = np.full(len(LEVELS), 1 / len(LEVELS))
    reference = rng.multinomial(1000, shares, size=REPS)
    current = rng.multinomial(1000, shares, size=REPS)
    one_sample = stats.chisquare(current, f_exp=reference / 1000 * 1000, axis=1).pvalue
    two_sample = [
        drift.chi_squared(
            {"kind": "categorical", "categories": dict(zip(LEVELS, map(int, r), strict=True))},
            {"kind": "categorical", "categories": dict(zip(LEVELS, map(int, c), strict=True))},
        ).p_value
        for r, c in zip(reference, current, strict=True)
    ]
    assert _rate(one_sample) > 0.24
    _assert_nominal(_rate(two_sample), "two-sample chi-squared, uniform 50 levels")


def test_discrete_numeric_features_get_chi_squared_and_hold_five_percent():
    # 4,000 replications (standard error 0.35 points), as for the categorical case.
    p = _simulate("integer", lambda rng, shape: rng.poisson(3.0, size=shape), 5000, seed=14, reps=2 * REPS)
    for case, values in p.items():
        _assert_nominal(_rate(values), f"discrete {case}")


def test_rate_tests_hold_five_percent_when_the_null_rate_does_not_change():
    rng = np.random.default_rng(15)
    p_values = []
    for rows in (1000, 5000):
        k_ref = rng.binomial(20_000, 0.05, size=REPS)
        k_cur = rng.binomial(rows, 0.05, size=REPS)
        p_values += [
            quality.rate_test("null_rate", a, 20_000, b, rows).p_value
            for a, b in zip(k_ref, k_cur, strict=True)
        ]
    _assert_nominal(_rate(p_values), "two-proportion z")
