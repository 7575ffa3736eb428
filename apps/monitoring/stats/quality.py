"""Data-quality rates per feature, each tested as a change against the reference's rate.

Rates: null rate (of all rows), type-error rate (non-numeric values in a numeric column, of the
non-null rows), and of the valid values: zero rate and out-of-range rate (numeric) and unseen-category
rate (categorical). Each is a two-sided two-proportion z-test (pooled variance). When the reference
rate is 0 — always so for unseen categories and values outside a declared range, often for nulls —
the normal approximation is poor, so the test is exact and one-sided: the chance of at least the current count
in a binomial whose rate is the "rule of three" bound 3/n_reference, the highest rate (95 %) that
could have gone unseen in the reference. Values outside the reference's own min–max (no range
declared in the schema) have a distribution-free test of their own (``beyond_range_test``).
A null, zero or type-error rate with no event on either side is not tested: given that no event
happened at all, there is nothing to compare (the conditional test would give p = 1 for sure).
Out-of-range and unseen categories, zero in the reference by construction, are always tested.

The effect size is the absolute change of the rate; the default floors are 0.02 for nulls and zeros
and 0.01 for the others, so 2 % → 10 % nulls is an alert of its own whatever the drift tests say.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from apps.monitoring.stats.drift import TestResult

FLOORS = {
    "null_rate": 0.02,
    "zero_rate": 0.02,
    "out_of_range": 0.01,
    "unseen_categories": 0.01,
    "type_errors": 0.01,
}
CHECKS = tuple(FLOORS)
# Rates whose reference count is zero by construction. Their test is run even when the current count
# is zero too (p = 1): leaving out the quiet ones would pick tests by their own p-values, and BH
# would then divide q among too few tests.
STRUCTURAL_ZERO = {"unseen_categories"}


def rate_test(
    check: str, k_reference: int, n_reference: int, k_current: int, n_current: int
) -> TestResult | None:
    """Compare two counts of events; None when there is nothing to test."""
    structural = check in STRUCTURAL_ZERO  # zero in the reference by definition: always a test
    if n_reference <= 0 or n_current <= 0 or (k_reference == 0 and k_current == 0 and not structural):
        return None
    p_ref, p_cur = k_reference / n_reference, k_current / n_current
    details = {
        "check": check,
        "reference_rate": p_ref,
        "current_rate": p_cur,
        "floor": FLOORS[check],
        "reference_count": int(k_reference),
        "current_count": int(k_current),
    }
    effect = abs(p_cur - p_ref)
    if k_reference == 0:
        baseline = min(0.5, 3.0 / n_reference)
        p_value = float(stats.binom.sf(k_current - 1, n_current, baseline))
        return TestResult(
            "binomial_vs_baseline",
            float(k_current),
            p_value,
            effect,
            "rate_change",
            n_reference,
            n_current,
            details | {"baseline": baseline},
        )
    pooled = (k_reference + k_current) / (n_reference + n_current)
    if pooled >= 1.0:
        return None
    z = (p_cur - p_ref) / np.sqrt(pooled * (1 - pooled) * (1 / n_reference + 1 / n_current))
    p_value = float(2 * stats.norm.sf(abs(z)))
    return TestResult(
        "two_proportion_z", float(z), p_value, effect, "rate_change", n_reference, n_current, details
    )


def beyond_range_test(n_reference: int, k_current: int, n_current: int) -> TestResult | None:
    """Values outside the reference's own min–max. With no declared range, the reference's extremes are
    random too, so a fixed baseline is wrong for them; by exchangeability, when nothing changed the
    number of current values above the reference maximum is about geometric with ratio
    ρ = m / (n + m) (the k largest of the pooled values are all current with chance ≈ ρ^k), and the
    count beyond either end is the sum of two such, so P(K ≥ k) = ρ^k · (1 + k·(1 − ρ))."""
    if n_reference <= 0 or n_current <= 0:
        return None
    rho = n_current / (n_reference + n_current)
    p_value = float(min(1.0, rho**k_current * (1 + k_current * (1 - rho))))
    rate = k_current / n_current
    details = {
        "check": "out_of_range",
        "reference_rate": 0.0,
        "current_rate": rate,
        "floor": FLOORS["out_of_range"],
        "reference_count": 0,
        "current_count": int(k_current),
        "range": "reference min-max",
    }
    return TestResult(
        "beyond_reference_range",
        float(k_current),
        p_value,
        rate,
        "rate_change",
        n_reference,
        n_current,
        details,
    )


def _rates(feature: dict) -> dict[str, tuple[int, int]]:
    """{check: (events, rows at risk)} for one profile feature."""
    count, nulls = int(feature["count"]), int(feature["nulls"])
    type_errors = int(feature.get("type_errors", 0))
    rows = count + nulls + type_errors
    rates = {"null_rate": (nulls, rows)}
    if feature["kind"] == "numeric":
        rates["type_errors"] = (type_errors, count + type_errors)
        rates["zero_rate"] = (int(feature.get("zeros", 0)), count)
        rates["out_of_range"] = (int(feature.get("out_of_range", 0)), count)
    elif feature["kind"] == "categorical":
        rates["unseen_categories"] = (int(feature.get("unseen", 0)), count)
    return rates


def quality_findings(
    reference_feature: dict, current_feature: dict, spec: dict | None = None
) -> list[TestResult]:
    """One test per rate that has any event on either side. ``spec`` is the schema entry; a window's
    out-of-range count already used its min/max (profiles.profile_window)."""
    if reference_feature["kind"] != current_feature["kind"]:
        name = (spec or {}).get("name", "?")
        raise ValueError(
            f"feature {name!r}: a {reference_feature['kind']} reference "
            f"cannot be compared with a {current_feature['kind']} window"
        )
    reference, current = _rates(reference_feature), _rates(current_feature)
    declared = spec is not None and (spec.get("min") is not None or spec.get("max") is not None)
    results = []
    for check, (k_ref, n_ref) in reference.items():
        k_cur, n_cur = current[check]
        if check == "out_of_range" and not declared:
            result = beyond_range_test(n_ref, k_cur, n_cur)
        else:
            result = rate_test(check, k_ref, n_ref, k_cur, n_cur)
        if result is not None:
            results.append(result)
    return results
