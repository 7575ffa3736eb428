"""The slice finder's arithmetic: every row gets one integer code per feature (its bin, category or
missing), so the sufficient statistics of all single slices come from one ``np.bincount`` per
feature and those of all pair slices from one ``bincount`` of combined codes; the tests then run on
arrays of slices at once. No Python loop ever visits a row.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd
from scipy import stats

from apps.monitoring.stats import slice_words
from apps.monitoring.stats.slice_model import MEAN, Condition

MAX_CATEGORIES = 20


@dataclass
class Column:
    """One candidate feature's values in both windows: floats (NaN missing) or labels (None missing)."""

    name: str
    label: str
    kind: str  # "numeric" or "categorical"
    reference: np.ndarray
    current: np.ndarray
    edges: list[float] | None = None  # fixed inner edges (derived features)
    integer: bool = False
    note: str | None = None

    def subset(self, keep_r: np.ndarray, keep_c: np.ndarray) -> Column:
        reference = self.reference if keep_r.all() else self.reference[keep_r]
        current = self.current if keep_c.all() else self.current[keep_c]
        return replace(self, reference=reference, current=current)


@dataclass
class Coded:
    column: Column
    reference: np.ndarray  # int codes per row
    current: np.ndarray
    conditions: list[Condition | None]  # per code; None: not a slice of its own ("other")
    ordered: int  # codes below this are consecutive numeric bins


# ---------------------------------------------------------------------------------------------
# Codes


def numeric_edges(column: Column, bins: int) -> tuple[np.ndarray | None, bool]:
    """(inner bin edges, rounded to read well; None for a discrete feature sliced by value, whether
    the feature is integer-valued). The edges are the column's own (a profile's quantiles, a
    template's brackets) or else the reference window's quantiles."""
    ref = column.reference[np.isfinite(column.reference)]
    if len(ref) == 0:
        return np.array([]), False
    integer = column.integer or bool(np.all(ref == np.round(ref)))
    # Hashing, not sorting: a million rows cost milliseconds.
    if column.edges is None and len(pd.unique(ref)) <= 2 * bins:
        return None, integer
    low, high = ref.min(), ref.max()
    above = ref[ref > low]
    distinct = np.array([low, above.min(), high]) if len(above) else np.array([low])
    if column.edges is not None:
        inner = np.unique(np.asarray(column.edges, dtype=float))
    else:
        inner = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1))[1:-1])
    if len(distinct) > 1:
        # An edge at the minimum (a feature that is mostly 0) would leave an empty first bin and a
        # second one holding everything: cut just above the minimum, so "< next value" is "= minimum".
        inner = np.unique(np.where(inner <= distinct[0], distinct[1], inner))
    full = slice_words.readable_edges(np.r_[distinct[0], inner, distinct[-1]], integer=integer)
    inner = full[1:-1]
    return inner[(inner > distinct[0]) & (inner <= distinct[-1])], integer


def _code_numeric(column: Column, bins: int, label: str | None) -> Coded:
    edges, integer = numeric_edges(column, bins)
    missing_condition = Condition(column.name, "missing", label=label)
    if edges is None:  # few distinct values: one slice per value, values the reference lacks are "other"
        values = np.sort(pd.unique(column.reference[np.isfinite(column.reference)]))
        codes = []
        for side in (column.reference, column.current):
            code = np.minimum(np.searchsorted(values, side), len(values) - 1)
            known = np.isfinite(side) & (values[code] == side)
            code = np.where(known, code, len(values))
            code[~np.isfinite(side)] = len(values) + 1
            codes.append(code)
        conditions = [Condition(column.name, "category", value=float(v), label=label) for v in values]
        return Coded(column, codes[0], codes[1], [*conditions, None, missing_condition], ordered=0)
    bounds = [None, *edges.tolist(), None]
    conditions = [
        Condition(column.name, "range", low=lo, high=hi, integer=integer, label=label)
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    missing = len(conditions)
    codes = []
    for values in (column.reference, column.current):
        code = np.searchsorted(edges, values, side="right")
        code[~np.isfinite(values)] = missing
        codes.append(code)
    return Coded(column, codes[0], codes[1], [*conditions, missing_condition], ordered=missing)


def code(column: Column, bins: int) -> Coded:
    """Codes per row: numeric bins (or values) then missing; or the top categories, "other", missing."""
    label = column.label if column.label != column.name else None
    if column.kind == "numeric":
        return _code_numeric(column, bins, label)
    both = np.concatenate([column.reference, column.current])
    codes, uniques = pd.factorize(both, use_na_sentinel=True)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    keep = np.argsort(-counts, kind="stable")[:MAX_CATEGORIES]
    remap = np.full(len(uniques) + 1, len(keep), dtype=np.int64)  # default: "other"
    remap[keep] = np.arange(len(keep))
    remap[-1] = len(keep) + 1  # code -1 (missing) indexes the last entry
    codes = remap[codes]
    conditions: list[Condition | None] = [
        Condition(column.name, "category", value=str(uniques[i]), label=label) for i in keep
    ]
    conditions += [None, Condition(column.name, "missing", label=label)]
    n = len(column.reference)
    return Coded(column, codes[:n], codes[n:], conditions, ordered=0)


# ---------------------------------------------------------------------------------------------
# Sufficient statistics of many slices


@dataclass
class Cells:
    """One row per slice: its features and codes (-1 for none) and, per window, rows, sum and sum of
    squares of the metric."""

    features: np.ndarray  # (k, 2)
    codes: np.ndarray  # (k, 2)
    n_r: np.ndarray
    s_r: np.ndarray
    ss_r: np.ndarray
    n_c: np.ndarray
    s_c: np.ndarray
    ss_c: np.ndarray

    @classmethod
    def concat(cls, parts: list[Cells]) -> Cells:
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))

    def take(self, index) -> Cells:
        return Cells(*(getattr(self, f.name)[index] for f in fields(self)))

    def union(self) -> Cells:
        """One slice holding all of these (disjoint) slices' rows."""
        sums = (np.array([getattr(self, name).sum()]) for name in STATS)
        return Cells(self.features[:1], self.codes[:1], *sums)

    def minus(self, other: Cells) -> Cells:
        """The rows of these slices that are not in ``other`` (row by row; ``other`` inside them)."""
        sums = (getattr(self, name) - getattr(other, name) for name in STATS)
        return Cells(self.features, self.codes, *sums)

    def __len__(self) -> int:
        return len(self.n_r)


STATS = ("n_r", "s_r", "ss_r", "n_c", "s_c", "ss_c")


def _sums(codes_r, codes_c, size, y_r, y_c, squares: bool):
    def side(codes, y):
        n = np.bincount(codes, minlength=size).astype(float)
        s = np.bincount(codes, weights=y, minlength=size)
        ss = np.bincount(codes, weights=y * y, minlength=size) if squares else s
        return n, s, ss

    return (*side(codes_r, y_r), *side(codes_c, y_c))


def single_cells(index: int, coded: Coded, y_r, y_c, squares: bool) -> Cells:
    size = len(coded.conditions)
    sums = _sums(coded.reference, coded.current, size, y_r, y_c, squares)
    features = np.column_stack([np.full(size, index), np.full(size, -1)])
    codes = np.column_stack([np.arange(size), np.full(size, -1)])
    return Cells(features, codes, *sums)


def pair_cells(i: int, j: int, a: Coded, b: Coded, y_r, y_c, squares: bool) -> Cells:
    ka, kb = len(a.conditions), len(b.conditions)
    sums = _sums(a.reference * kb + b.reference, a.current * kb + b.current, ka * kb, y_r, y_c, squares)
    cells = np.arange(ka * kb)
    features = np.column_stack([np.full(ka * kb, i), np.full(ka * kb, j)])
    return Cells(features, np.column_stack([cells // kb, cells % kb]), *sums)


def whole(y_r: np.ndarray, y_c: np.ndarray, squares: bool) -> Cells:
    """All rows in scope as one slice."""
    ss_r = float((y_r * y_r).sum()) if squares else float(y_r.sum())
    ss_c = float((y_c * y_c).sum()) if squares else float(y_c.sum())
    values = (len(y_r), y_r.sum(), ss_r, len(y_c), y_c.sum(), ss_c)
    return Cells(np.array([[-1, -1]]), np.array([[-1, -1]]), *(np.array([float(v)]) for v in values))


# ---------------------------------------------------------------------------------------------
# Tests


def means(cells: Cells) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        m_r = np.where(cells.n_r > 0, cells.s_r / cells.n_r, np.nan)
        m_c = np.where(cells.n_c > 0, cells.s_c / cells.n_c, np.nan)
    return m_r, m_c


def change(cells: Cells) -> np.ndarray:
    m_r, m_c = means(cells)
    return m_c - m_r


def _change_variance(cells: Cells, kind: str) -> np.ndarray:
    """Variance of a slice's change (current mean − reference mean) under "no change": for shares
    the slice's share pooled over both windows, p(1 − p)(1/n_r + 1/n_c) (the unpooled Wald variance,
    small where a small slice happens to be all 0 or all 1, made the tail p-values of pair slices
    two to four times too small on real data); for means, each window's sample variance."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == MEAN:
            total = np.zeros(len(cells))
            for n, s, ss in ((cells.n_r, cells.s_r, cells.ss_r), (cells.n_c, cells.s_c, cells.ss_c)):
                m = s / n
                total = total + np.clip((ss - n * m * m) / (n - 1), 0, None) / n
            return total
        pooled = (cells.s_r + cells.s_c) / (cells.n_r + cells.n_c)
        return pooled * (1 - pooled) * (1 / cells.n_r + 1 / cells.n_c)


def versus_rest(cells: Cells, rest: Cells, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(difference in differences, z, two-sided p): did the metric move differently in each slice
    than in the rest of its scope? A normal test: every side holds at least ``min_support`` rows, and
    slice and rest are disjoint, so their variances add."""
    did = change(cells) - change(rest)
    se = np.sqrt(_change_variance(cells, kind) + _change_variance(rest, kind))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, did / se, np.where(did == 0, 0.0, np.inf * np.sign(did)))
    p = 2 * stats.norm.sf(np.abs(z))
    return did, z, np.clip(p, 0.0, 1.0)


def contributions(cells: Cells, totals: tuple[int, int], overall_mean: float) -> np.ndarray:
    """Rate effect w̄ Δm plus mix effect (m̄ − M̄) Δw, in the metric's units (slices.py explains)."""
    m_r, m_c = means(cells)
    m_r = np.where(np.isnan(m_r), m_c, m_r)  # a side with no rows has weight 0: any m works there
    m_c = np.where(np.isnan(m_c), m_r, m_c)
    m_r, m_c = np.nan_to_num(m_r), np.nan_to_num(m_c)
    w_r, w_c = cells.n_r / totals[0], cells.n_c / totals[1]
    return (w_r + w_c) / 2 * (m_c - m_r) + ((m_r + m_c) / 2 - overall_mean) * (w_c - w_r)


def testable(cells: Cells, scope: Cells, coded: list[Coded], min_support: int) -> np.ndarray:
    """Slices with a condition of their own and at least ``min_support`` rows inside and outside them
    in both windows (``scope``: all rows in scope, from ``whole``)."""
    rest = rest_of(cells, scope)
    ok = (cells.n_r >= min_support) & (cells.n_c >= min_support)
    ok &= (rest.n_r >= min_support) & (rest.n_c >= min_support)
    for dim in (0, 1):
        for f, c in enumerate(coded):
            own = np.array([cond is not None for cond in c.conditions])
            rows = cells.features[:, dim] == f
            ok[rows] &= own[cells.codes[rows, dim]]
    return ok


def rest_of(cells: Cells, scope: Cells) -> Cells:
    """For each slice, the rows of the scope outside it."""
    sums = (getattr(scope, name)[0] - getattr(cells, name) for name in STATS)
    return Cells(cells.features, cells.codes, *sums)
