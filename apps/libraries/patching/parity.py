"""Prediction parity: does the patched version answer like the current one on the reference sample?

No Django. The inputs are two sandbox responses (``predictions`` and, for classifiers,
``probabilities`` and ``classes``) on the same rows in the same order.
"""

import math
from dataclasses import asdict, dataclass, field

DEFAULT_MIN_AGREEMENT = 0.995  # share of rows whose label (or value, within the tolerance) is unchanged
DEFAULT_MAX_DELTA = 1e-6  # largest allowed |Δ| of any probability (classifiers) or value (regressors)
SHOWN_ROWS = 20


@dataclass(frozen=True)
class Tolerance:
    min_agreement: float = DEFAULT_MIN_AGREEMENT
    max_delta: float = DEFAULT_MAX_DELTA


@dataclass(frozen=True)
class ParityReport:
    passed: bool
    rows: int
    agreement: float  # share of rows with the same label (classifiers) or a value within max_delta
    changed_rows: int
    max_delta: float | None  # largest |Δp| (classifiers with probabilities) or |Δvalue| (regressors)
    max_delta_row: int | None
    tolerance: dict
    reasons: list[str]  # why it failed, one sentence each; empty when it passed
    changes: list[dict] = field(default_factory=list)  # up to SHOWN_ROWS {row, before, after, delta}
    label_changes: dict = field(default_factory=dict)  # "before → after": count

    def as_dict(self) -> dict:
        return asdict(self)


def compare(current: dict, patched: dict, tolerance: Tolerance | None = None) -> ParityReport:
    tolerance = tolerance or Tolerance()
    before, after = list(current.get("predictions") or []), list(patched.get("predictions") or [])
    if len(before) != len(after):
        reason = f"the versions gave {len(before)} and {len(after)} predictions for the same rows"
        return _failed(len(before), tolerance, reason)
    if not before:
        return _failed(0, tolerance, "there were no predictions to compare")
    numeric = all(_is_number(v) for v in before + after) and current.get("kind") == "regressor"
    deltas = _value_deltas(before, after) if numeric else _probability_deltas(current, patched, len(before))
    reasons = []
    if deltas is None:
        reasons.append("the patched version's classes or probabilities differ in shape from the current's")
        deltas = [0.0] * len(before)
    same = [
        (d <= tolerance.max_delta) if numeric else (_label(b) == _label(a))
        for b, a, d in zip(before, after, deltas, strict=True)
    ]
    agreement = sum(same) / len(same)
    worst = max(range(len(deltas)), key=deltas.__getitem__) if deltas else None
    max_delta = deltas[worst] if worst is not None else None
    if agreement < tolerance.min_agreement:
        reasons.append(
            f"{len(same) - sum(same)} of {len(same)} rows changed their {'value' if numeric else 'label'} "
            f"(agreement {agreement:.2%}, at least {tolerance.min_agreement:.2%} required)"
        )
    if max_delta is not None and max_delta > tolerance.max_delta:
        what = "value" if numeric else "probability"
        reasons.append(
            f"the largest {what} change is {max_delta:.3g} (row {worst}), "
            f"more than the tolerance {tolerance.max_delta:g}"
        )
    changed = [i for i in range(len(before)) if not same[i] or deltas[i] > tolerance.max_delta]
    changes = [
        {"row": i, "before": before[i], "after": after[i], "delta": deltas[i]} for i in changed[:SHOWN_ROWS]
    ]
    label_changes: dict[str, int] = {}
    if not numeric:
        for b, a in zip(before, after, strict=True):
            if _label(b) != _label(a):
                key = f"{b} → {a}"
                label_changes[key] = label_changes.get(key, 0) + 1
    return ParityReport(
        passed=not reasons,
        rows=len(before),
        agreement=agreement,
        changed_rows=len(changed),
        max_delta=max_delta,
        max_delta_row=worst,
        tolerance=asdict(tolerance),
        reasons=reasons,
        changes=changes,
        label_changes=label_changes,
    )


def _probability_deltas(current: dict, patched: dict, rows: int) -> list[float] | None:
    """Per row, the largest |Δp| over the classes; zeros when neither version gives probabilities."""
    p, q = current.get("probabilities"), patched.get("probabilities")
    if p is None and q is None:
        return [0.0] * rows
    if p is None or q is None or current.get("classes") != patched.get("classes") or len(p) != len(q):
        return None
    deltas = []
    for row_p, row_q in zip(p, q, strict=True):
        if len(row_p) != len(row_q):
            return None
        deltas.append(max((_abs_delta(a, b) for a, b in zip(row_p, row_q, strict=True)), default=0.0))
    return deltas


def _value_deltas(before: list, after: list) -> list[float]:
    return [_abs_delta(b, a) for b, a in zip(before, after, strict=True)]


def _abs_delta(a, b) -> float:
    if a is None or b is None:  # NaN or infinity became None in the sandbox's JSON
        return 0.0 if a is None and b is None else math.inf
    return abs(float(a) - float(b))


def _is_number(value) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _label(value):
    return str(value)


def _failed(rows: int, tolerance: Tolerance, reason: str) -> ParityReport:
    return ParityReport(False, rows, 0.0, rows, None, None, asdict(tolerance), [reason])
