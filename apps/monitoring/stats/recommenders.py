"""Statistics of what a recommender recommends: catalogue coverage, popularity concentration and
drift of the item distribution.

Inputs are what a window of recommendations yields without any outcome: the recommended items
(one slate per request, or a flat list) or item counts. Coverage and concentration describe one
window; ``item_drift`` compares two.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping

import numpy as np
from scipy import stats

from apps.monitoring.stats import drift
from apps.monitoring.stats.drift import TestResult

TOP_SHARE = 0.10


def _counts(items) -> Counter:
    """Item counts from a mapping {item: count}, slates (lists of items) or a flat iterable."""
    if isinstance(items, Mapping):
        counts = Counter()
        for item, n in items.items():
            if n < 0:
                raise ValueError(f"item {item!r} has a negative count ({n})")
            if n:
                counts[str(item)] += int(n)
        return counts
    counts = Counter()
    for entry in items:
        if isinstance(entry, list | tuple | set | np.ndarray):
            counts.update(str(item) for item in entry if item is not None)
        elif entry is not None:
            counts[str(entry)] += 1
    return counts


def catalogue_coverage(items: Iterable | Mapping, catalogue_size: int) -> dict:
    """Share of the catalogue recommended at least once in the window.

    ``items``: slates (lists of item ids), a flat list of ids, or {item: count}. Returns
    ``{"coverage", "distinct_items", "catalogue_size", "recommendations"}``."""
    if not isinstance(catalogue_size, int | np.integer) or catalogue_size <= 0:
        raise ValueError(f"catalogue_size must be a positive whole number, not {catalogue_size!r}")
    counts = _counts(items)
    distinct = len(counts)
    if distinct > catalogue_size:
        raise ValueError(f"{distinct} distinct items were recommended from a catalogue of {catalogue_size}")
    return {
        "coverage": distinct / catalogue_size,
        "distinct_items": distinct,
        "catalogue_size": int(catalogue_size),
        "recommendations": int(sum(counts.values())),
    }


def gini(values) -> float:
    """Gini coefficient of non-negative amounts: 0 when all are equal, (n − 1)/n when one holds all."""
    x = np.sort(np.asarray(values, dtype=float))
    if len(x) == 0 or x.sum() == 0:
        return 0.0
    if x[0] < 0:
        raise ValueError("a Gini coefficient needs non-negative amounts")
    n = len(x)
    ranks = np.arange(1, n + 1)
    return float(2 * np.sum(ranks * x) / (n * x.sum()) - (n + 1) / n)


def popularity_concentration(item_counts: Mapping, *, catalogue_size: int | None = None) -> dict:
    """How much the recommendations pile onto a few items.

    ``gini`` over the items' recommendation counts (items never recommended count as 0 when
    ``catalogue_size`` is given), and ``top_share``: the share of recommendations that went to the
    most recommended 10 % of items (at least one item)."""
    counts = _counts(item_counts)
    amounts = np.array(sorted(counts.values(), reverse=True), dtype=float)
    if catalogue_size is not None:
        if catalogue_size < len(amounts):
            raise ValueError(f"{len(amounts)} items were recommended from a catalogue of {catalogue_size}")
        amounts = np.concatenate([amounts, np.zeros(catalogue_size - len(amounts))])
    total = float(amounts.sum())
    top_n = max(1, math.ceil(TOP_SHARE * len(amounts))) if len(amounts) else 0
    return {
        "gini": gini(amounts),
        "top_share": float(amounts[:top_n].sum() / total) if total else 0.0,
        "top_items": top_n,
        "items": len(amounts),
        "recommendations": int(total),
    }


def item_drift(reference_counts: Mapping, current_counts: Mapping, *, slate_size: int = 1) -> TestResult:
    """Has the distribution of recommended items moved? Two-sample chi-squared on the item table
    (as drift.chi_squared: items the reference never recommended in a column of their own, rare
    columns pooled to expected counts of at least 5), effect the Jensen–Shannon distance between
    item shares (floor suggested 0.1).

    Items in one slate are not independent draws (a slate holds distinct items chosen together);
    with ``slate_size`` k the counts are divided by k before testing, which treats each request as
    one observation — conservative, as in text.py's OOV check."""
    if slate_size < 1:
        raise ValueError(f"slate_size must be at least 1, not {slate_size}")
    ref, cur = _counts(reference_counts), _counts(current_counts)
    n_ref, n_cur = sum(ref.values()), sum(cur.values())
    new_items = sorted(set(cur) - set(ref))
    details = {
        "floor": 0.1,
        "slate_size": slate_size,
        "new_items": len(new_items),
        "new_item_share": sum(cur[i] for i in new_items) / max(1, n_cur),
    }
    if not (n_ref and n_cur):
        return TestResult(
            "chi_squared",
            0.0,
            1.0,
            0.0,
            "jensen_shannon",
            n_ref,
            n_cur,
            {**details, "note": "no values to compare"},
        )
    reference = {"kind": "categorical", "categories": dict(ref)}
    current = {"kind": "categorical", "categories": dict(cur)}
    distance = drift.jensen_shannon(reference, current).effect_size
    names, table = drift.category_table(reference, current)
    names, table = drift.merge_rare(names, table / slate_size)
    if table.shape[1] < 2:
        return TestResult(
            "chi_squared", 0.0, 1.0, distance, "jensen_shannon", n_ref, n_cur, {**details, "columns": names}
        )
    result = stats.chi2_contingency(table, correction=False)
    details.update(dof=int(result.dof), columns=len(names))
    return TestResult(
        "chi_squared",
        float(result.statistic),
        float(result.pvalue),
        distance,
        "jensen_shannon",
        n_ref,
        n_cur,
        details,
    )
