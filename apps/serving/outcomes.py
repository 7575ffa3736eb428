"""Outcomes (ground truth that arrives later) from the API, the CLI or the page: read, scoped to the
endpoints the user can see, then stored by apps/serving/ingest.py. Unknown ids are reported back,
never a crash and never silently dropped."""

import io

import pandas as pd
from django.core.exceptions import ValidationError

from apps.accounts import access
from apps.serving.ingest import outcomes_ingest

MAX_OUTCOMES = 100_000


def outcomes_from_csv(content: bytes) -> list[dict]:
    try:
        frame = pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError({"file": f"cannot be read as CSV: {exc}"}) from exc
    if "value" not in frame.columns or not ({"request_id", "business_key"} & set(frame.columns)):
        raise ValidationError({"file": "needs a value column and a request_id or business_key column"})
    return frame.to_dict(orient="records")


def outcomes_submit(
    *, user, records: list[dict], endpoint: str | None = None, key_field: str | None = None
) -> tuple[int, list[str]]:
    """Store ``records`` ({request_id[, row] | business_key, value[, endpoint]}); ``endpoint`` is the
    default for records without one. Answers how many were accepted and the unknown ids."""
    if not records:
        raise ValidationError({"outcomes": "send a list of outcomes or a CSV file"})
    if len(records) > MAX_OUTCOMES:
        raise ValidationError({"outcomes": f"at most {MAX_OUTCOMES} outcomes per call"})
    for record in records:
        record.setdefault("endpoint", endpoint)
    names = {r.get("endpoint") for r in records}
    visible = set(access.endpoints_visible_to(user).filter(name__in=names).values_list("name", flat=True))
    hidden = sorted(str(n) for n in names - visible)
    if hidden:
        raise ValidationError({"endpoint": f"no endpoint you can see named {', '.join(hidden)}"})
    try:
        return outcomes_ingest(records, key_field=key_field)
    except ValueError as exc:
        raise ValidationError({"outcomes": str(exc)}) from exc
