"""Multiple-testing corrections for the many p-values of one check run.

A check tests every feature (and every quality rate) at once: at q = 0.05 and 100 tests, raw
p-values would raise about five false alarms per run. Benjamini–Hochberg keeps the expected share of
false alarms among the alerts at most q (and, when nothing changed at all, the chance of any alert at
most q); Bonferroni keeps the chance of any false alarm at most q whatever changed, at a cost in power.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

METHODS = ("bh", "by", "bonferroni")


def adjust(p_values: Sequence[float | None], method: str = "bh") -> np.ndarray:
    """Adjusted p-values in the input order; None (a distance with no p-value) stays NaN and does not
    count as a test. "bh" and "by" are SciPy's ``false_discovery_control``."""
    if method not in METHODS:
        raise ValueError(f"unknown correction {method!r}; choose one of {', '.join(METHODS)}")
    values = np.array([np.nan if p is None else float(p) for p in p_values], dtype=float)
    present = ~np.isnan(values)
    if np.any((values[present] < 0) | (values[present] > 1)):
        raise ValueError("p-values must lie between 0 and 1")
    adjusted = np.full(len(values), np.nan)
    if not present.any():
        return adjusted
    if method == "bonferroni":
        adjusted[present] = np.minimum(values[present] * present.sum(), 1.0)
    else:
        adjusted[present] = stats.false_discovery_control(values[present], method=method)
    return adjusted
