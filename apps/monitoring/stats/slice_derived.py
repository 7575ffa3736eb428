"""Derived features for the slice finder: the per-model-type checks a monitor template names as data
("score bracket", "text length bracket", "item popularity", …) turned into columns to slice on.

A definition is a small dict, so it can live in a template's JSON config:

- ``{"from": "__score__", "transform": "scorecard"}``: a FICO-like score (300–850) from the model's
  predicted odds by standard scorecard scaling: ``points + pdo / ln 2 · ln(odds / odds_at_points)``,
  600 points at odds 50:1 and 20 points to double the odds by default. ``odds_of`` says whether the
  score column is the probability of the *good* outcome ("score", default) or of the bad one
  ("complement"). It is not a bureau score; the result carries a note saying so.
- ``{"from": column, "transform": "bucket", "edges": [...]}``: a number cut on fixed edges (without
  ``edges``, on the reference's quantiles like any numeric feature).
- ``{"from": column, "transform": "length"}``: a text's length in characters.
- ``{"from": column, "transform": "popularity", "head": 0.2}``: "popular" for the items in the top
  ``head`` share of distinct reference items by reference count, "long tail" for the rest (unseen
  items included).
- ``{"from": column, "transform": "seen"}``: "returning" for a value (a user id) seen before,
  "new" otherwise. In the current window "before" is the reference; in the reference itself it is
  "appears more than once", the nearest thing without timestamps.
- ``{"from": column}``: the same column under another name ("predicted class" = "__prediction__").

Every definition may add ``"label"``: the name shown in sentences. Text language buckets need a
language detector, which the platform does not ship; a logged language column slices as a category.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

TRANSFORMS = ("identity", "scorecard", "bucket", "length", "popularity", "seen")

SCORECARD_NOTE = (
    "{label} is not a bureau score: it is derived from the model's predicted odds by scorecard "
    "scaling ({points:g} points at odds {odds:g}:1, {pdo:g} points to double the odds)"
)

# What the built-in monitor templates name (apps/monitoring/templates.py), for the caller to pass as
# ``derived=`` next to the template's slice groups.
TEMPLATE_DERIVED: dict[str, dict] = {
    "score bracket": {"from": "__score__", "transform": "scorecard", "label": "FICO-like score"},
    "predicted class": {"from": "__prediction__", "label": "predicted class"},
    "prediction bracket": {"from": "__prediction__", "transform": "bucket", "label": "prediction"},
    "text length bracket": {"from": "text", "transform": "length", "label": "text length"},
    "item popularity": {"from": "item", "transform": "popularity", "label": "item popularity"},
    "user history": {"from": "user", "transform": "seen", "label": "user"},
}


@dataclass
class DerivedColumn:
    name: str
    label: str
    kind: str  # "numeric" or "categorical"
    reference: np.ndarray
    current: np.ndarray
    edges: list[float] | None = None  # fixed inner bin edges, when the definition gives them
    integer: bool = False
    note: str | None = None


def check_definition(name: str, definition: dict, columns: set[str]) -> None:
    """Raise ValueError naming the derived feature and what is wrong with its definition."""
    where = f"derived feature {name!r}"
    if not isinstance(definition, dict):
        raise ValueError(f"{where}: expected a dict like {{'from': column, 'transform': …}}")
    source = definition.get("from")
    if source not in columns:
        raise ValueError(f"{where}: source column {source!r} is not in both windows")
    transform = definition.get("transform", "identity")
    if transform not in TRANSFORMS:
        raise ValueError(f"{where}: unknown transform {transform!r}; choose one of {', '.join(TRANSFORMS)}")
    edges = definition.get("edges")
    if edges is not None and (
        not isinstance(edges, list | tuple)
        or not all(isinstance(e, int | float) for e in edges)
        or list(edges) != sorted(set(edges))
    ):
        raise ValueError(f"{where}: edges must be a strictly increasing list of numbers")
    head = definition.get("head", 0.2)
    if not isinstance(head, int | float) or not 0 < head < 1:
        raise ValueError(f"{where}: head must lie strictly between 0 and 1, not {head!r}")


def _numbers(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def scorecard(probability: np.ndarray, *, points=600.0, odds=50.0, pdo=20.0, complement=False) -> np.ndarray:
    """FICO-like points from a probability of the good outcome, clipped to 300–850."""
    p = np.clip(probability, 1e-9, 1 - 1e-9)
    good_odds = (1 - p) / p if complement else p / (1 - p)
    factor = pdo / math.log(2)
    score = points + factor * (np.log(good_odds) - math.log(odds))
    return np.clip(score, 300, 850)


def _popular(reference: pd.Series, current: pd.Series, head: float) -> tuple[np.ndarray, np.ndarray]:
    counts = reference.dropna().astype(str).value_counts()
    top = set(counts.index[: max(1, math.ceil(head * len(counts)))])

    def label(series: pd.Series) -> np.ndarray:
        out = np.where(series.astype(str).isin(top), "popular", "long tail").astype(object)
        out[series.isna().to_numpy()] = None
        return out

    return label(reference), label(current)


def _seen(reference: pd.Series, current: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    ref = reference.astype(str)
    repeated = ref.duplicated(keep=False).to_numpy()
    known = set(ref[reference.notna()])
    ref_out = np.where(repeated, "returning", "new").astype(object)
    cur_out = np.where(current.astype(str).isin(known), "returning", "new").astype(object)
    ref_out[reference.isna().to_numpy()] = None
    cur_out[current.isna().to_numpy()] = None
    return ref_out, cur_out


def derive(name: str, definition: dict, reference: pd.DataFrame, current: pd.DataFrame) -> DerivedColumn:
    """The derived column on both windows (the definition checked first)."""
    check_definition(name, definition, set(reference.columns) & set(current.columns))
    source = definition["from"]
    transform = definition.get("transform", "identity")
    label = definition.get("label", name)
    ref, cur = reference[source], current[source]
    edges = definition.get("edges")
    if transform == "identity":
        numeric = pd.api.types.is_numeric_dtype(ref) and not pd.api.types.is_bool_dtype(ref)
        if numeric:
            return DerivedColumn(name, label, "numeric", _numbers(ref), _numbers(cur), edges)
        return DerivedColumn(name, label, "categorical", ref.to_numpy(object), cur.to_numpy(object))
    if transform == "scorecard":
        settings = {k: float(definition.get(k, d)) for k, d in (("points", 600), ("odds", 50), ("pdo", 20))}
        complement = definition.get("odds_of", "score") == "complement"
        ref_score = scorecard(_numbers(ref), complement=complement, **settings)
        cur_score = scorecard(_numbers(cur), complement=complement, **settings)
        note = SCORECARD_NOTE.format(label=label, **settings)
        return DerivedColumn(name, label, "numeric", ref_score, cur_score, edges, integer=False, note=note)
    if transform == "bucket":
        return DerivedColumn(name, label, "numeric", _numbers(ref), _numbers(cur), edges)
    if transform == "length":
        ref_len = ref.astype("string").str.len().to_numpy(dtype=float, na_value=np.nan)
        cur_len = cur.astype("string").str.len().to_numpy(dtype=float, na_value=np.nan)
        return DerivedColumn(name, label, "numeric", ref_len, cur_len, edges, integer=True)
    if transform == "popularity":
        ref_pop, cur_pop = _popular(ref, cur, float(definition.get("head", 0.2)))
        return DerivedColumn(name, label, "categorical", ref_pop, cur_pop)
    ref_seen, cur_seen = _seen(ref, cur)
    return DerivedColumn(name, label, "categorical", ref_seen, cur_seen)
