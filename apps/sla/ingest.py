"""Service-level records from the prediction log into the database (called by apps/serving/ingest.py
inside its transaction).

An "sla" record (one endpoint version's minute, from one worker's flush; see
apps/serving/inference/sla.py)::

    {"kind": "sla", "id": "<flush>:0", "endpoint": "credit-risk", "environment": "production",
     "version": 1, "minute": 1740830400, "count": 12, "errors": 1, "client_errors": 2,
     "latency_sum_ms": 40.5, "buckets": {"7": 9, "8": 2}, "histogram": "log10x10-0.25ms-10s"}

and a "resource" record (one worker process's CPU and memory)::

    {"kind": "resource", "id": "<flush>:resource", "host": "web-1", "pid": 4242, "ts": 1740830405.2,
     "cpu_seconds": 3.2, "cpu_percent": 12.5, "rss_bytes": 183500800, "requests": 60}

Exactly once: a record's id goes into SlaFlush with INSERT … ON CONFLICT DO NOTHING RETURNING, and
only the ids that statement returns are added to the rollups. Two ingestion workers holding the
same record serialise on that unique id (the second waits for the first to commit, then sees the
conflict). The additions themselves lock the rollup rows (SELECT … FOR UPDATE in id order; SQLite
runs one write transaction at a time), so concurrent merges into one minute never lose an update.
"""

import logging
import time
from datetime import timedelta

from django.db import connections
from django.utils import timezone

from apps.core.records import record_time
from apps.sla import stats
from apps.sla.models import SlaFlush, SlaRollup, WorkerSample

log = logging.getLogger(__name__)

KEEP_FLUSH_IDS = timedelta(days=8)  # far longer than a stored record can wait to be delivered again
_PRUNE_EVERY_SECONDS = 600
_last_prune = 0.0


def _text(value, limit: int) -> str:
    text = str(value)
    if not text or len(text) > limit:
        raise ValueError(f"must be 1 to {limit} characters")
    return text


def _count(value) -> int:
    n = int(value)
    if n < 0:
        raise ValueError("a count cannot be negative")
    return n


def _sla_cell(r: dict) -> tuple[str, tuple, dict]:
    """(id, rollup key, additions) of one record; ValueError/KeyError/TypeError when unusable."""
    if r.get("histogram") != stats.HISTOGRAM_ID:
        raise ValueError(f"histogram bounds {r.get('histogram')!r}, expected {stats.HISTOGRAM_ID!r}")
    minute = record_time(r["minute"]).replace(second=0, microsecond=0)
    count, errors, client_errors = _count(r["count"]), _count(r["errors"]), _count(r["client_errors"])
    if errors + client_errors > count:
        raise ValueError("more errors than requests")
    buckets = stats.from_sparse(r.get("buckets") or {})
    latency_sum = float(r.get("latency_sum_ms") or 0.0)
    if not latency_sum >= 0:
        raise ValueError("latency_sum_ms must be a non-negative number")
    key = (_text(r["endpoint"], 200), _text(r["environment"], 50), _count(r["version"]), minute)
    return (
        _text(r["id"], 80),
        key,
        {
            "count": count,
            "errors": errors,
            "client_errors": client_errors,
            "latency_sum_ms": latency_sum,
            "buckets": buckets,
        },
    )


def _usable(records: list[dict], parse) -> list:
    parsed = []
    for record in records:
        try:
            parsed.append(parse(record))
        except (KeyError, TypeError, ValueError) as error:
            log.error(
                "service levels: unusable %s record skipped (%s: %s): %.300r",
                record.get("kind"),
                type(error).__name__,
                error,
                record,
            )
    return parsed


def _claim_ids(connection, ids: list[str]) -> set[str]:
    """Record the ids; those already there (an earlier delivery) are not returned."""
    claimed = set()
    table = connection.ops.quote_name(SlaFlush._meta.db_table)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    for start in range(0, len(ids), 400):
        chunk = ids[start : start + 400]
        marks = ", ".join(["(%s, %s)"] * len(chunk))
        params = [value for flush_id in chunk for value in (flush_id, now)]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (id, claimed_at) VALUES {marks} ON CONFLICT DO NOTHING RETURNING id",
                params,
            )
            claimed.update(row[0] for row in cursor.fetchall())
    return claimed


def ingest_sla_records(records: list[dict], *, using: str) -> int:
    """Add new "sla" records into their minutes' rollups; the number of records added. Call inside
    a transaction: the ids claimed and the additions commit together."""
    cells = _usable(records, _sla_cell)
    if not cells:
        return 0
    connection = connections[using]
    unique = {flush_id: (key, add) for flush_id, key, add in cells}  # a batch may repeat a record
    claimed = _claim_ids(connection, list(unique))
    totals: dict[tuple, dict] = {}
    for flush_id in claimed:
        key, add = unique[flush_id]
        total = totals.setdefault(key, {"count": 0, "errors": 0, "client_errors": 0, "latency_sum_ms": 0.0})
        for field in ("count", "errors", "client_errors", "latency_sum_ms"):
            total[field] += add[field]
        total["buckets"] = stats.merge(total.get("buckets", stats.empty()), add["buckets"])
    if totals:
        _add_to_rollups(totals, using=using)
    _prune(using=using)
    return len(claimed)


def _add_to_rollups(totals: dict[tuple, dict], *, using: str) -> None:
    keys = sorted(totals)
    fields = ("endpoint", "environment", "version_number", "minute")
    # Rows for cells seen for the first time (in key order, so concurrent inserters queue up in the
    # same order); then every row of the batch locked in id order and added to.
    SlaRollup.objects.using(using).bulk_create(
        [SlaRollup(**dict(zip(fields, key, strict=True)), buckets=stats.empty()) for key in keys],
        ignore_conflicts=True,
    )
    rows = (
        SlaRollup.objects.using(using)
        .select_for_update()
        .filter(
            endpoint__in={k[0] for k in keys},
            environment__in={k[1] for k in keys},
            version_number__in={k[2] for k in keys},
            minute__in={k[3] for k in keys},
        )
        .order_by("id")
    )
    changed = []
    for row in rows:
        add = totals.get((row.endpoint, row.environment, row.version_number, row.minute))
        if add is None:
            continue
        row.count += add["count"]
        row.errors += add["errors"]
        row.client_errors += add["client_errors"]
        row.latency_sum_ms += add["latency_sum_ms"]
        row.buckets = stats.merge(row.buckets or stats.empty(), add["buckets"])
        changed.append(row)
    if len(changed) != len(keys):
        raise RuntimeError(f"{len(keys) - len(changed)} rollup rows vanished while being added to")
    SlaRollup.objects.using(using).bulk_update(
        changed, ["count", "errors", "client_errors", "latency_sum_ms", "buckets"]
    )


def _prune(*, using: str) -> None:
    """Forget ids claimed long enough ago never to be delivered again, now and then."""
    global _last_prune
    if time.monotonic() - _last_prune < _PRUNE_EVERY_SECONDS:
        return
    _last_prune = time.monotonic()
    SlaFlush.objects.using(using).filter(claimed_at__lt=timezone.now() - KEEP_FLUSH_IDS).delete()


def _sample(r: dict) -> WorkerSample:
    cpu_percent = r.get("cpu_percent")
    return WorkerSample(
        host=_text(r["host"], 200),
        pid=_count(r["pid"]),
        ts=record_time(r["ts"]),
        cpu_seconds=float(r["cpu_seconds"]),
        cpu_percent=None if cpu_percent is None else float(cpu_percent),
        rss_bytes=_count(r["rss_bytes"]),
        requests=_count(r.get("requests") or 0),
    )


def ingest_resource_records(records: list[dict], *, using: str) -> None:
    """Store worker samples; one already stored (same host, pid and moment) is skipped."""
    samples = _usable(records, _sample)
    WorkerSample.objects.using(using).bulk_create(samples, ignore_conflicts=True)
