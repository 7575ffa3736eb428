"""The demo's supervisor (apps/demo/supervisor.py) with real child processes: a child that dies is
started again after a pause that doubles up to a cap, with one line saying so; the others run on."""

import io
import sys
import time

from apps.demo.supervisor import Supervisor


def _run_until(supervisor, predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        supervisor.check()
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met")


def test_a_dead_child_is_restarted_with_a_growing_pause_and_the_others_run_on():
    out = io.StringIO()
    supervisor = Supervisor(out=out, first_delay=0.1, max_delay=0.4, stable_after=60)
    try:
        steady = supervisor.start("steady", [sys.executable, "-c", "import time; time.sleep(60)"])
        dying = supervisor.start("dying", [sys.executable, "-c", "raise SystemExit(3)"])
        _run_until(supervisor, lambda: len(dying.history) == 5)
        assert dying.history == [3] * 5
        lines = out.getvalue().splitlines()
        assert len(lines) == 5
        assert lines[0].startswith("demo: dying (pid ") and "exited with exit code 3;" in lines[0]
        pauses = [float(line.split("restarting it in ")[1].split(" s")[0]) for line in lines]
        assert pauses == [0.1, 0.2, 0.4, 0.4, 0.4]  # doubled, then capped
        assert " UTC" in lines[0]
        assert steady.proc.poll() is None and steady.history == []
    finally:
        supervisor.stop(timeout=5)
    assert steady.proc.poll() is not None


def test_a_child_killed_by_a_signal_is_named_with_it():
    out = io.StringIO()
    supervisor = Supervisor(out=out, first_delay=0.1)
    try:
        child = supervisor.start("worker", [sys.executable, "-c", "import time; time.sleep(60)"])
        first_pid = child.proc.pid
        child.proc.kill()
        _run_until(supervisor, lambda: child.proc.pid != first_pid and child.proc.poll() is None)
        assert f"demo: worker (pid {first_pid}) exited with exit code -9 (SIGKILL)" in out.getvalue()
    finally:
        supervisor.stop(timeout=5)


def test_a_child_that_ran_long_enough_starts_again_after_the_first_pause():
    supervisor = Supervisor(out=io.StringIO(), first_delay=0.1, max_delay=10, stable_after=0.3)
    try:
        child = supervisor.start("slow", [sys.executable, "-c", "import time; time.sleep(0.5)"])
        _run_until(supervisor, lambda: len(child.history) == 2)
        assert supervisor.delay(child) == 0.1  # each run outlived stable_after: no growing pause
    finally:
        supervisor.stop(timeout=5)
