"""Prediction drift: how the share of each predicted class moved, with a confidence interval.

Score drift (probability of the positive class) and regression-output drift reuse drift.py on the
"__score__" and "__prediction__" pseudo-features; this module adds the per-class view a business
owner reads: '"yes" was 70%, now 30% (95% CI 27–33%)'.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def wilson_interval(k: np.ndarray, n: int, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for k successes in n (vectorised over k); (0, 1) when n is 0."""
    k = np.asarray(k, dtype=float)
    if n == 0:
        return np.zeros_like(k), np.ones_like(k)
    z = stats.norm.ppf(0.5 + confidence / 2)
    share = k / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def class_shares(reference_counts: dict, current_counts: dict, confidence: float = 0.95) -> list[dict]:
    """Per class (every class seen on either side): reference share, current share with its Wilson
    interval, the change, and a two-sided two-proportion z-test p-value (None if undefined)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie between 0 and 1, not {confidence}")
    reference_counts = {str(k): v for k, v in reference_counts.items()}
    current_counts = {str(k): v for k, v in current_counts.items()}
    classes = list(dict.fromkeys([*reference_counts, *current_counts]))
    ref = np.array([reference_counts.get(c, 0) for c in classes], dtype=float)
    cur = np.array([current_counts.get(c, 0) for c in classes], dtype=float)
    n, m = int(ref.sum()), int(cur.sum())
    p_ref = ref / n if n else np.zeros_like(ref)
    p_cur = cur / m if m else np.zeros_like(cur)
    low, high = wilson_interval(cur, m, confidence)
    pooled = (ref + cur) / max(n + m, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p_cur - p_ref) / np.sqrt(pooled * (1 - pooled) * (1 / max(n, 1) + 1 / max(m, 1)))
    rows = []
    for i, name in enumerate(classes):
        defined = n > 0 and m > 0 and 0 < pooled[i] < 1
        rows.append(
            {
                "class": name,
                "reference_share": float(p_ref[i]),
                "current_share": float(p_cur[i]),
                "low": float(low[i]),
                "high": float(high[i]),
                "change": float(p_cur[i] - p_ref[i]),
                "statistic": float(z[i]) if defined else 0.0,
                "p_value": float(2 * stats.norm.sf(abs(z[i]))) if defined else None,
                "n_reference": n,
                "n_current": m,
                "confidence": confidence,
            }
        )
    return rows


def _percent(share: float) -> str:
    return f"{round(share * 100):d}%"


def describe_share_change(row: dict) -> str:
    """'"yes" was 70%, now 30% (95% CI 27–33%)' from one row of ``class_shares``."""
    level = round(row.get("confidence", 0.95) * 100)
    return (
        f'"{row["class"]}" was {_percent(row["reference_share"])}, now {_percent(row["current_share"])} '
        f"({level}% CI {round(row['low'] * 100):d}–{_percent(row['high'])})"
    )
