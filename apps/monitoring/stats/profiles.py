"""Compact profiles of data: one per reference data set, one per window of live predictions.

A reference profile is built once at registration. Its numeric bins are fixed from the reference's
own quantiles, so every later window is binned on the same edges and windows add up exactly
(``merge_profiles``): a check over a week reads 168 hourly profiles, never the raw rows.

Shapes (all JSON-serialisable): ``{"format": 1, "rows": int, "reservoir": int, "features": {...}}``.
A numeric reference feature holds ``counts`` for the ``len(edges) - 1`` bins ``[e_i, e_i+1)`` (the
last bin closed); a numeric window feature holds ``len(edges) + 1`` counts: one bin below the
reference minimum, the reference's bins, one bin above its maximum. ``fine_counts`` turns either
into the window layout.

Two additions, both optional when reading (profiles stored before them still work, as before):
- ``excess``: per bin, the sum of (value − the bin's anchor), in the same layout as ``counts``; the
  anchor is the bin's left edge, and ``edges[0]`` for the bin below (so its excess is negative).
  With it, the area between two binned CDFs is exact inside every bin where they do not cross
  (drift.wasserstein), and it adds up under merging like the counts.
- ``values`` (numeric features with at most ``DISCRETE_MAX_DISTINCT`` distinct reference values):
  counts by value, labelled as categories are (``category_counts``), so a 0/1 flag or a 12/24-month
  term is tested as a categorical. Such a reference also gets one bin per value (edges at the values).
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pandas as pd

FORMAT = 1
OTHER = "__other__"
# Categories a window may hold that the reference never saw, before the rest are summed as OTHER.
MAX_UNSEEN = 200
VOCABULARY = 5000
LENGTH_BINS = 20
# At most this many distinct reference values: a numeric feature is also counted by value and tested
# as a categorical (selection.py). A 0/1 flag, a 12/24-month term, a 1-5 rating, a 0/1 model score.
DISCRETE_MAX_DISTINCT = 20
_TOKEN = re.compile(r"\w+")

KINDS = {
    "number": "numeric",
    "integer": "numeric",
    "categorical": "categorical",
    "boolean": "categorical",
    "text": "text",
}


def feature_kind(spec: dict) -> str | None:
    """ "numeric", "categorical", "text", or None for kinds that are not profiled (datetime)."""
    return KINDS.get(spec.get("type"))


# ---------------------------------------------------------------------------------------------
# Column readers: one vectorised pass each, no per-row Python.


def _numeric(column: pd.Series | None, rows: int) -> tuple[np.ndarray, int, int]:
    """(finite values as float64, nulls, type errors). Non-numeric text and infinities are type errors."""
    if column is None:
        return np.empty(0), rows, 0
    nulls = int(column.isna().sum())
    if pd.api.types.is_bool_dtype(column):
        column = column.astype(float)
    if pd.api.types.is_numeric_dtype(column):
        values = column.to_numpy(dtype=float, na_value=np.nan)
    else:
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    finite = np.isfinite(values)
    return values[finite], nulls, rows - nulls - int(finite.sum())


def category_counts(column) -> Counter:
    """{label: count} of the non-null values. Counted before converting to text, so only the distinct
    values become labels; whole floats (an integer column with a gap) lose the '.0', so 1 and 1.0
    are the same label "1"."""
    series = column if isinstance(column, pd.Series) else pd.Series(np.asarray(column, dtype=object))
    counts = series.value_counts(dropna=True)
    keys = counts.index
    if pd.api.types.is_float_dtype(keys) or keys.dtype == object:
        keys = [int(k) if isinstance(k, float | np.floating) and float(k).is_integer() else k for k in keys]
    total: Counter = Counter()
    for key, n in zip(keys, counts.to_numpy(), strict=True):
        total[str(key)] += int(n)
    return total


def _lengths_and_tokens(column: pd.Series) -> tuple[np.ndarray, Counter, int]:
    text = column.dropna().astype(str)
    lengths = text.str.len().to_numpy(dtype=float)
    tokens = text.str.lower().str.findall(_TOKEN.pattern).explode().dropna()
    return lengths, Counter(tokens.value_counts().to_dict()), len(tokens)


def _reservoir(values: np.ndarray, size: int, rng: np.random.Generator) -> list[float]:
    if len(values) <= size:
        return values.tolist()
    return values[rng.choice(len(values), size=size, replace=False)].tolist()


def _moments(values: np.ndarray) -> dict:
    if len(values) == 0:
        return {"count": 0, "mean": 0.0, "m2": 0.0, "min": None, "max": None}
    mean = float(values.mean())
    return {
        "count": len(values),
        "mean": mean,
        "m2": float(((values - mean) ** 2).sum()),
        "min": float(values.min()),
        "max": float(values.max()),
    }


def std(feature: dict) -> float:
    """Sample standard deviation from the running moments (0 for fewer than two values)."""
    n = feature["count"]
    return float(np.sqrt(feature["m2"] / (n - 1))) if n > 1 else 0.0


def histogram(edges: np.ndarray, values: np.ndarray, *, ordered: bool = False) -> np.ndarray:
    """Counts in the window layout: [below edges[0], [e0, e1), ..., [e_k-1, e_k], above e_k].

    Sorting and searching the edges in the sorted values is several times faster than searching each
    value among the edges (SIMD sort), and the sorted values are reused for min/max and zeros."""
    ordered_values = values if ordered else np.sort(values)
    starts = np.searchsorted(ordered_values, edges, side="left")
    last = np.searchsorted(ordered_values, edges[-1], side="right")  # the last edge closes its bin
    bounds = np.concatenate([[0], starts[:-1], [last, len(ordered_values)]])
    return np.diff(bounds)


def bin_excess(edges: np.ndarray, ordered_values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per bin of the window layout, the sum of (value − anchor): the anchor is ``edges[0]`` for the
    bin below and each bin's left edge otherwise. One pass of sums over the sorted values, no copy."""
    anchors = np.concatenate([[edges[0]], edges])
    sums = np.zeros(len(counts))
    nonempty = np.flatnonzero(counts)
    if len(nonempty):
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[nonempty]
        sums[nonempty] = np.add.reduceat(ordered_values, starts)
    return sums - counts * anchors


def _label(value: float) -> str:
    """A value's label as ``category_counts`` writes it (whole floats without '.0')."""
    return str(int(value)) if float(value).is_integer() else str(value)


def value_counts(ordered_values: np.ndarray, known: np.ndarray, known_labels: list[str]) -> dict[str, int]:
    """Counts by value of sorted values: two binary searches per known value, and a full count only of
    the values that are none of them (rare: a value the reference never had)."""
    starts = np.searchsorted(ordered_values, known, side="left")
    stops = np.searchsorted(ordered_values, known, side="right")
    counts: Counter = Counter(dict(zip(known_labels, (stops - starts).tolist(), strict=True)))
    if int((stops - starts).sum()) < len(ordered_values):  # the stretches between the known values
        gaps = zip(np.concatenate([[0], stops]), np.concatenate([starts, [len(ordered_values)]]), strict=True)
        others = np.concatenate([ordered_values[a:b] for a, b in gaps])
        counts.update(category_counts(pd.Series(others)))
    return {label: n for label, n in counts.items() if n}


def fine_excess(feature: dict) -> np.ndarray | None:
    """A numeric feature's excess in the window layout, or None for a profile stored without it."""
    excess = feature.get("excess")
    if excess is None:
        return None
    excess = np.asarray(excess, dtype=float)
    if len(excess) == len(feature["edges"]) - 1:
        return np.concatenate([[0.0], excess, [0.0]])
    return excess


def window_counts(counts, edges) -> np.ndarray:
    """Counts in the window layout (len(edges)+1): a reference's inner bins get empty outer bins."""
    counts = np.asarray(counts, dtype=np.int64)
    if len(counts) == len(edges) - 1:
        return np.concatenate([[0], counts, [0]])
    if len(counts) != len(edges) + 1:
        raise ValueError(f"{len(counts)} bin counts do not fit {len(edges)} bin edges")
    return counts


def fine_counts(feature: dict) -> np.ndarray:
    """A numeric feature's counts in the window layout, whichever profile it is from."""
    return window_counts(feature["counts"], feature["edges"])


# ---------------------------------------------------------------------------------------------
# Reference


def sorted_quantiles(ordered: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """np.quantile's default (linear) quantiles of already sorted values, without partitioning again."""
    position = probs * (len(ordered) - 1)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, len(ordered) - 1)
    return ordered[below] + (position - below) * (ordered[above] - ordered[below])


def _edges(sorted_values: np.ndarray, bins: int, distinct: np.ndarray | None = None) -> np.ndarray:
    if distinct is not None:  # few values: one bin per value, [v_i, v_i+1), the last [v_k, v_k+ulp]
        return np.append(distinct, np.nextafter(distinct[-1], np.inf))
    edges = np.unique(sorted_quantiles(sorted_values, np.linspace(0, 1, bins + 1)))
    if len(edges) == 1:  # a constant column: one bin holding that value
        edges = np.array([edges[0], np.nextafter(edges[0], np.inf)])
    return edges


def _reference_numeric(column, rows, spec, fine_bins, quantile_grid, reservoir, rng) -> dict:
    values, nulls, type_errors = _numeric(column, rows)
    feature = {
        "kind": "numeric",
        "nulls": nulls,
        "type_errors": type_errors,
        "zeros": int((values == 0).sum()),
        **_moments(values),
    }
    low, high = _bounds({}, spec)  # the schema's declared range, if any, also applies to the reference
    feature["out_of_range"] = int(((values < low) | (values > high)).sum())
    feature["std"] = std(feature)
    if len(values) == 0:
        feature.update(edges=[0.0, np.nextafter(0.0, 1.0)], counts=[0], quantiles=[], sample=[], distinct=0)
        return feature
    ordered = np.sort(values)
    distinct = int(1 + np.count_nonzero(np.diff(ordered)))
    few = (
        ordered[np.concatenate([[0], np.flatnonzero(np.diff(ordered)) + 1])]
        if distinct <= DISCRETE_MAX_DISTINCT
        else None
    )
    edges = _edges(ordered, fine_bins, few)
    counts = histogram(edges, ordered, ordered=True)
    feature.update(
        edges=edges.tolist(),
        counts=counts[1:-1].tolist(),
        excess=bin_excess(edges, ordered, counts)[1:-1].tolist(),
        quantiles=sorted_quantiles(ordered, np.linspace(0, 1, quantile_grid)).tolist(),
        sample=_reservoir(values, reservoir, rng),
        distinct=distinct,
    )
    if few is not None:
        feature["values"] = value_counts(ordered, few, [_label(v) for v in few])
    return feature


def _top(counter: Counter, limit: int) -> dict[str, int]:
    top = dict(counter.most_common(limit))
    rest = sum(counter.values()) - sum(top.values())
    if rest:
        top[OTHER] = top.get(OTHER, 0) + rest
    return top


def _reference_categorical(column, rows, max_categories) -> dict:
    if column is None:
        return {"kind": "categorical", "count": 0, "nulls": rows, "categories": {}}
    counts = category_counts(column)
    count = sum(counts.values())
    return {
        "kind": "categorical",
        "count": count,
        "nulls": rows - count,
        "categories": _top(counts, max_categories),
    }


def _reference_text(column, rows) -> dict:
    if column is None:
        return {
            "kind": "text",
            "count": 0,
            "nulls": rows,
            "empty": 0,
            "length_edges": [0.0, 1.0],
            "length_counts": [0],
            "vocabulary": {},
            "tokens": 0,
        }
    lengths, tokens, total = _lengths_and_tokens(column)
    edges = _edges(np.sort(lengths), LENGTH_BINS) if len(lengths) else np.array([0.0, 1.0])
    counts = histogram(edges, lengths)[1:-1]
    return {
        "kind": "text",
        "count": len(lengths),
        "nulls": rows - len(lengths),
        "empty": int((lengths == 0).sum()),
        "length_edges": edges.tolist(),
        "length_counts": counts.tolist(),
        "vocabulary": dict(tokens.most_common(VOCABULARY)),
        "tokens": total,
    }


def build_reference_profile(
    frame: pd.DataFrame,
    features: list[dict],
    *,
    fine_bins: int = 100,
    quantile_grid: int = 1001,
    reservoir: int = 2000,
    max_categories: int = 200,
    seed: int = 0,
) -> dict:
    """Profile the reference data once: bins, quantiles, category counts, moments, a small sample."""
    rng = np.random.default_rng(seed)
    rows = len(frame)
    profile = {"format": FORMAT, "rows": rows, "reservoir": reservoir, "features": {}}
    for spec in features:
        kind, name = feature_kind(spec), spec["name"]
        column = frame[name] if name in frame.columns else None
        if kind == "numeric":
            feature = _reference_numeric(column, rows, spec, fine_bins, quantile_grid, reservoir, rng)
        elif kind == "categorical":
            feature = _reference_categorical(column, rows, max_categories)
        elif kind == "text":
            feature = _reference_text(column, rows)
        else:
            continue
        profile["features"][name] = feature
    return profile


# ---------------------------------------------------------------------------------------------
# Windows


def _bounds(feature: dict, spec: dict | None) -> tuple[float, float]:
    spec = spec or {}
    low = spec.get("min", feature.get("min"))
    high = spec.get("max", feature.get("max"))
    return (-np.inf if low is None else float(low)), (np.inf if high is None else float(high))


def _window_numeric(column, rows, ref: dict, low: float, high: float, rng, reservoir) -> dict:
    values, nulls, type_errors = _numeric(column, rows)
    edges = np.asarray(ref["edges"], dtype=float)
    feature = {
        "kind": "numeric",
        "nulls": nulls,
        "type_errors": type_errors,
        "zeros": int((values == 0).sum()),
        "out_of_range": int(((values < low) | (values > high)).sum()),
        **_moments(values),
    }
    feature["std"] = std(feature)
    ordered = np.sort(values)
    counts = histogram(edges, ordered, ordered=True)
    feature.update(
        edges=ref["edges"],
        counts=counts.tolist(),
        excess=bin_excess(edges, ordered, counts).tolist(),
        sample=_reservoir(values, reservoir, rng),
    )
    if "values" in ref:  # the reference's values are its inner bins' left edges
        known = np.asarray(ref["edges"][:-1], dtype=float)
        counts_by_value = value_counts(ordered, known, [_label(v) for v in known])
        feature["values"] = _bound_unseen(counts_by_value, set(ref["values"]))
    return feature


def _window_categorical(column, rows, ref: dict) -> dict:
    if column is None:
        return {"kind": "categorical", "count": 0, "nulls": rows, "categories": {}, "unseen": 0}
    counts = category_counts(column)
    count = sum(counts.values())
    known = set(ref["categories"]) - {OTHER}
    unseen = sum(n for value, n in counts.items() if value not in known)
    return {
        "kind": "categorical",
        "count": count,
        "nulls": rows - count,
        "categories": _bound_unseen(counts, known),
        "unseen": int(unseen),
    }


def _bound_unseen(counts: dict, known: set) -> dict[str, int]:
    """Keep every reference category and the MAX_UNSEEN most frequent new ones; sum the rest as OTHER."""
    new = Counter({value: n for value, n in counts.items() if value not in known and value != OTHER})
    kept = {value: int(n) for value, n in counts.items() if value in known or value == OTHER}
    kept.update({value: int(n) for value, n in new.most_common(MAX_UNSEEN)})
    rest = sum(new.values()) - sum(n for value, n in new.most_common(MAX_UNSEEN))
    if rest:
        kept[OTHER] = kept.get(OTHER, 0) + int(rest)
    return kept


def _window_text(column, rows, ref: dict) -> dict:
    if column is None:
        lengths, tokens, total = np.empty(0), Counter(), 0
    else:
        lengths, tokens, total = _lengths_and_tokens(column)
    edges = np.asarray(ref["length_edges"], dtype=float)
    vocabulary = ref["vocabulary"]
    return {
        "kind": "text",
        "count": len(lengths),
        "nulls": rows - len(lengths),
        "empty": int((lengths == 0).sum()),
        "length_edges": ref["length_edges"],
        "length_counts": histogram(edges, lengths).tolist(),
        "vocabulary": dict(tokens.most_common(VOCABULARY)),
        "tokens": total,
        "oov": int(sum(n for token, n in tokens.items() if token not in vocabulary)),
    }


def profile_window(
    frame: pd.DataFrame,
    reference: dict,
    *,
    reservoir: int = 2000,
    seed: int = 0,
    features: list[dict] | None = None,
) -> dict:
    """Profile a window of live rows on the reference's bins. Columns missing from the frame count as
    all-null. ``features`` (the schema) supplies min/max for the out-of-range count when given;
    otherwise the reference's own min/max are the range."""
    rng = np.random.default_rng(seed)
    rows = len(frame)
    specs = {spec["name"]: spec for spec in features or []}
    profile = {"format": FORMAT, "rows": rows, "reservoir": reservoir, "features": {}}
    for name, ref in reference["features"].items():
        column = frame[name] if name in frame.columns else None
        if ref["kind"] == "numeric":
            low, high = _bounds(ref, specs.get(name))
            feature = _window_numeric(column, rows, ref, low, high, rng, reservoir)
        elif ref["kind"] == "categorical":
            feature = _window_categorical(column, rows, ref)
        else:
            feature = _window_text(column, rows, ref)
        profile["features"][name] = feature
    return profile


def empty_window(reference: dict) -> dict:
    """The identity of ``merge_profiles``: a window of no rows on the reference's bins."""
    return profile_window(
        pd.DataFrame(index=pd.RangeIndex(0)), reference, reservoir=reference.get("reservoir", 2000)
    )


# ---------------------------------------------------------------------------------------------
# Merging


def _sum_counts(dicts) -> dict:
    total = Counter()
    for counts in dicts:
        total.update(counts)
    return dict(total)


def _top_tokens(counts: dict) -> dict[str, int]:
    return dict(Counter(counts).most_common(VOCABULARY))


def merge_profiles(a: dict, b: dict, *, seed: int = 0) -> dict:
    """Add two window profiles of the same reference: counts, moments, min/max exactly; reservoirs as a
    fair sample of the union. Associative (up to the reservoirs' randomness), with ``empty_window`` as
    identity, so profiles of any span cost the same to check."""
    return merge_many([a, b], seed=seed)


def merge_many(windows: list[dict], *, seed: int = 0) -> dict:
    """``merge_profiles`` over many windows at once (a day of hours, a week): the same counts and
    moments, added up in one step per feature, and one fair sample of the union drawn in a single
    step (a multivariate hypergeometric split over the windows' rows) instead of one resampling per
    pair — most of the cost at scale."""
    if not windows:
        raise ValueError("merge_many needs at least one window profile")
    rng = np.random.default_rng(seed)
    size = min(w.get("reservoir", 2000) for w in windows)
    names = list(windows[0]["features"])
    for window in windows[1:]:
        if window["features"].keys() != set(names):
            missing = set(names) ^ window["features"].keys()
            raise ValueError(f"feature {sorted(missing)[0]!r} is in only some of the profiles")
    features = {}
    for name in names:
        parts = [w["features"][name] for w in windows]
        kinds = {p["kind"] for p in parts}
        if len(kinds) > 1:
            raise ValueError(f"cannot merge {' and '.join(sorted(kinds))} profiles of feature {name!r}")
        merge = {"numeric": _merge_numeric_many, "categorical": _merge_categorical_many}.get(
            parts[0]["kind"], _merge_text_many
        )
        features[name] = {"kind": parts[0]["kind"], "nulls": sum(p["nulls"] for p in parts)} | merge(
            parts, size, rng
        )
    return {
        "format": FORMAT,
        "rows": sum(w["rows"] for w in windows),
        "reservoir": size,
        "features": features,
    }


def _moments_many(parts: list[dict]) -> dict:
    """Count, mean, sum of squared deviations, min and max of the union, from each part's own: the
    parallel form of Chan et al.'s update (m2 = Σ m2_i + Σ n_i (mean_i − mean)²)."""
    filled = [p for p in parts if p["count"]]
    if not filled:
        return {"count": 0, "mean": 0.0, "m2": 0.0, "min": None, "max": None}
    if len(filled) == 1:  # merging with empty windows changes nothing, not even the last bit
        return {key: filled[0][key] for key in ("count", "mean", "m2", "min", "max")}
    counts = np.array([p["count"] for p in filled], dtype=float)
    means = np.array([p["mean"] for p in filled], dtype=float)
    n = counts.sum()
    mean = float((counts * means).sum() / n)
    m2 = float(sum(p["m2"] for p in filled) + (counts * (means - mean) ** 2).sum())
    return {
        "count": int(n),
        "mean": mean,
        "m2": m2,
        "min": min(p["min"] for p in filled),
        "max": max(p["max"] for p in filled),
    }


def _merge_numeric_many(parts: list[dict], size: int, rng) -> dict:
    edges = parts[0]["edges"]
    if any(p["edges"] != edges for p in parts[1:]):
        raise ValueError("numeric profiles on different bin edges cannot be merged (other references)")
    merged = _moments_many(parts)
    merged["std"] = std(merged)
    for key in ("zeros", "type_errors", "out_of_range"):
        merged[key] = sum(p.get(key, 0) for p in parts)
    excesses = [fine_excess(p) for p in parts]
    if all(e is not None for e in excesses):  # a profile stored without it: none merged
        merged["excess"] = np.sum(excesses, axis=0).tolist()
    if all("values" in p for p in parts):
        merged["values"] = _sum_counts(p["values"] for p in parts)
    merged.update(edges=edges, counts=np.sum([fine_counts(p) for p in parts], axis=0).tolist())
    counts = np.array([p["count"] for p in parts], dtype=np.int64)
    k = int(min(size, counts.sum()))
    # Each window's share of the sample follows the rows it stands for; a window's own sample holds
    # min(count, reservoir) values, never fewer than it is asked for (k ≤ reservoir). Only the picked
    # values are read, not every window's whole sample.
    taken = rng.multivariate_hypergeometric(counts, k) if k else np.zeros(len(parts), dtype=np.int64)
    merged["sample"] = [
        float(p["sample"][i])
        for p, n in zip(parts, taken, strict=True)
        if n
        for i in rng.choice(len(p["sample"]), size=n, replace=False)
    ]
    return merged


def _merge_categorical_many(parts: list[dict], size: int, rng) -> dict:
    return {
        "count": sum(p["count"] for p in parts),
        "categories": _sum_counts(p["categories"] for p in parts),
        "unseen": sum(p.get("unseen", 0) for p in parts),
    }


def _merge_text_many(parts: list[dict], size: int, rng) -> dict:
    return {
        "count": sum(p["count"] for p in parts),
        "empty": sum(p["empty"] for p in parts),
        "length_edges": parts[0]["length_edges"],
        "tokens": sum(p["tokens"] for p in parts),
        "oov": sum(p.get("oov", 0) for p in parts),
        "vocabulary": _top_tokens(_sum_counts(p["vocabulary"] for p in parts)),
        "length_counts": np.sum(
            [window_counts(p["length_counts"], p["length_edges"]) for p in parts], axis=0
        ).tolist(),
    }
