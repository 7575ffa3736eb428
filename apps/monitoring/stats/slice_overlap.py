"""One story once, by rows: the slice finder drops a slice when a reported slice *inside it by its
conditions* accounts for most of its contribution (stats/slices.py, rule 3). A slice on another
feature that merely holds most of a reported slice's rows tells the same story less precisely:
"Debt < 1" (82 % of applicants) is credited with nearly the whole rise in the predicted "bad" share
when the rise sits in "Home = rent and Income < 83", 90 % of whose rows have no debt. This applies
the same rule by rows, in the current window, as a step after ``find_slices`` (it needs the
window's rows, which the finder's result does not keep). No Django here."""

from __future__ import annotations

import numpy as np
import pandas as pd

from apps.monitoring.stats.slice_model import SliceResult

INSIDE = 0.8  # the share of the precise slice's rows that must lie in the broad one
EXPLAINED = 0.8  # as in stats/slices.py: the precise slice carries this much of the broad one's


def drop_broader(
    result: SliceResult, current: pd.DataFrame, cache: dict | None = None
) -> tuple[SliceResult, int]:
    """``result`` without explanations whose contribution is mostly that of a smaller reported slice
    lying mostly inside them; and how many were dropped. ``current`` holds every column the slices
    name (derived ones included); ``cache``: ``Slice.mask``'s, to share with later steps."""
    explanations = result.explanations
    if len(explanations) < 2:
        return result, 0
    cache = {} if cache is None else cache
    masks = [e.slice.mask(current, cache) for e in explanations]
    sizes = [int(m.sum()) for m in masks]
    dropped = set()
    for t, broad in enumerate(explanations):
        for s, precise in enumerate(explanations):
            if s == t or s in dropped or not 0 < sizes[s] < sizes[t]:
                continue
            inside = np.count_nonzero(masks[s] & masks[t]) / sizes[s]
            same_way = np.sign(precise.contribution_points) == np.sign(broad.contribution_points)
            if (
                inside >= INSIDE
                and same_way
                and abs(precise.contribution_points) >= EXPLAINED * abs(broad.contribution_points)
            ):
                dropped.add(t)
                break
    kept = [e for i, e in enumerate(explanations) if i not in dropped]
    return (
        SliceResult(kept, result.tests_run, result.q, result.overall, result.within, list(result.notes)),
        len(dropped),
    )
