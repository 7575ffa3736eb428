"""A small keep-alive HTTP load generator: ``concurrency`` connections, each sending its next POST
as soon as the previous answer is complete, for a fixed time. Standard library only, so it runs in
any venv; asyncio protocols on raw sockets, because a thread pool of http.client connections spends
more CPU than the server it measures on a 2-core machine.

    python loadgen.py --port 8100 --path /v1/endpoints/x/predict --bodies bodies.jsonl \\
        --concurrency 8 --duration 10 --warmup 2 --watch-pids 123,456

It prints one JSON object: responses by status (warm-up included, so that "rows sent" counts every
accepted request), and for the measured window only: requests/s, latency percentiles, answers per
``X-Served-By`` value, the CPU seconds each watched process used and the generator's own CPU."""

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from collections import Counter

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process from /proc (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime: fields 14 and 15 of stat


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Run:
    """Shared state of one run: the clock, the window being measured and what was seen."""

    def __init__(self, warmup: float, duration: float):
        self.start = time.perf_counter()
        self.window_start = self.start + warmup
        self.deadline = self.window_start + duration
        self.statuses: Counter = Counter()  # every response, warm-up included
        self.latencies: list[float] = []  # measured window only
        self.served_by: Counter = Counter()  # measured window only
        self.completed = 0  # answers completed inside the window: the throughput
        self.reconnects = 0
        self.errors: Counter = Counter()


class Connection(asyncio.Protocol):
    def __init__(self, run: Run, requests: list[bytes], offset: int, done: asyncio.Future):
        self.run = run
        self.requests = requests
        self.index = offset
        self.done = done
        self.buffer = b""
        self.sent_at = 0.0
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.send()

    def send(self):
        request = self.requests[self.index % len(self.requests)]
        self.index += 1
        self.sent_at = time.perf_counter()
        self.transport.write(request)

    def data_received(self, data: bytes):
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15 : head.find(b"\r\n", at)]) if at >= 0 else 0
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            self.buffer = self.buffer[end:]
            self.answered(head)

    def answered(self, head: bytes):
        now = time.perf_counter()
        run = self.run
        status = int(head[9:12])
        run.statuses[status] += 1
        if now >= run.window_start and self.sent_at >= run.window_start:
            run.latencies.append(now - self.sent_at)
            run.completed += now < run.deadline
            at = head.find(b"x-served-by:")
            if at >= 0:
                run.served_by[head[at + 12 : head.find(b"\r\n", at)].strip().decode()] += 1
        if now >= run.deadline:
            self.transport.close()
            if not self.done.done():
                self.done.set_result(None)
        else:
            self.send()

    def connection_lost(self, exc):
        if not self.done.done():
            self.run.errors[type(exc).__name__ if exc else "closed by server"] += 1
            self.done.set_result("reconnect")


def http_requests(
    host: str, port: int, path: str, bodies: list[bytes], headers: list[str] = ()
) -> list[bytes]:
    extra = "".join(f"{header}\r\n" for header in headers)
    return [
        (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"{extra}Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
        for body in bodies
    ]


async def one_client(run: Run, host: str, port: int, requests: list[bytes], offset: int):
    loop = asyncio.get_running_loop()
    while True:
        done = loop.create_future()
        await loop.create_connection(lambda done=done: Connection(run, requests, offset, done), host, port)
        if await done != "reconnect" or time.perf_counter() >= run.deadline:
            return
        run.reconnects += 1  # the request in flight was lost with its connection: not counted


async def load(host, port, path, bodies, *, concurrency, duration, warmup, pids, headers=()) -> dict:
    requests = http_requests(host, port, path, bodies, headers)
    run = Run(warmup, duration)
    step = max(1, len(requests) // concurrency)
    clients = [
        asyncio.ensure_future(one_client(run, host, port, requests, i * step)) for i in range(concurrency)
    ]
    await asyncio.sleep(max(0.0, run.window_start - time.perf_counter()))
    cpu_before = {pid: cpu_seconds(pid) for pid in pids}
    own_before = own_cpu()
    await asyncio.sleep(max(0.0, run.deadline - time.perf_counter()))
    cpu_after = {pid: cpu_seconds(pid) for pid in pids}  # at the deadline: the window's CPU only
    own_after = own_cpu()
    # A server that stopped answering would keep the clients waiting for ever: 10 s after the
    # deadline those still waiting are given up and counted.
    _, waiting = await asyncio.wait(clients, timeout=10.0)
    for client in waiting:
        client.cancel()
    if waiting:
        run.errors["no answer 10 s after the end"] += len(waiting)
    latencies = sorted(run.latencies)

    def percentile(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000.0 if latencies else 0.0

    measured = len(latencies)
    return {
        "concurrency": concurrency,
        "duration_s": duration,
        "statuses": {str(k): v for k, v in sorted(run.statuses.items())},
        "measured_requests": measured,
        "requests_per_s": run.completed / duration,
        "p50_ms": percentile(0.50),
        "p90_ms": percentile(0.90),
        "p95_ms": percentile(0.95),
        "p99_ms": percentile(0.99),
        "max_ms": latencies[-1] * 1000.0 if latencies else 0.0,
        "served_by": dict(run.served_by),
        "server_cpu_s": {str(pid): cpu_after[pid] - cpu_before[pid] for pid in pids},
        "generator_cpu_s": own_after - own_before,
        "reconnects": run.reconnects,
        "errors": dict(run.errors),
        "loadavg": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--bodies", required=True, help="a file with one JSON request body per line")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds sent before measuring")
    parser.add_argument("--watch-pids", default="", help="comma-separated pids whose CPU is measured")
    parser.add_argument(
        "--header", action="append", default=[], help="'Name: value' sent with every request (repeatable)"
    )
    args = parser.parse_args()
    with open(args.bodies, "rb") as handle:
        bodies = [line.rstrip(b"\n") for line in handle if line.strip()]
    pids = [int(p) for p in args.watch_pids.split(",") if p]
    result = asyncio.run(
        load(
            args.host,
            args.port,
            args.path,
            bodies,
            concurrency=args.concurrency,
            duration=args.duration,
            warmup=args.warmup,
            pids=pids,
            headers=args.header,
        )
    )
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
