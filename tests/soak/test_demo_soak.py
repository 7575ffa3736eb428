"""Ten minutes of `manage.py demo` on the embedded default (SQLite, the SQLite broker), seeded, with
its live traffic and a client of the test's own; the ingestion worker and then the main worker are
killed with `kill -9` on the way. Nothing dies for good, every prediction answered to the client is
stored, and no process's memory grows by more than 20 % after warm-up.

MODELYARD_SOAK_SECONDS shortens or lengthens it (default 600); CI runs it as part of `make test`."""

import json
import os
import re
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import requests

from apps.demo.traffic import load_rows
from tests.conftest import process_alive
from tests.integration.demo.test_demo_restarts import (
    _answers,
    _children,
    _ready,
    _start_demo,
    _stop,
    _wait,
)

SECONDS = int(os.environ.get("MODELYARD_SOAK_SECONDS", "600"))


def _tree(pid: int) -> dict[int, str]:
    """Every descendant of ``pid``: {pid: command line}."""
    found, todo = {}, [pid]
    while todo:
        for child, cmd in _children(todo.pop()).items():
            found[child] = cmd
            todo.append(child)
    return found


def _rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class Client(threading.Thread):
    """About three requests a second to credit-risk in production, each with an X-Request-ID of its
    own; remembers which were answered with a prediction."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url = f"{url}/v1/endpoints/credit-risk/predict?environment=production"
        self.rows = [row for row in load_rows() if all(v is not None for v in row.values())]
        self.answered: list[str] = []
        self.failed: dict[int | str, int] = {}
        self.halt = threading.Event()

    def run(self):
        session = requests.Session()
        n = 0
        while not self.halt.is_set():
            n += 1
            request_id = f"soak-{os.getpid()}-{n}"
            body = json.dumps({"records": [self.rows[n % len(self.rows)]]})
            try:
                answer = session.post(
                    self.url,
                    data=body,
                    headers={"Content-Type": "application/json", "X-Request-ID": request_id},
                    timeout=10,
                )
                if answer.status_code == 200:
                    self.answered.append(request_id)
                else:
                    self.failed[answer.status_code] = self.failed.get(answer.status_code, 0) + 1
            except requests.RequestException as exc:
                self.failed[type(exc).__name__] = self.failed.get(type(exc).__name__, 0) + 1
            self.halt.wait(0.3)


@pytest.mark.soak
def test_the_demo_runs_for_ten_minutes_through_killed_workers(tmp_path):
    demo, log, web, inference = _start_demo(tmp_path, "--traffic-rate", "5")
    started: set[int] = set()
    client = Client(inference)
    try:
        _wait(lambda: _answers(f"{web}/accounts/login/"), 600, "the web app did not answer", log)
        _wait(lambda: _answers(f"{inference}/health"), 300, "the inference service did not answer", log)
        _wait(lambda: "traffic: sending" in log.read_text(), 120, "the demo's traffic did not start", log)
        _wait(lambda: _ready(log) >= 1, 60, "the worker was not ready", log)
        client.start()
        _wait(lambda: client.answered, 120, "credit-risk never answered", log)
        began = time.monotonic()
        children = _children(demo.pid)
        started |= set(children)

        def at(fraction: float) -> None:
            time.sleep(max(0.0, began + SECONDS * fraction - time.monotonic()))

        at(1 / 6)  # warmed up: every periodic task has run at least once
        first = {pid: _rss_kb(pid) for pid in _tree(demo.pid)}
        at(1 / 3)
        [ingestion] = [pid for pid, cmd in _children(demo.pid).items() if "demo-ingestion@" in cmd]
        os.kill(ingestion, signal.SIGKILL)
        at(1 / 2)
        [worker] = [pid for pid, cmd in _children(demo.pid).items() if "worker" in cmd and " demo@" in cmd]
        os.kill(worker, signal.SIGKILL)
        at(1)
        last = {pid: _rss_kb(pid) for pid in _tree(demo.pid)}
        started |= set(_tree(demo.pid))
        client.halt.set()
        client.join(timeout=15)

        # Nothing died but the two killed, and both came back.
        deaths = re.findall(r"demo: (\S+) \(pid (\d+)\) exited with (.*?);", log.read_text())
        assert [(name, int(pid)) for name, pid, _ in deaths] == [
            ("ingestion", ingestion),
            ("worker", worker),
        ], deaths
        now = _children(demo.pid)
        assert len(now) == len(children) == 6, now  # worker, ingestion, beat, web, inference, traffic
        assert all(process_alive(pid) for pid in now)
        assert _answers(f"{web}/accounts/login/")

        # Every prediction answered to the client is stored, once.
        database = tmp_path / "var" / "modelyard.sqlite3"

        def stored() -> int:
            with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as db:
                return db.execute(
                    "SELECT COUNT(*) FROM serving_prediction WHERE request_id LIKE ? AND role = 'primary'",
                    (f"soak-{os.getpid()}-%",),
                ).fetchone()[0]

        answered = len(client.answered)
        _wait(lambda: stored() >= answered, 120, f"{answered} answered, {stored()} stored", log)
        assert stored() == answered

        # Memory: each process that ran from warm-up to the end, within 20 %.
        grown = {
            pid: (first[pid], last[pid])
            for pid in first
            if first[pid] and last.get(pid) and last[pid] > first[pid] * 1.2
        }
        print(
            f"\nsoak {SECONDS}s: {answered} answered and stored, failures {client.failed}; "
            f"RSS MB first→last: "
            + ", ".join(
                f"{pid}: {first[pid] / 1024:.0f}→{last[pid] / 1024:.0f}" for pid in first if last.get(pid)
            )
        )
        assert not grown, f"grew by more than 20 % (kB): {grown}"
        text = log.read_text()
        assert "JSONDecodeError" not in text
    finally:
        client.halt.set()
        _stop(demo, started | set(_tree(demo.pid)) if demo.poll() is None else started)
