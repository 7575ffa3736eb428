"""`manage.py demo` on the embedded default (SQLite and the SQLite broker in a var folder of the
test's own): a Celery worker killed with `kill -9` is started again, the web app and the other
processes run on, and SIGTERM to the demo stops every process it started."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port, process_alive

ROOT = Path(__file__).resolve().parents[3]


def _children(pid: int) -> dict[int, str]:
    """The direct children of ``pid``: {pid: command line}."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
    return found


def _wait(predicate, timeout, what, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout}s; the demo said:\n{log.read_text()[-4000:]}")


def _ready(log: Path) -> int:
    """How many times the demo's main worker said it was ready (the ingestion worker logs warnings only)."""
    return len(re.findall(r"demo@\S+ ready\.", log.read_text()))


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5, allow_redirects=False).status_code in (200, 302)
    except requests.RequestException:
        return False


def _start_demo(tmp_path, *extra: str):
    web, inference = free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "MODELYARD_TEST_DB_NAME")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        MODELYARD_VAR_DIR=str(tmp_path / "var"),
        MODELYARD_SPOOL_DIR=str(tmp_path / "var" / "spool"),
        PYTHONUNBUFFERED="1",
    )
    log = tmp_path / "demo.log"
    with open(log, "w") as out:
        demo = subprocess.Popen(
            [sys.executable, "manage.py", "demo", "--bind", f"127.0.0.1:{web}",
             "--inference-bind", f"127.0.0.1:{inference}", *extra],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return demo, log, f"http://127.0.0.1:{web}", f"http://127.0.0.1:{inference}"


def _stop(demo: subprocess.Popen, started: set[int]) -> None:
    if demo.poll() is None:
        demo.send_signal(signal.SIGTERM)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
    for pid in started:  # whatever outlived the demo (it would be a bug) goes too
        if process_alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.worker
def test_a_quiet_demo_logs_little_and_a_killed_worker_comes_back(tmp_path):
    demo, log, web, inference = _start_demo(tmp_path, "--no-seed", "--traffic-rate", "0")
    started: set[int] = set()
    try:
        _wait(lambda: _answers(f"{web}/accounts/login/"), 180, "the web app did not answer", log)
        _wait(lambda: _answers(f"{inference}/health"), 180, "the inference service did not answer", log)
        _wait(lambda: _ready(log) >= 1, 120, "the worker was not ready", log)

        # A minute with nobody using it: beat's routine sends (every 2 s and every minute) and the
        # worker's routine tasks are DEBUG, so hardly a line.
        time.sleep(5)
        before = len(log.read_text().splitlines())
        time.sleep(65)
        quiet_minute = log.read_text().splitlines()[before:]
        assert len(quiet_minute) <= 3, quiet_minute
        text = log.read_text()
        for noise in ("Sending due task serving.ingest", "Traceback", "superuser privileges"):
            assert noise not in text, noise
        assert f"Listening at: {inference} (a socket per worker)" in text

        children = _children(demo.pid)
        started |= set(children)
        assert len(children) == 5, children  # worker, ingestion, beat, web, inference
        [worker] = [pid for pid, cmd in children.items() if "worker" in cmd and "demo@" in cmd]
        grandchildren = set(_children(worker))
        os.kill(worker, signal.SIGKILL)

        line = _wait(
            lambda: re.search(rf"demo: worker \(pid {worker}\) exited with exit code -9 \(SIGKILL\); "
                              r"restarting it in 1 s, at \d\d:\d\d:\d\d UTC", log.read_text()),
            30, "no line about the dead worker", log,
        )  # fmt: skip
        assert line
        _wait(lambda: _ready(log) >= 2, 120, "the worker did not come back", log)
        now = _children(demo.pid)
        started |= set(now)
        [new_worker] = [pid for pid, cmd in now.items() if "worker" in cmd and "demo@" in cmd]
        assert new_worker != worker and process_alive(new_worker)
        # The others were never restarted, and the web app still answers.
        assert set(children) - {worker} <= set(now)
        assert _answers(f"{web}/accounts/login/")
        assert log.read_text().count("demo: ") == 1

        # The killed worker's pool processes do not outlive it for long.
        def pool_gone():
            return not any(process_alive(pid) for pid in grandchildren)

        _wait(pool_gone, 30, "orphaned pool processes", log)
    finally:
        _stop(demo, started)
    assert demo.returncode == 0, log.read_text()[-3000:]
    assert not [pid for pid in started if process_alive(pid)], "a child outlived the demo"
