"""Prediction-log ingestion: append N synthetic predictions (20 features each) to the configured
buffer, drain them into the configured database, print the rates.

    .venv/bin/python bench/ingestion/run.py --records 200000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/modelyard REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/ingestion/run.py --records 200000

It uses a buffer of its own (a Redis key prefix or spool folder apart from a running demo's) and
deletes its rows afterwards unless --keep is given. The database must be migrated
(`manage.py migrate`, as `make demo` does)."""

import argparse
import multiprocessing
import os
import shutil
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")


def synthetic(run: str, start: int, count: int, moment: datetime) -> list[dict]:
    return [
        {
            "request_id": f"bench-{run}-{i}",
            "row": 0,
            "endpoint": "bench-credit",
            "environment": "production",
            "deployment_id": 1,
            "version_id": 1,
            "role": "primary",
            "inputs": {f"feature_{j}": round((i * 7919 + j * 104729) % 10_000 / 100, 2) for j in range(20)},
            "prediction": i % 2,
            "probabilities": [0.3, 0.7],
            "latency_ms": 2.5,
            "ts": (moment + timedelta(microseconds=i)).isoformat(),
            "batch": False,
        }
        for i in range(start, start + count)
    ]


def _drain(batch_size: int) -> int:
    from apps.serving.ingest import drain
    from apps.serving.logbuffer import open_buffer

    return drain(open_buffer(), max_batches=None, batch_size=batch_size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--append-batch", type=int, default=100, help="records per append call")
    parser.add_argument("--batch-size", type=int, default=5000, help="records per ingested batch")
    parser.add_argument("--readers", type=int, default=1, help="draining processes (consumers) in parallel")
    parser.add_argument("--keep", action="store_true", help="keep the inserted rows")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection, connections

    run = uuid.uuid4().hex[:8]
    os.environ["MODELYARD_PREDICTION_LOG_PREFIX"] = f"modelyard-bench-{run}:"
    os.environ["MODELYARD_SPOOL_DIR"] = str(settings.VAR_DIR / f"bench-spool-{run}")

    from apps.serving.ingest import drain
    from apps.serving.logbuffer import RedisStreamBuffer, open_buffer
    from apps.serving.models import Prediction

    if Prediction._meta.db_table not in connection.introspection.table_names():
        sys.exit("the serving tables are missing: run `.venv/bin/python manage.py migrate` first")
    buffer = open_buffer()
    moment = datetime.now(UTC)
    batches = [
        synthetic(run, start, min(args.append_batch, args.records - start), moment)
        for start in range(0, args.records, args.append_batch)
    ]  # made before the clock starts: the benchmark times the buffer, not the generator

    started = time.perf_counter()
    for batch in batches:
        buffer.append(batch)
    append_seconds = time.perf_counter() - started

    started = time.perf_counter()
    if args.readers == 1:
        with buffer.drain_lease() as held:  # as the ingestion task drains: under the buffer's lease
            if not held:
                sys.exit("another drain holds this buffer's lease")
            inserted = drain(buffer, max_batches=None, batch_size=args.batch_size)
    else:
        connections.close_all()  # each forked reader opens its own connection and its own buffer
        with multiprocessing.get_context("fork").Pool(args.readers) as pool:
            inserted = sum(pool.map(_drain, [args.batch_size] * args.readers))
    ingest_seconds = time.perf_counter() - started

    stored = Prediction.objects.filter(request_id__startswith=f"bench-{run}-").count()
    left = buffer.pending()
    if isinstance(buffer, RedisStreamBuffer):
        buffer._redis.delete(buffer.key)
    else:
        buffer.close()
        shutil.rmtree(buffer.root, ignore_errors=True)
    if not args.keep:
        Prediction.objects.filter(request_id__startswith=f"bench-{run}-").delete()

    if connection.vendor == "postgresql":
        version = connection.pg_version // 10000
    else:
        version = connection.Database.sqlite_version
    rows = [
        ("records", f"{args.records:,}"),
        ("buffer", buffer.name),
        ("database", f"{connection.vendor} {version}"),
        ("append (records/s)", f"{args.records / append_seconds:,.0f}  ({args.append_batch} per append)"),
        (
            "ingest (records/s)",
            f"{inserted / ingest_seconds:,.0f}  ({args.batch_size} per batch, {args.readers} reader(s))",
        ),
        ("stored / left in buffer", f"{stored:,} / {left:,}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    if stored != args.records or left:
        sys.exit("FAILED: not every record was stored exactly once")


if __name__ == "__main__":
    main()
