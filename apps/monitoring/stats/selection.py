"""Which drift test a feature gets by default, and why.

The rules (``default_test``):

- numeric with more than 20 distinct values: two-sample Kolmogorov–Smirnov; effect size the
  Wasserstein distance divided by the reference's standard deviation, floor 0.1;
- numeric with at most 20 distinct reference values (``profiles.DISCRETE_MAX_DISTINCT``): profiled
  by value and tested as a categorical — two-sample chi-squared on its values (Fisher's exact test
  when every value is rare); effect size the Jensen–Shannon distance on the value shares, floor 0.1;
- categorical and boolean: two-sample chi-squared; Jensen–Shannon distance, floor 0.1;
- text: the text checks of text.py (length drift, empty and out-of-vocabulary rates, top tokens).

A feature is flagged only when its multiplicity-adjusted p-value is at most q AND its effect size is
at least the floor. A monitor overrides any of the three per feature: ``{"test": "psi", "effect":
"psi", "floor": 0.2}``; a test without a p-value (wasserstein, psi, jensen_shannon) then flags on
its effect alone.

How Evidently chooses (its default drift method): with at most 1,000 reference rows it uses p-value
tests — two-sample KS for numeric columns with more than 5 distinct values, a one-sample chi-squared
test for categorical columns (a z-test for binary ones); above 1,000 reference rows it switches to
distances with fixed thresholds (Wasserstein normalised by the reference std > 0.1 for numeric,
Jensen–Shannon distance > 0.1 for categorical), with no p-value and no correction across columns.

What we do differently, and why:
- Two-sample tests throughout. Evidently's chi-squared treats the reference shares as the true ones
  (a goodness-of-fit test), ignoring that the reference is a sample too; with 50 categories and 1,000
  rows on each side that flags most no-drift cases. A test of homogeneity on the 2×K table (rare
  columns pooled to expected counts ≥ 5) holds its 5 % (tests/unit/monitoring_stats).
- The same test family at every size, with the computation chosen by size: SciPy's exact KS when
  both sides hold at most 10,000 values, the asymptotic Kolmogorov p-value above that (the exact one
  costs ~0.5 s a column at 1M rows), and binned CDFs with a continuity correction for windows larger
  than their reservoir. Switching to thresholds on distances at 1,000 rows, as Evidently does, makes
  the false-alarm rate depend on the sample size in ways nobody states.
- Both a p-value and an effect floor. At a million rows a p-value finds a shift of 0.01 standard
  deviations; nobody wants that alert. At 300 rows a distance alone flags noise (a Jensen–Shannon
  distance over 50 sparse categories is large by chance). Requiring both is what keeps alerts
  meaningful at both ends, and every p-value of a run is corrected together (multiplicity.py).
- Discrete numeric features (counts, ratings, flags coded 0/1) get the chi-squared test on their
  values, because KS with many ties is conservative and loses power.
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.monitoring.stats.drift import EFFECTS, TESTS
from apps.monitoring.stats.profiles import DISCRETE_MAX_DISTINCT

DEFAULT_FLOOR = 0.1
TEXT_TEST = "text"


@dataclass(frozen=True)
class Choice:
    test: str
    effect: str
    floor: float
    source: str  # "default" or "override"


def default_test(
    feature_kind: str, n_reference: int, n_current: int, *, n_distinct: int | None = None
) -> tuple[str, str, float]:
    """(p-value test, effect-size measure, effect floor) by the rules in the module docstring. The sizes
    pick the computation inside the test (exact or asymptotic), not the test."""
    if feature_kind == "numeric":
        if n_distinct is not None and n_distinct <= DISCRETE_MAX_DISTINCT:
            return "chi_squared", "jensen_shannon", DEFAULT_FLOOR
        return "ks", "wasserstein", DEFAULT_FLOOR
    if feature_kind == "categorical":
        return "chi_squared", "jensen_shannon", DEFAULT_FLOOR
    if feature_kind == "text":
        return TEXT_TEST, "jensen_shannon", DEFAULT_FLOOR
    raise ValueError(f"no drift test for features of kind {feature_kind!r}")


_NUMERIC_ONLY = {"ks", "wasserstein", "ks_d"}


def choose(
    feature: str,
    feature_kind: str,
    n_reference: int,
    n_current: int,
    *,
    n_distinct: int | None = None,
    override: dict | None = None,
) -> Choice:
    """The default, with a monitor's override for this feature applied and checked."""
    test, effect, floor = default_test(feature_kind, n_reference, n_current, n_distinct=n_distinct)
    if not override:
        return Choice(test, effect, floor, "default")
    unknown = set(override) - {"test", "effect", "floor"}
    if unknown:
        raise ValueError(f"override for {feature!r}: unknown keys {sorted(unknown)} (test, effect, floor)")
    test = override.get("test", test)
    effect = override.get("effect", effect)
    where = f"override for {feature!r}"
    if test not in TESTS:
        raise ValueError(f"{where}: unknown test {test!r}; choose one of {sorted(TESTS)}")
    if effect not in EFFECTS:
        raise ValueError(f"{where}: unknown effect {effect!r}; choose one of {sorted(EFFECTS)}")
    if feature_kind != "numeric" and (test in _NUMERIC_ONLY or effect in _NUMERIC_ONLY):
        raise ValueError(f"{where}: {test}/{effect} needs a numeric feature, not a {feature_kind} one")
    try:
        floor = float(override.get("floor", floor))
    except (TypeError, ValueError):
        raise ValueError(f"override for {feature!r}: floor must be a number") from None
    if floor < 0:
        raise ValueError(f"override for {feature!r}: floor must not be negative")
    return Choice(test, effect, floor, "override")
