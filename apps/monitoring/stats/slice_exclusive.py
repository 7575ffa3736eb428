"""Explanations that do not double count. The finder tests slices one by one, so on a window with
one real cause the list can hold that slice and several partial overlaps of it ("Age 30–39 and
Home = rent", "Home = rent", "Age 30–39 and Marital = married"…), each credited with its own share
of the change: read as a list of causes, the shares add up to well over 100 %. Two rules, applied
after ``find_slices`` by rows (the finder's result does not keep rows):

- Overlap: in rank order, an explanation whose rows in the current window have a Jaccard overlap
  of at least ``JACCARD`` (0.5) with those of an explanation ranked above it is no explanation of
  its own: it is listed under that one as a variant (under the one it overlaps most), with its
  overlap. It keeps its own numbers, which overlap its lead's.
- Exclusive shares: in rank order, each explanation is credited only with the rows (in both
  windows) that no explanation above it holds, by the finder's decomposition (stats/slices.py: rate
  plus mix effect, which adds up over disjoint rows to the whole change). The rows no explanation
  holds are "the rest". Shares are of the movement in the direction of the change: the positive
  parts of the listed explanations and the rest, which is the overall change itself unless the rest
  moved the other way. So each row counts once and the shares add up to at most 100 %.

No Django here."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from apps.monitoring.stats import slice_cells, slice_words
from apps.monitoring.stats.slice_model import Explanation, SliceMetric, SliceResult

JACCARD = 0.5
RULE = (
    f"explanations whose predictions in the window overlap with Jaccard ≥ {JACCARD} are one explanation "
    "(the higher-ranked one; the others listed under it as variants); each explanation's share counts "
    "only predictions no explanation above it holds, so the shares add up to at most 100 %"
)
INSIDE_ABOVE = "all its predictions are in slices above, counted there"


def _scope(result: SliceResult, metric: SliceMetric, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(per-row metric, rows in scope): rows with the metric, inside the slice searched."""
    y, valid = metric.values(frame)
    if result.within is not None and result.within.conditions:
        valid = valid & result.within.mask(frame)
    return y, valid


def _points(own_r, own_c, y_r, y_c, totals, mean) -> float:
    """The finder's contribution (rate + mix effect) of one set of rows, in the metric's units."""
    sums = [
        float(own_r.sum()),
        float(y_r[own_r].sum()),
        0.0,
        float(own_c.sum()),
        float(y_c[own_c].sum()),
        0.0,
    ]
    cells = slice_cells.Cells(np.array([[-1, -1]]), np.array([[-1, -1]]), *(np.array([v]) for v in sums))
    return float(slice_cells.contributions(cells, totals, mean)[0])


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 0.0


def merge_overlapping(
    result: SliceResult,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    metric: SliceMetric,
    cache: dict | None = None,
) -> SliceResult:
    """``result`` with strongly overlapping explanations merged and exclusive shares set (the module
    docstring gives the rules). ``reference`` and ``current`` hold every column the slices name
    (derived ones included) and the metric's; ``cache``: ``Slice.mask``'s for ``current``, when an
    earlier step (slice_overlap.drop_broader) read it already."""
    overall = dict(result.overall)
    y_r, in_r = _scope(result, metric, reference)
    y_c, in_c = _scope(result, metric, current)
    cache_r: dict = {}
    cache_c = {} if cache is None else cache
    masks = [
        (e.slice.mask(reference, cache_r) & in_r, e.slice.mask(current, cache_c) & in_c)
        for e in result.explanations
    ]

    leads: list[int] = []
    variants: dict[int, list[tuple[int, float]]] = {}
    for i in range(len(masks)):
        overlaps = [(_jaccard(masks[i][1], masks[lead][1]), lead) for lead in leads]
        best = max(overlaps, default=(0.0, -1))
        if best[0] >= JACCARD:
            variants[best[1]].append((i, best[0]))
        else:
            leads.append(i)
            variants[i] = []

    totals = (int(in_r.sum()), int(in_c.sum()))
    mean = (overall["reference"] + overall["current"]) / 2
    claimed_r, claimed_c = np.zeros(len(y_r), dtype=bool), np.zeros(len(y_c), dtype=bool)
    exclusive = []
    for lead in leads:
        own_r, own_c = masks[lead][0] & ~claimed_r, masks[lead][1] & ~claimed_c
        exclusive.append((_points(own_r, own_c, y_r, y_c, totals, mean), int(own_c.sum())))
        claimed_r |= masks[lead][0]
        claimed_c |= masks[lead][1]
    rest = _points(in_r & ~claimed_r, in_c & ~claimed_c, y_r, y_c, totals, mean)

    change = overall["change"]
    # The finder gives no shares when the overall metric barely moved; neither does this.
    listed_share = bool(result.explanations) and result.explanations[0].contribution is not None
    direction = 1.0 if change >= 0 else -1.0
    # The movement in the change's direction: the overall change, plus what the rest took back.
    gross = sum(max(0.0, direction * p) for p, _ in exclusive) + max(0.0, direction * rest)
    merged = []
    for rank, (lead, (points, rows)) in enumerate(zip(leads, exclusive, strict=True)):
        e = result.explanations[lead]
        share = direction * points / gross if listed_share and gross > 0 else None
        sentence = slice_words.sentence(
            e.slice.words(),
            words=overall["metric"],
            percent=metric.percent,
            reference=e.metric_reference,
            current=e.metric_current,
            support=e.support_current,
            contribution=share,
            overall_change=change,
            overall=(overall["reference"], overall["current"]),
            further=rank > 0 and rows < e.support_current,
        )
        if rank > 0 and rows == 0:  # nothing of its own to credit: say where its rows are counted
            sentence = f"{_movement(e, overall, metric)} (n = {e.support_current:,}); {INSIDE_ABOVE}"
        listed = [_variant(result.explanations[v], j, overall, metric) for v, j in variants[lead]]
        merged.append(
            replace(
                e,
                sentence=sentence,
                exclusive_contribution=share,
                exclusive_points=points,
                exclusive_rows=rows,
                variants=listed,
            )
        )
    shares = [m.exclusive_contribution for m in merged if m.exclusive_contribution is not None]
    overlap = {
        "rule": RULE,
        "jaccard": JACCARD,
        "merged": len(result.explanations) - len(leads),
        "shares_total": sum(shares) if listed_share else None,
        "rest_points": rest,
        "rest_share": direction * rest / gross if listed_share and gross > 0 else None,
    }
    notes = list(result.notes)
    if listed_share and direction * rest < 0:
        notes.append(
            f"the predictions in no listed slice moved the other way ({slice_words.number(round(rest, 4))} "
            "in the metric's units): shares are of the movement in the direction of the change"
        )
    return replace(result, explanations=merged, overlap=overlap, notes=notes)


def _variant(e: Explanation, jaccard: float, overall: dict, metric: SliceMetric) -> Explanation:
    """A slice listed under its lead: its own numbers, said without a share (they overlap the lead's)."""
    words = _movement(e, overall, metric)
    return replace(
        e,
        sentence=f"{words} (n = {e.support_current:,}); overlaps the slice above: Jaccard {jaccard:.2f}",
        jaccard=jaccard,
        variants=[],
    )


def _movement(e: Explanation, overall: dict, metric: SliceMetric) -> str:
    return slice_words.movement(
        e.slice.words(),
        words=overall["metric"],
        percent=metric.percent,
        reference=e.metric_reference,
        current=e.metric_current,
    )
