"""The slice finder's vocabulary: which metric it explains (``SliceMetric``), a slice as a conjunction
of conditions (``Condition``, ``Slice``), and what it reports (``Explanation``, ``SliceResult``).

All of them are JSON round-trippable (``to_dict`` / ``from_dict``) so that the platform can store an
explanation and hand it back as ``within=`` for a drill-down.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from apps.monitoring.stats import slice_words

PREDICTION = "__prediction__"
SCORE = "__score__"
SHARE, ERROR_RATE, MEAN = "share", "error_rate", "mean"
METRIC_KINDS = (SHARE, ERROR_RATE, MEAN)


def labels(values) -> np.ndarray:
    """Values as category labels (object array, None for missing): 1 and 1.0 are both "1"."""
    codes, table = coded_labels(values)
    return table[codes]  # code -1 (missing) picks the trailing None


def coded_labels(values) -> tuple[np.ndarray, np.ndarray]:
    """(an integer code per row, -1 for missing; the label of each code, then None): ``labels``
    without building an object array per row, for masks over many rows."""
    series = pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    names = []
    for u in uniques:
        if isinstance(u, float | np.floating) and float(u).is_integer() and abs(u) < 2**53:
            names.append(str(int(u)))
        elif isinstance(u, bool | np.bool_):
            names.append(str(bool(u)))
        else:
            names.append(str(u))
    return codes, np.array([*names, None], dtype=object)


def rows_labelled(codes: np.ndarray, table: np.ndarray, label: str) -> np.ndarray:
    """Rows whose label (from ``coded_labels``) is ``label``: one lookup per code, not a comparison of
    a million-row object array; the trailing None (code -1, missing) never matches."""
    return np.append(table[:-1] == label, False)[codes]


@dataclass(frozen=True)
class SliceMetric:
    """What is compared between the windows, per row: 1/0 for a share or an error, a number for a mean.

    ``words`` name the metric in sentences ("approval rate"); shares and error rates are printed as
    percentages, means as numbers."""

    kind: str
    column: str
    value: str | None = None  # SHARE: the class or category whose share is measured
    outcome: str | None = None  # ERROR_RATE: the outcome column compared with ``column``
    words: str = ""

    @classmethod
    def prediction_share(cls, value: str, *, words: str | None = None, column: str = PREDICTION):
        return cls(SHARE, column, value=str(value), words=words or f'share predicted "{value}"')

    @classmethod
    def error_rate(cls, outcome: str, *, prediction: str = PREDICTION, words: str = "error rate"):
        return cls(ERROR_RATE, prediction, outcome=outcome, words=words)

    @classmethod
    def mean_score(cls, *, column: str = SCORE, words: str = "mean score"):
        return cls(MEAN, column, words=words)

    @classmethod
    def feature_share(cls, column: str, value: str, *, words: str | None = None):
        return cls(SHARE, column, value=str(value), words=words or f"share of {column} = {value}")

    @classmethod
    def feature_mean(cls, column: str, *, words: str | None = None):
        return cls(MEAN, column, words=words or f"mean {column}")

    @property
    def percent(self) -> bool:
        return self.kind != MEAN

    def check(self, frame: pd.DataFrame, side: str) -> None:
        if self.kind not in METRIC_KINDS:
            raise ValueError(f"metric: unknown kind {self.kind!r}; choose one of {', '.join(METRIC_KINDS)}")
        if self.kind == SHARE and self.value is None:
            raise ValueError("metric: a share needs the value whose share is measured")
        needed = [self.column] + ([self.outcome] if self.kind == ERROR_RATE else [])
        for column in needed:
            if column is None or column not in frame.columns:
                raise ValueError(f"metric column {column!r} is missing from the {side} window")

    def values(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(per-row value as float, whether the row has one)."""
        if self.kind == MEAN:
            y = pd.to_numeric(frame[self.column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            valid = np.isfinite(y)
            return np.where(valid, y, 0.0), valid
        if self.kind == SHARE:  # by codes: comparing a million-row object array is slow
            codes, table = coded_labels(frame[self.column])
            return rows_labelled(codes, table, self.value).astype(float), codes >= 0
        predicted = labels(frame[self.column])
        truth = labels(frame[self.outcome])
        valid = (predicted != None) & (truth != None)  # noqa: E711
        return (valid & (predicted != truth)).astype(float), valid

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SliceMetric:
        unknown = set(data) - {"kind", "column", "value", "outcome", "words"}
        if unknown:
            raise ValueError(f"metric: unknown fields {sorted(unknown)}")
        return cls(**data)


@dataclass(frozen=True)
class Condition:
    """One feature's condition: ``range`` is [low, high) (None = unbounded), ``category`` an exact value
    (a label for categorical features, a number for discrete numeric ones), ``missing`` a null."""

    feature: str
    kind: str
    low: float | None = None
    high: float | None = None
    value: str | float | None = None
    integer: bool = False  # integer-valued feature: [25, 35) reads "25–34"
    label: str | None = None  # the feature's display name, when it differs from ``feature``

    def words(self) -> str:
        return slice_words.condition_label({**asdict(self), "feature": self.label or self.feature})

    def mask(self, values: np.ndarray) -> np.ndarray:
        """Rows meeting the condition, from the feature's values (floats, or labels from ``labels``)."""
        if self.kind == "missing":
            if values.dtype == object:
                return values == None  # noqa: E711
            return ~np.isfinite(values)
        if self.kind == "category":
            if values.dtype == object:
                return values == str(self.value)
            return values == float(self.value)
        inside = np.isfinite(values)
        if self.low is not None:
            inside &= values >= self.low
        if self.high is not None:
            inside &= values < self.high
        return inside

    def intersect(self, other: Condition) -> Condition:
        """Both conditions on the same feature; ranges intersect, anything else must agree."""
        if self.kind == other.kind == "range":
            lows = [v for v in (self.low, other.low) if v is not None]
            highs = [v for v in (self.high, other.high) if v is not None]
            return Condition(
                self.feature,
                "range",
                low=max(lows) if lows else None,
                high=min(highs) if highs else None,
                integer=self.integer,
                label=self.label,
            )
        if self == other:
            return self
        raise ValueError(f"conditions {self.words()!r} and {other.words()!r} cannot both hold")

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None and v is not False}

    @classmethod
    def from_dict(cls, data: dict) -> Condition:
        if (
            not isinstance(data, dict)
            or "feature" not in data
            or data.get("kind")
            not in (
                "range",
                "category",
                "missing",
            )
        ):
            raise ValueError(f"slice condition {data!r}: expected feature and kind range/category/missing")
        return cls(**data)


@dataclass(frozen=True)
class Slice:
    """A conjunction of conditions, at most one per feature, kept in feature order so equal slices are
    equal and hash alike."""

    conditions: tuple[Condition, ...] = ()

    @classmethod
    def of(cls, *conditions: Condition) -> Slice:
        result = cls()
        for condition in conditions:
            result = result.and_(condition)
        return result

    def and_(self, condition: Condition) -> Slice:
        by_feature = {c.feature: c for c in self.conditions}
        old = by_feature.get(condition.feature)
        by_feature[condition.feature] = old.intersect(condition) if old else condition
        return Slice(tuple(by_feature[name] for name in sorted(by_feature)))

    @property
    def features(self) -> list[str]:
        return [c.feature for c in self.conditions]

    def words(self) -> str:
        return " and ".join(c.words() for c in self.conditions) or "all rows"

    def mask(self, frame: pd.DataFrame, cache: dict | None = None) -> np.ndarray:
        """Rows of ``frame`` inside the slice. A derived feature's column must be in the frame.
        ``cache``: a dict kept for one frame, so that many slices read each column and condition once
        (reading a million labels costs tens of milliseconds)."""
        cache = {} if cache is None else cache
        inside = np.ones(len(frame), dtype=bool)
        for condition in self.conditions:
            if (rows := cache.get(condition)) is None:
                rows = cache[condition] = _rows(frame, condition, cache)
            inside &= rows
        return inside

    def to_dict(self) -> dict:
        return {"conditions": [c.to_dict() for c in self.conditions]}

    @classmethod
    def from_dict(cls, data: dict) -> Slice:
        if not isinstance(data, dict) or not isinstance(data.get("conditions"), list):
            raise ValueError("slice: expected {'conditions': [...]}")
        return cls.of(*(Condition.from_dict(c) for c in data["conditions"]))


def _rows(frame: pd.DataFrame, condition: Condition, cache: dict) -> np.ndarray:
    """One condition's rows; each column read once per ``cache``, as codes or as numbers."""
    if condition.feature not in frame.columns:
        raise ValueError(f"slice: the frame has no column {condition.feature!r}")
    column = frame[condition.feature]
    as_labels = condition.kind == "category" and isinstance(condition.value, str)
    as_labels |= condition.kind == "missing" and not pd.api.types.is_numeric_dtype(column)
    key = (condition.feature, as_labels)
    if (values := cache.get(key)) is None:
        if as_labels:
            values = coded_labels(column)
        else:
            values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        cache[key] = values
    if not as_labels:
        return condition.mask(values)
    codes, table = values
    if condition.kind == "missing":
        return codes == -1
    return rows_labelled(codes, table, str(condition.value))


def _plain(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass
class Explanation:
    """One slice whose metric moved: its rows and metric in both windows, the change (``effect``,
    current − reference), the test's p-value and its Benjamini–Hochberg adjustment over every slice
    tested, and ``contribution``: the share of the overall change it accounts for (slices.py explains
    the decomposition; None when the overall metric did not move)."""

    slice: Slice
    support_reference: int
    support_current: int
    metric_reference: float
    metric_current: float
    effect: float
    p_value: float
    adjusted_p: float
    contribution: float | None
    contribution_points: float  # the same, in the metric's units
    sentence: str
    tested_slices: int = 1  # more than 1 when adjacent bins were merged
    notes: list[str] = field(default_factory=list)
    # Set by stats/slice_exclusive.py (None on results stored before it): the share of the change
    # of the rows no higher-ranked explanation holds, the slices overlapping this one strongly
    # (its variants) and, on a variant, its Jaccard overlap with the explanation it is listed under.
    exclusive_contribution: float | None = None
    exclusive_points: float | None = None
    exclusive_rows: int | None = None
    variants: list[Explanation] = field(default_factory=list)
    jaccard: float | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["slice"] = self.slice.to_dict()
        for key in ("metric_reference", "metric_current", "effect", "p_value", "adjusted_p"):
            data[key] = _plain(data[key])
        for key in ("contribution", "contribution_points", "exclusive_contribution", "exclusive_points"):
            data[key] = _plain(getattr(self, key))
        data["variants"] = [v.to_dict() for v in self.variants]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Explanation:
        variants = [cls.from_dict(v) for v in data.get("variants", [])]
        return cls(**{**data, "slice": Slice.from_dict(data["slice"]), "variants": variants})


@dataclass
class SliceResult:
    explanations: list[Explanation]
    tests_run: int
    q: float
    overall: dict
    within: Slice | None = None
    notes: list[str] = field(default_factory=list)
    overlap: dict | None = None  # stats/slice_exclusive.py's rule and totals; None before it ran

    def to_dict(self) -> dict:
        return {
            "explanations": [e.to_dict() for e in self.explanations],
            "tests_run": self.tests_run,
            "q": self.q,
            "overall": self.overall,
            "within": self.within.to_dict() if self.within else None,
            "notes": list(self.notes),
            "overlap": self.overlap,
        }

    @classmethod
    def from_dict(cls, data: dict) -> SliceResult:
        within = Slice.from_dict(data["within"]) if data.get("within") else None
        return cls(
            explanations=[Explanation.from_dict(e) for e in data["explanations"]],
            tests_run=data["tests_run"],
            q=data["q"],
            overall=data["overall"],
            within=within,
            notes=list(data.get("notes", [])),
            overlap=data.get("overlap"),
        )
