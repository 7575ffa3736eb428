"""Severity from a CVSS vector, through the `cvss` library (Red Hat's implementation of the FIRST
specifications: base score per CVSS v3.0/v3.1 and v4.0). No Django here."""

from dataclasses import dataclass

from cvss import CVSS3, CVSS4
from cvss.exceptions import CVSSError


@dataclass(frozen=True)
class Rating:
    score: float
    severity: str  # critical, high, medium, low, or "unknown" for a score of 0 (none)
    vector: str


def _qualitative(score: float) -> str:
    """The qualitative scale shared by v3 and v4 (a score of 0.0 is "none": nothing to rank)."""
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    if score > 0.0:
        return "low"
    return "unknown"


def rate(vector: str) -> Rating:
    """Base score and severity of a CVSS v3 or v4 vector. Raises ValueError naming what is wrong."""
    text = (vector or "").strip()
    try:
        if text.startswith("CVSS:3."):
            score = float(CVSS3(text).base_score)
        elif text.startswith("CVSS:4."):
            score = float(CVSS4(text).base_score)
        else:
            raise ValueError(f"not a CVSS v3 or v4 vector: {text[:60]!r}")
    except CVSSError as exc:
        raise ValueError(f"invalid CVSS vector {text[:60]!r}: {exc}") from exc
    return Rating(score=score, severity=_qualitative(score), vector=text)


def worst(vectors: list[str]) -> tuple[Rating | None, list[str]]:
    """The highest-scoring rating among an advisory's vectors, and an error per unreadable one."""
    best, errors = None, []
    for vector in vectors:
        try:
            rating = rate(vector)
        except ValueError as exc:
            errors.append(str(exc))
            continue
        if best is None or rating.score > best.score:
            best = rating
    return best, errors


# Words databases use for severity, on our scale (GitHub says MODERATE, Red Hat IMPORTANT, Ubuntu
# negligible); "none"/"unknown" say nothing and are skipped.
_WORDS = {
    "critical": "critical",
    "high": "high",
    "important": "high",
    "moderate": "medium",
    "medium": "medium",
    "low": "low",
    "negligible": "low",
}


def stated(fields: list[tuple[str, str]]) -> tuple[str, str] | None:
    """(severity, field) from the first severity word an advisory states in its own fields, for an
    advisory with no usable vector; None when no field holds a known word."""
    for field_name, word in fields:
        severity = _WORDS.get(str(word).strip().lower())
        if severity:
            return severity, field_name
    return None
