"""The embedded broker (config/broker.py) under load: several Celery worker processes, beat and two
publishers on one SQLite file. Every message runs once, whole, and nothing is logged as an error.
No Django here (tests/fixtures/broker_stress_app.py), so it runs in every test configuration."""

import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CELERY = str(Path(sys.executable).parent / "celery")
APP = "tests.fixtures.broker_stress_app"
PUBLISHERS = 2
PER_PUBLISHER = 500

PUBLISH = """
import sys
from tests.fixtures.broker_stress_app import mark
start, count = int(sys.argv[1]), int(sys.argv[2])
for n in range(start, start + count):
    mark.delay(n, "x" * (n % 7 * 4000))  # 0 to 24 kB: messages of many sizes, some large
"""


def _counts(out: Path) -> Counter:
    return Counter(out.read_text().splitlines()) if out.exists() else Counter()


def test_workers_and_beat_share_the_embedded_broker_under_load(tmp_path):
    out = tmp_path / "ran.txt"
    env = {
        **os.environ,
        "STRESS_BROKER_FILE": str(tmp_path / "broker.sqlite3"),
        "STRESS_OUT": str(out),
        "STRESS_BEAT_FILE": str(tmp_path / "beat-schedule"),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    procs: list[subprocess.Popen] = []
    logs: list[Path] = []

    def start(name, cmd):
        log = tmp_path / f"{name}.log"
        logs.append(log)
        with open(log, "w") as handle:
            procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT))
        return procs[-1]

    try:
        for i in range(3):
            start(
                f"worker{i}",
                [CELERY, "-A", APP, "worker", "-Q", "celery,beat", "--concurrency", "2", "--pool", "prefork",
                 "--loglevel", "INFO", "--hostname", f"stress{i}@%h", "--without-mingle", "--without-gossip"],
            )  # fmt: skip
        start("beat", [CELERY, "-A", APP, "beat", "--loglevel", "INFO"])
        began = time.monotonic()
        publishers = [
            start(
                f"publisher{i}", [sys.executable, "-c", PUBLISH, str(i * PER_PUBLISHER), str(PER_PUBLISHER)]
            )
            for i in range(PUBLISHERS)
        ]
        total = PUBLISHERS * PER_PUBLISHER
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            marks = sum(n for line, n in _counts(out).items() if line.startswith("mark "))
            if marks >= total and all(p.poll() is not None for p in publishers):
                break
            dead = [log.stem for p, log in zip(procs, logs, strict=True) if p.poll() not in (None, 0)]
            assert not dead, f"{dead} died:\n" + "\n".join(
                (tmp_path / f"{name}.log").read_text()[-3000:] for name in dead
            )
            time.sleep(0.5)
        elapsed = time.monotonic() - began
        time.sleep(3)  # a message run twice would show up now
        counts = _counts(out)
        assert [p.returncode for p in publishers] == [0] * PUBLISHERS
        expected = {f"mark {n} {n % 7 * 4000}" for n in range(total)}
        ran = {line for line in counts if line.startswith("mark ")}
        assert ran == expected, f"missing {len(expected - ran)}, unexpected {len(ran - expected)}"
        twice = [line for line in ran if counts[line] > 1]
        assert not twice, f"{len(twice)} messages ran more than once"
        assert counts["beat"] >= 4, "beat's schedule did not reach the workers"
        print(
            f"\n{total} messages through 3 workers × 2 processes in {elapsed:.1f}s ({total / elapsed:.0f}/s)"
        )
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    # A message is deleted when it is taken (kombu's own transport keeps every row, invisible):
    # what is left is at most what beat sent while the workers stopped.
    with sqlite3.connect(tmp_path / "broker.sqlite3") as db:
        left = db.execute("SELECT COUNT(*) FROM kombu_message").fetchone()[0]
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert left < 10, f"{left} rows left in the broker"
    text = "\n".join(log.read_text() for log in logs)
    for bad in ("Traceback", "JSONDecodeError", "ERROR/", "CRITICAL/", "database is locked"):
        assert bad not in text, f"{bad!r} in the logs:\n{text[-4000:]}"


RACE = """
import sys, time
from tests.fixtures.broker_stress_app import app
start_at = float(sys.argv[1])
with app.connection_for_write() as conn:
    time.sleep(max(0.0, start_at - time.time()))
    conn.SimpleQueue("fresh").put({"from": sys.argv[2]})
"""


def test_processes_that_create_one_queue_at_once_all_succeed(tmp_path):
    """Two processes that first use a queue at the same moment both insert its row; the loser
    used to die on the unique name (seen in CI as a publisher's IntegrityError)."""
    for round_ in range(3):
        env = {
            **os.environ,
            "STRESS_BROKER_FILE": str(tmp_path / f"broker{round_}.sqlite3"),
            "STRESS_OUT": str(tmp_path / "out.txt"),
        }
        env.pop("DJANGO_SETTINGS_MODULE", None)
        start_at = time.time() + 4  # every process has imported and connected by then
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", RACE, str(start_at), str(i)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )  # fmt: skip
            for i in range(8)
        ]
        outputs = [proc.communicate(timeout=60)[0] for proc in procs]
        failed = [out for proc, out in zip(procs, outputs, strict=True) if proc.returncode != 0]
        assert not failed, failed[0][-2000:]
        with sqlite3.connect(tmp_path / f"broker{round_}.sqlite3") as db:
            assert db.execute("SELECT COUNT(*) FROM kombu_queue WHERE name = 'fresh'").fetchone()[0] == 1
            assert db.execute("SELECT COUNT(*) FROM kombu_message").fetchone()[0] == 8
