"""Words for the slice finder: readable bin edges, condition labels and one-sentence explanations.

Bins are cut on the *rounded* edges, so the label a person reads ("Age 25–34") is exactly the set of
rows that was tested; nothing is shown as 24.999999.
"""

from __future__ import annotations

import math

import numpy as np

DASH = "–"


def _round_sig(x: float, digits: int) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def readable_edges(edges: np.ndarray, *, integer: bool) -> np.ndarray:
    """The fewest significant digits (at most 6) that keep the edges strictly increasing and each
    within a quarter of its narrowest neighbouring gap of where the quantile put it. Integer-valued
    features keep integer edges."""
    edges = np.unique(np.asarray(edges, dtype=float))
    if len(edges) < 2:
        return edges
    gaps = np.diff(edges)
    tolerance = 0.25 * np.minimum(np.r_[gaps[0], gaps], np.r_[gaps, gaps[-1]])
    for digits in range(1, 7):
        rounded = np.array([_round_sig(e, digits) for e in edges])
        if integer:
            rounded = np.round(rounded)
        if np.all(np.diff(rounded) > 0) and np.all(np.abs(rounded - edges) <= tolerance):
            return rounded
    return np.unique(np.round(edges)) if integer else edges


def number(x: float) -> str:
    """12,500 / 0.35 / 1.2e-05: thousands separators, no trailing zeros, no float noise."""
    if x is None or not math.isfinite(x):
        return str(x)
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    text = f"{x:.4g}"
    return text if "e" in text else text.rstrip("0").rstrip(".")


def interval(low: float | None, high: float | None, *, integer: bool) -> str:
    """[low, high) in words: '25–34' for integers (34 is the last value inside), '0.2–0.35' else."""
    if low is None and high is None:
        return "any value"
    if low is None:
        return f"< {number(high)}"
    if high is None:
        return f"≥ {number(low)}"
    if integer and float(low).is_integer() and float(high).is_integer():
        last = high - 1
        return number(low) if last == low else f"{number(low)}{DASH}{number(last)}"
    return f"{number(low)}{DASH}{number(high)}"


def condition_label(condition: dict) -> str:
    feature = condition["feature"]
    kind = condition["kind"]
    if kind == "missing":
        return f"{feature} missing"
    if kind == "category":
        value = condition["value"]
        return f"{feature} = {number(value) if isinstance(value, int | float) else value}"
    bounds = interval(condition.get("low"), condition.get("high"), integer=condition.get("integer", False))
    return f"{feature} {bounds}"


def value_text(value: float, *, percent: bool) -> str:
    if percent:
        return f"{value * 100:.0f}%"
    return number(float(f"{value:.3g}"))


def _pair_texts(a: float, b: float, *, percent: bool) -> tuple[str, str]:
    """Both values, with one more decimal when the usual rounding would make them look equal."""
    x, y = value_text(a, percent=percent), value_text(b, percent=percent)
    if x == y and percent and a != b:
        x, y = f"{a * 100:.1f}%", f"{b * 100:.1f}%"
    return x, y


def movement(slice_label: str, *, words: str, percent: bool, reference: float, current: float) -> str:
    """'Age 25–34: approval rate fell from 71% to 28%'."""
    before, after = _pair_texts(reference, current, percent=percent)
    verb = "fell" if current < reference else "rose" if current > reference else "stayed"
    move = f"{words} {verb} from {before} to {after}" if verb != "stayed" else f"{words} stayed at {after}"
    return f"{slice_label}: {move}"


def sentence(
    slice_label: str,
    *,
    words: str,
    percent: bool,
    reference: float,
    current: float,
    support: int,
    contribution: float | None,
    overall_change: float,
    overall: tuple[float, float] | None = None,
    further: bool = False,
) -> str:
    """'FICO-like score 600–650 and Age 25–34: approval rate fell from 71% to 28% (n = 4,213);
    accounts for 62% of the overall drop'. ``support`` is the slice's rows in the current window;
    ``contribution`` the share of the overall change (None when the overall metric barely moved, then
    ``overall`` gives its two values). ``further``: the share is of rows no slice listed above holds
    (stats/slice_exclusive.py)."""
    text = movement(slice_label, words=words, percent=percent, reference=reference, current=current)
    text = f"{text} (n = {support:,})"
    if contribution is None:
        if overall is None:
            return f"{text}; overall the {words} barely moved"
        a, b = _pair_texts(*overall, percent=percent)
        return f"{text}; overall the {words} barely moved ({a} to {b})"
    direction = "drop" if overall_change < 0 else "rise"
    share = round(contribution * 100)
    if share >= 0:
        return f"{text}; accounts for {'a further ' if further else ''}{share}% of the overall {direction}"
    return f"{text}; works against the overall {direction} ({share}% of it)"
