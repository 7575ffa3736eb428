"""Outcomes: the ground truth that arrives after the predictions, from the API, the CLI or the
deployments page.

Who writes them: the data scientists of the team that owns the endpoint, and IT. Business owners
read outcomes through KPIs and monitoring; they do not write them (PermissionDenied).

What they join: every outcome names an endpoint and an environment (production unless it says
otherwise, as predictions do) and is matched only to what that endpoint's own deployments logged
there. An endpoint the caller may not write to is refused like one that does not exist, and an id
logged anywhere else is reported like one never logged: the answer tells nothing about predictions
the caller may not see.

How they are kept: one outcome per prediction row (request id and row; an outcome that names no row
covers every row its request scored). Sending one again replaces its value through an upsert on the
table's unique key; the value replaced is kept as an OutcomeRevision linked to the audit event of
the write (who, when, how many rows)."""

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import TextField
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone

from apps.accounts import access
from apps.core.audit import audit_record
from apps.core.records import record_time
from apps.deployments.models import Endpoint
from apps.deployments.selectors import outcome_endpoints_for
from apps.serving.ingest import in_chunks
from apps.serving.models import Outcome, OutcomeRevision, Prediction

DEFAULT_ENVIRONMENT = "production"
UNIQUE = ["endpoint", "environment", "request_id", "row"]


@dataclass(frozen=True)
class OutcomesAnswer:
    accepted: int  # prediction rows given an outcome
    overwritten: int = 0  # of those, rows whose stored value was different (kept as revisions)
    unknown: list[str] = field(default_factory=list)  # ids that match no prediction of the endpoint


def outcomes_from_csv(upload) -> list[dict]:
    """The rows of an outcomes CSV (a binary file object) as records, read a row at a time: a file
    over MODELYARD_OUTCOMES_MAX_MB is refused before it is read, and reading stops at the first row
    past MODELYARD_OUTCOMES_MAX_ROWS, so memory stays bounded whatever arrives."""
    max_rows, max_mb = settings.MODELYARD_OUTCOMES_MAX_ROWS, settings.MODELYARD_OUTCOMES_MAX_MB
    if _size(upload) > max_mb * 1024 * 1024:
        raise ValidationError(
            {
                "file": f"is larger than {max_mb:g} MB, the most an outcomes file may be "
                "(MODELYARD_OUTCOMES_MAX_MB): split it"
            }
        )
    upload.seek(0)
    text = io.TextIOWrapper(upload, encoding="utf-8-sig", newline="")
    try:
        reader = csv.DictReader(text, restval="")
        columns = set(reader.fieldnames or ())
        if "value" not in columns or not ({"request_id", "business_key"} & columns):
            raise ValidationError({"file": "needs a value column and a request_id or business_key column"})
        records = []
        for record in reader:
            if None in record:
                raise ValidationError({"file": f"line {reader.line_num} has more cells than the header"})
            if len(records) == max_rows:
                raise ValidationError(
                    {
                        "file": f"has more than {max_rows} rows; send at most {max_rows} outcomes per call "
                        "(MODELYARD_OUTCOMES_MAX_ROWS): split the file"
                    }
                )
            records.append(record)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ValidationError({"file": f"cannot be read as CSV (line {reader.line_num}): {exc}"}) from exc
    finally:
        text.detach()  # the upload stays open for its owner
    return records


def _size(upload) -> int:
    size = getattr(upload, "size", None)
    if size is None:
        upload.seek(0, io.SEEK_END)
        size = upload.tell()
        upload.seek(0)
    return size


def outcomes_submit(
    *,
    user,
    records: list[dict],
    endpoint: str | None = None,
    environment: str | None = None,
    key_field: str | None = None,
) -> OutcomesAnswer:
    """Store ``records``: each ``{request_id[, row] | business_key, value[, observed_at, endpoint,
    environment]}``; ``endpoint`` and ``environment`` are the defaults for records without them.
    A ``business_key`` is the value the prediction's inputs hold under ``key_field`` (``a__b`` for
    a nested field, compared as text) and joins the latest such prediction. Empty strings count as
    missing (CSV cells). Ids that match nothing are answered back, not stored."""
    if not access.can_write_outcomes(user):
        raise PermissionDenied("outcomes are written by the model's team and IT operators")
    if not records:
        raise ValidationError({"outcomes": "send a list of outcomes or a CSV file"})
    max_rows = settings.MODELYARD_OUTCOMES_MAX_ROWS
    if len(records) > max_rows:
        raise ValidationError(
            {"outcomes": f"at most {max_rows} outcomes per call (MODELYARD_OUTCOMES_MAX_ROWS)"}
        )
    groups = _grouped(records, endpoint, environment or DEFAULT_ENVIRONMENT, key_field)
    endpoints = _endpoints_for(user, groups)
    accepted = overwritten = 0
    unknown: list[str] = []
    with transaction.atomic():
        # One writer per endpoint at a time, so the values an overwrite keeps are the ones it replaced.
        list(
            Endpoint.objects.select_for_update(no_key=True)
            .filter(pk__in=[e.pk for e in endpoints.values()])
            .order_by("pk")
        )
        for key, group in groups.items():
            matched, missing = _match(endpoints[key], group, key_field)
            unknown += missing
            if matched:
                overwritten += _store(user, endpoints[key], matched, key_field)
                accepted += len(matched)
    return OutcomesAnswer(accepted=accepted, overwritten=overwritten, unknown=list(dict.fromkeys(unknown)))


def _blank(value) -> bool:
    return value is None or value == ""


def _row(r: dict) -> int | None:
    return None if _blank(r.get("row")) else int(r["row"])


def _observed_at(r: dict, now: datetime) -> datetime:
    return now if _blank(r.get("observed_at")) else record_time(r["observed_at"])


def _grouped(records: list[dict], endpoint, environment: str, key_field) -> dict[tuple[str, str], list]:
    """The records by (endpoint, environment), each checked: ValidationError naming the first bad one."""
    groups: dict[tuple[str, str], list] = {}
    for r in records:
        if not isinstance(r, dict):
            raise ValidationError(
                {"outcomes": 'every outcome is an object, e.g. {"request_id": …, "value": …}'}
            )
        name = r.get("endpoint") or endpoint
        label = r.get("request_id") or r.get("business_key")
        if not name or "value" not in r:
            raise ValidationError({"outcomes": "every outcome needs an endpoint and a value"})
        if _blank(r.get("request_id")) and _blank(r.get("business_key")):
            raise ValidationError({"outcomes": "every outcome needs a request_id or a business_key"})
        if _blank(r.get("request_id")) and not key_field:
            raise ValidationError(
                {"key_field": f"outcome for {label}: a business_key needs key_field (the input holding it)"}
            )
        try:
            _row(r)
            _observed_at(r, timezone.now())
        except (TypeError, ValueError) as error:
            raise ValidationError({"outcomes": f"outcome for {label}: {error}"}) from None
        groups.setdefault((str(name), str(r.get("environment") or environment)), []).append(r)
    return groups


def _endpoints_for(user, groups: dict) -> dict[tuple[str, str], Endpoint]:
    """The endpoints named, among those the user may send outcomes for. Any other name, another
    team's or none at all, gets the same answer."""
    names, environments = {k[0] for k in groups}, {k[1] for k in groups}
    found = {
        (e.name, e.environment.name): e
        for e in outcome_endpoints_for(user)
        .filter(name__in=names, environment__name__in=environments)
        .select_related("environment", "team")
    }
    missing = [f"'{name}' in {env}" for name, env in groups if (name, env) not in found]
    if missing:
        raise ValidationError(
            {"endpoint": f"no endpoint you can send outcomes for: {', '.join(sorted(missing))}"}
        )
    return found


def _match(endpoint: Endpoint, records: list[dict], key_field) -> tuple[dict, list[str]]:
    """({(request_id, row): record} for the prediction rows the records name, unknown ids). Only
    the predictions this endpoint's own deployments logged in its environment are looked at."""
    logged = Prediction.objects.filter(
        endpoint=endpoint.name,
        environment=endpoint.environment.name,
        deployment_id__in=endpoint.deployments.values("pk"),
    )
    by_row = [r for r in records if not _blank(r.get("request_id")) and _row(r) is not None]
    by_request = [r for r in records if not _blank(r.get("request_id")) and _row(r) is None]
    by_key = [r for r in records if _blank(r.get("request_id"))]
    pairs: set[tuple[str, int]] = set()
    for chunk in in_chunks(by_row):
        pairs |= set(
            logged.filter(
                request_id__in={str(r["request_id"]) for r in chunk}, row__in={_row(r) for r in chunk}
            ).values_list("request_id", "row")
        )
    rows_of: dict[str, set[int]] = {}
    max_rows = settings.MODELYARD_OUTCOMES_MAX_ROWS
    for chunk in in_chunks(by_request):
        found = logged.filter(request_id__in={str(r["request_id"]) for r in chunk})
        for request_id, row in found.values_list("request_id", "row").distinct()[: max_rows + 1]:
            rows_of.setdefault(request_id, set()).add(row)
        if sum(map(len, rows_of.values())) > max_rows:
            raise ValidationError(
                {"outcomes": f"more than {max_rows} prediction rows in all: give each outcome its row"}
            )
    keyed = _match_business_keys(logged, by_key, key_field) if by_key else {}

    accepted: dict[tuple[str, int], dict] = {}
    unknown: list[str] = []
    for r in records:
        if _blank(r.get("request_id")):
            label = str(r["business_key"])
            request_id, rows = keyed.get(label, (None, []))
        else:
            request_id, row = str(r["request_id"]), _row(r)
            label = request_id
            if row is None:
                rows = sorted(rows_of.get(request_id, ()))
            else:
                rows = [row] if (request_id, row) in pairs else []
        if not rows:
            unknown.append(label)
        for row in rows:
            accepted[(request_id, row)] = r  # a later record for the same row wins
    return accepted, unknown


def _match_business_keys(logged, records: list[dict], key_field: str) -> dict[str, tuple[str, list[int]]]:
    """business key → (request_id, [row]) of the latest logged prediction whose inputs hold it."""
    found = {}
    for chunk in in_chunks(records):
        keyed = (
            logged.annotate(business_key=Cast(KT(f"inputs__{key_field}"), TextField()))
            .filter(business_key__in={str(r["business_key"]) for r in chunk})
            .order_by("ts", "id")
            .values_list("business_key", "request_id", "row")
        )
        found |= {key: (request_id, [row]) for key, request_id, row in keyed}  # the latest wins
    return found


def _store(user, endpoint: Endpoint, accepted: dict, key_field) -> int:
    """Upsert the outcomes of ``accepted`` on ``endpoint``, audit the write and keep the values it
    replaced; the number of rows whose value changed."""
    environment, now = endpoint.environment.name, timezone.now()
    keys = list(accepted)
    stored: dict[tuple[str, int], Outcome] = {}
    for chunk in in_chunks(keys):
        stored |= {
            (o.request_id, o.row): o
            for o in Outcome.objects.filter(
                endpoint=endpoint.name,
                environment=environment,
                request_id__in={k[0] for k in chunk},
                row__in={k[1] for k in chunk},
            ).only("id", "request_id", "row", "value", "observed_at")
        }
    replaced = [stored[k] for k in keys if k in stored and stored[k].value != accepted[k]["value"]]
    event = audit_record(
        actor=user,
        action="outcomes.written",
        obj=endpoint,
        team=endpoint.team,
        environment=environment,
        rows=len(keys),
        new=sum(k not in stored for k in keys),
        overwritten=len(replaced),
        **({"key_field": key_field} if key_field else {}),
    )
    Outcome.objects.bulk_create(
        [
            Outcome(
                endpoint=endpoint.name,
                environment=environment,
                request_id=request_id,
                row=row,
                value=r["value"],
                business_key=None if _blank(r.get("business_key")) else str(r["business_key"]),
                observed_at=_observed_at(r, now),
                received_at=now,
            )
            for (request_id, row), r in accepted.items()
        ],
        batch_size=2000,
        update_conflicts=True,
        unique_fields=UNIQUE,
        update_fields=["value", "business_key", "observed_at", "received_at"],
    )
    OutcomeRevision.objects.bulk_create(
        [
            OutcomeRevision(outcome=o, value=o.value, observed_at=o.observed_at, audit_event=event)
            for o in replaced
        ],
        batch_size=2000,
    )
    return len(replaced)
