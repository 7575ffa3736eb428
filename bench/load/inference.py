"""Load: the inference service held at its capacity for a minute, optionally with slow clients.

    .venv/bin/python bench/load/inference.py                          # 60 s at concurrency 32
    .venv/bin/python bench/load/inference.py --slow-clients 64        # plus 64 stalled connections
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/modelyard REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/load/inference.py --duration 60 --concurrency 32

The set-up is the serving benchmark's (bench/serving/run.py): a database of the bench's own, the
Lending Club model registered, packaged and deployed to staging through the services, a consumer
key, ``manage.py inference --workers 2 --threads 4`` with keys required and prediction logging to
the configured buffer. ``--concurrency`` keep-alive clients (bench/serving/loadgen.py, a process of
its own) each send their next single-record request as soon as the last is answered: the service
is saturated, so its requests/s is its measured capacity. ``--slow-clients N`` keeps N more
connections stalled meanwhile, half after headers that declare a 100,000-byte body, half trickling
a header line a second; one the server closes is opened again. After the load the buffer is drained
into the database and the rows stored are counted against the rows answered 200.
"""

import argparse
import contextlib
import json
import os
import selectors
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "serving"))

import run as serving  # noqa: E402  (bench/serving/run.py: the set-up, the server, the drain)
from model import FEATURES, load_frame, train  # noqa: E402

PATH = f"/v1/endpoints/{serving.ENDPOINT}/predict"


class SlowClients(threading.Thread):
    """``count`` stalled connections held open until stop(): what the server does with one (a 408,
    a close) is counted and the connection opened again."""

    def __init__(self, port: int, count: int):
        super().__init__(daemon=True)
        self.port = port
        self.count = count
        self.outcomes: Counter = Counter()
        self._stopping = threading.Event()
        self._selector = selectors.DefaultSelector()

    def _open(self, kind: str) -> None:
        connection = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        head = f"POST {PATH} HTTP/1.1\r\nHost: inference\r\n"
        if kind == "body":
            head += "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n" + '{"records": ['
        connection.sendall(head.encode())
        connection.setblocking(False)
        self._selector.register(connection, selectors.EVENT_READ, kind)

    def run(self) -> None:
        for i in range(self.count):
            self._open("body" if i % 2 == 0 else "headers")
        line = 0
        while not self._stopping.wait(1.0):
            for key, _ in self._selector.select(timeout=0):
                try:
                    answer = key.fileobj.recv(64)
                except OSError:
                    answer = b""
                self.outcomes[answer[9:12].decode() if answer.startswith(b"HTTP/") else "closed"] += 1
                self._selector.unregister(key.fileobj)
                key.fileobj.close()
                self._open(key.data)
            for key in list(self._selector.get_map().values()):
                if key.data == "headers":
                    with contextlib.suppress(OSError):
                        key.fileobj.send(f"X-Slow-{line}: a\r\n".encode())
            line += 1

    def stop(self) -> None:
        self._stopping.set()
        self.join()
        for key in list(self._selector.get_map().values()):
            key.fileobj.close()
        self._selector.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of load before measuring")
    parser.add_argument("--concurrency", type=int, default=32, help="keep-alive clients")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--slow-clients", type=int, default=0, help="stalled connections during the load")
    parser.add_argument("--keep", action="store_true", help="keep the bench's var folder")
    args = parser.parse_args()
    try:
        _main(args)
    finally:
        django_apps = sys.modules.get("django.apps")
        if django_apps is not None and django_apps.apps.ready:
            serving.discard_buffer()


def _main(args) -> None:
    run = uuid.uuid4().hex[:8]
    work = ROOT / "var" / f"bench-load-inference-{run}"
    work.mkdir(parents=True)
    env = serving.bench_environment(args, work / "var", run)
    os.environ.clear()
    os.environ.update(env)

    frame = load_frame().sample(frac=1.0, random_state=7).reset_index(drop=True)
    train_rows, request_rows = frame.iloc[:8000], frame.iloc[8000:]
    low, high = train_rows[FEATURES].min(), train_rows[FEATURES].max()
    request_rows = request_rows[
        ((request_rows[FEATURES] >= low) & (request_rows[FEATURES] <= high)).all(axis=1)
    ]
    train_csv = work / "train.csv"
    train_rows.to_csv(train_csv, index=False)
    import io

    import joblib

    model_bytes = io.BytesIO()
    joblib.dump(train(train_rows), model_bytes)

    import django

    django.setup()
    from django.db import connection, connections

    print(f"setting up Modelyard in {connection.vendor} ({connection.settings_dict['NAME']}) …", flush=True)
    _, key = serving.deploy(train_csv, model_bytes.getvalue())
    connections.close_all()
    records = request_rows[FEATURES].to_dict(orient="records")
    bodies = work / "bodies.jsonl"
    bodies.write_text("".join(json.dumps({"records": [r]}) + "\n" for r in records))

    port = serving.free_port()
    server = serving.start_inference(env, port, args.workers, args.threads, work / "inference.log")
    slow = None
    try:
        _, answered = serving.warm_every_worker(
            port, json.dumps({"records": records[:5]}).encode(), args.workers, key
        )
        if args.slow_clients:
            slow = SlowClients(port, args.slow_clients)
            slow.start()
            time.sleep(1.0)
        print(
            f"{args.duration:.0f} s at concurrency {args.concurrency}"
            + (f" with {args.slow_clients} slow clients" if slow else "")
            + " …",
            flush=True,
        )
        result = serving.run_load(
            port,
            PATH,
            bodies,
            concurrency=args.concurrency,
            duration=args.duration,
            warmup=args.warmup,
            pids=serving.descendants(server.pid),
            headers=[f"Authorization: Bearer {key}"],
        )
    finally:
        if slow is not None:
            slow.stop()
        serving.stop(server)
    answered += result["statuses"].get("200", 0)
    stored, _, _, left = serving.drain_and_count()

    errors = {k: v for k, v in result["statuses"].items() if k != "200"} | result["errors"]
    lines = [
        ("requests/s", f"{result['requests_per_s']:,.0f}"),
        (
            "latency p50 / p95 / p99 / max",
            " / ".join(f"{result[k]:.1f}" for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")) + " ms",
        ),
        ("errors (non-200 answers, lost connections)", f"{sum(errors.values())} {errors or ''}".strip()),
        ("rows answered 200 / stored", f"{answered:,} / {stored:,} (left in the buffer {left})"),
        ("server CPU per request", f"{result['server_cpu_ms_per_request']:.3f} ms"),
        (
            "answers per worker",
            " / ".join(f"{n:,}" for n in sorted(result["served_by"].values(), reverse=True)),
        ),
        ("load average during the run", f"{result['loadavg'][0]:.2f}"),
    ]
    if slow is not None:
        lines.append((f"slow clients ({args.slow_clients} held)", f"server answers {dict(slow.outcomes)}"))
    lines.append(("server", f"{args.workers} workers × {args.threads} threads, {connection.vendor}"))
    width = max(len(name) for name, _ in lines)
    for name, value in lines:
        print(f"{name:<{width}}  {value}")
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    if stored != answered:
        sys.exit(f"rows answered and stored differ: {answered} / {stored}")


if __name__ == "__main__":
    main()
