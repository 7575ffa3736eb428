"""Moving the prediction log from its buffer into the database (outcomes: apps/serving/outcomes.py).

A prediction record (what the inference service appends, one per scored row)::

    {"request_id": "…", "row": 0, "endpoint": "credit", "environment": "production",
     "deployment_id": 7, "version_id": 3, "role": "primary", "inputs": {...},
     "prediction": 1, "probabilities": [0.2, 0.8], "latency_ms": 4.2,
     "ts": "2025-01-01T12:00:00+00:00", "batch": false}

``ts`` may also be seconds since the epoch. A rejected request (a data-quality event, without
the values)::

    {"kind": "rejected", "request_id": "…", "endpoint": "credit", "environment": "production",
     "version_id": 3, "deployment_id": 7, "errors": ["…"], "ts": "…"}

Records of kind "sla" (per-minute service levels of an endpoint version) and "resource" (an
inference worker's CPU and memory) are handed to apps/sla/ingest.py in the same transaction.

Inserts ignore rows already there (the unique keys), so a batch delivered twice is stored once.
A prediction skipped because another one (a different time) holds its request id, row and
deployment is not a redelivery but a reused request id that got past the inference service's claim
(an expired claim, a lost claim store): it is logged as an error and counted in
``reused_request_ids_skipped``, never dropped without a word.
"""

import logging
import time
from concurrent.futures import ThreadPoolExecutor

from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections, transaction

from apps.core.records import record_time
from apps.serving.logbuffer import dumps
from apps.serving.models import Prediction, RejectedRequest
from apps.sla.ingest import ingest_resource_records, ingest_sla_records

log = logging.getLogger(__name__)

# Predictions this process skipped because their request id was already stored for another one.
reused_request_ids_skipped = 0

# Raised when the database cannot be reached: the batch stays in the buffer for the next drain.
DATABASE_DOWN = (OperationalError, InterfaceError)

PREDICTION_COLUMNS = (
    "request_id",
    "row",
    "endpoint",
    "environment",
    "deployment_id",
    "version_id",
    "role",
    "inputs",
    "prediction",
    "probabilities",
    "latency_ms",
    "ts",
    "batch",
)
REJECTED_COLUMNS = ("request_id", "endpoint", "environment", "deployment_id", "version_id", "errors", "ts")
ROLES = frozenset(Prediction.Role.values)


def _text(value, limit: int) -> str:
    text = str(value)
    if len(text) > limit:
        raise ValueError(f"longer than {limit} characters")
    return text


def _json(value) -> str:
    return dumps(value).decode()


def _optional_int(value) -> int | None:
    return None if value in (None, "") else int(value)  # "" is an empty CSV cell


def _prediction_row(r: dict) -> tuple:
    role = r.get("role") or "primary"
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    probabilities = r.get("probabilities")
    return (
        _text(r["request_id"], 64),
        int(r.get("row") or 0),
        _text(r["endpoint"], 200),
        _text(r.get("environment") or "", 50),
        int(r["deployment_id"]),
        int(r["version_id"]),
        role,
        _json(r.get("inputs") or {}),
        _json(r.get("prediction")),
        None if probabilities is None else _json(probabilities),
        float(r.get("latency_ms") or 0.0),
        record_time(r["ts"]),
        bool(r.get("batch", False)),
    )


def _rejected_row(r: dict) -> tuple:
    return (
        _text(r["request_id"], 64),
        _text(r["endpoint"], 200),
        _text(r.get("environment") or "", 50),
        _optional_int(r.get("deployment_id")),
        _optional_int(r.get("version_id")),
        _json(list(r.get("errors") or [])),
        record_time(r["ts"]),
    )


def _insert_ignoring_duplicates(connection, table: str, columns: tuple, rows: list[tuple]) -> int:
    """Insert ``rows``, skipping those whose unique key is already stored; rows inserted."""
    if not rows:
        return 0
    quote = connection.ops.quote_name
    names = ", ".join(quote(c) for c in columns)
    if connection.vendor == "postgresql":
        # COPY is the fast way in; it cannot skip duplicates, so it fills a temporary table that
        # one INSERT … ON CONFLICT DO NOTHING moves over. Dropped first: inside an outer
        # transaction (tests) ON COMMIT has not fired yet.
        load = quote(f"{table}_load")
        with connection.cursor() as cursor, connection.wrap_database_errors:
            cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{load}")
            cursor.execute(
                f"CREATE TEMP TABLE {load} ON COMMIT DROP AS SELECT {names} FROM {quote(table)} WITH NO DATA"
            )
            with cursor.cursor.copy(f"COPY {load} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(
                f"INSERT INTO {quote(table)} ({names}) SELECT {names} FROM {load} ON CONFLICT DO NOTHING"
            )
            return cursor.rowcount
    # SQLite keeps datetimes as naive UTC text, in Django's format.
    at = columns.index("ts")
    adapt = connection.ops.adapt_datetimefield_value
    rows = [(*row[:at], adapt(row[at]), *row[at + 1 :]) for row in rows]
    marks = ", ".join(["%s"] * len(columns))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT OR IGNORE INTO {quote(table)} ({names}) VALUES ({marks})", rows)
        return cursor.rowcount


def _rows(records, make) -> list[tuple]:
    rows = []
    for record in records:
        try:
            rows.append(make(record))
        except (KeyError, TypeError, ValueError) as error:
            # A record that can never be stored must not block the log behind it.
            log.error(
                "prediction log: unusable record skipped (%s: %s): %.300r",
                type(error).__name__,
                error,
                record,
            )
    return rows


def ingest_batch(records: list[dict], *, using: str = DEFAULT_DB_ALIAS) -> int:
    """Store a batch of log records in one transaction; the number of predictions inserted
    (those already stored, from an earlier delivery of the same batch, are not counted)."""
    rejected = [r for r in records if r.get("kind") == "rejected"]
    predictions = [r for r in records if r.get("kind", "prediction") == "prediction"]
    service_levels = [r for r in records if r.get("kind") == "sla"]
    resources = [r for r in records if r.get("kind") == "resource"]
    known = len(rejected) + len(predictions) + len(service_levels) + len(resources)
    if known < len(records):
        log.error("prediction log: %d records of an unknown kind skipped", len(records) - known)
    connection = connections[using]
    prediction_rows = _rows(predictions, _prediction_row)
    with transaction.atomic(using=using):
        inserted = _insert_ignoring_duplicates(
            connection, Prediction._meta.db_table, PREDICTION_COLUMNS, prediction_rows
        )
        if inserted < len(prediction_rows):
            _report_reused_request_ids(prediction_rows, using=using)
        _insert_ignoring_duplicates(
            connection, RejectedRequest._meta.db_table, REJECTED_COLUMNS, _rows(rejected, _rejected_row)
        )
        ingest_sla_records(service_levels, using=using)
        ingest_resource_records(resources, using=using)
    return inserted


def _report_reused_request_ids(rows: list[tuple], *, using: str) -> int:
    """Among rows the insert skipped, those that are not a redelivery of the stored prediction (its
    time differs): a request id used twice. Logged as an error and counted; their number."""
    global reused_request_ids_skipped
    request_at, row_at, deployment_at, ts_at = (
        PREDICTION_COLUMNS.index(c) for c in ("request_id", "row", "deployment_id", "ts")
    )
    stored = {}
    for chunk in in_chunks(rows):
        found = Prediction.objects.using(using).filter(
            request_id__in={r[request_at] for r in chunk}, deployment_id__in={r[deployment_at] for r in chunk}
        )
        stored |= {
            (p.request_id, p.row, p.deployment_id): p.ts
            for p in found.only("request_id", "row", "deployment_id", "ts")
        }
    reused = [
        r
        for r in rows
        if (ts := stored.get((r[request_at], r[row_at], r[deployment_at]))) is not None and ts != r[ts_at]
    ]
    if reused:
        reused_request_ids_skipped += len(reused)
        endpoint_at = PREDICTION_COLUMNS.index("endpoint")
        shown = ", ".join(sorted({f"{r[endpoint_at]}/{r[request_at]}" for r in reused})[:10])
        log.error(
            "prediction log: %d predictions skipped: their request id, row and deployment were already "
            "stored for an earlier prediction (a reused request id): %s",
            len(reused),
            shown,
        )
    return len(reused)


def in_chunks(items: list, size: int = 500):
    """Bounded IN lists (SQLite limits a statement's parameters)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def drain(
    buffer, *, max_batches: int | None = 100, batch_size: int = 5000, using: str = DEFAULT_DB_ALIAS
) -> int:
    """read → ingest → ack until the buffer is empty or ``max_batches`` batches are stored;
    the number of predictions inserted. When the database is down nothing is acknowledged:
    the drain stops and the records wait in the buffer (their reader gets them first next time).

    While the database stores one batch, a thread reads and parses the next through the buffer's
    sibling reader: the database server and Python then work at the same time. The database is
    only used from the calling thread (its connection and transaction)."""
    readers = (buffer, buffer.sibling())
    inserted = batches = 0
    started = time.monotonic()
    with ThreadPoolExecutor(1, thread_name_prefix="prediction-log-read") as pool:
        upcoming = pool.submit(readers[0].read, batch_size)
        while upcoming is not None:
            reader = readers[batches % 2]
            token, records = upcoming.result()
            if not token:
                break
            last = max_batches is not None and batches + 1 >= max_batches
            upcoming = None if last else pool.submit(readers[(batches + 1) % 2].read, batch_size)
            if records:
                try:
                    inserted += ingest_batch(records, using=using)
                except DATABASE_DOWN as error:
                    log.warning("prediction log: database unavailable, records stay buffered: %s", error)
                    connections[using].close_if_unusable_or_obsolete()  # reconnect next time
                    break
            reader.ack(token)  # only after the commit: a crash in between means a harmless redelivery
            batches += 1
        if upcoming is not None:
            upcoming.result()  # read but not ingested: left un-acked, its reader hands it out again
    if inserted:
        log.info("prediction log: %d predictions stored in %.2fs", inserted, time.monotonic() - started)
    return inserted
