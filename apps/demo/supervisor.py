"""The demo's supervisor: it starts the demo's processes and restarts one that dies, after a pause
that doubles with each quick death (1 s, 2 s, 4 s… at most 30 s), so one child's crash never stops
the others. Only a signal to the supervisor itself (Ctrl-C, SIGTERM) stops them all."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


@dataclass
class Child:
    name: str
    args: list[str]
    env: dict[str, str] | None = None
    proc: subprocess.Popen | None = None
    started: float = 0.0  # time.monotonic() of the last start
    restart_at: float | None = None  # when a dead child starts again
    deaths: int = 0  # quick deaths in a row: the next pause is 2 ** deaths seconds
    history: list[int] = field(default_factory=list)  # exit codes, oldest first


class Supervisor:
    def __init__(
        self,
        *,
        out=None,
        first_delay: float = 1.0,
        max_delay: float = 30.0,
        stable_after: float = 60.0,
    ):
        self.out = out or sys.stderr
        self.first_delay = first_delay
        self.max_delay = max_delay
        # A child that ran this long before it died starts again after the first pause.
        self.stable_after = stable_after
        self.children: dict[str, Child] = {}
        self.stopping = False

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> Child:
        child = self.children[name] = Child(name, args, env)
        self._spawn(child)
        return child

    def _spawn(self, child: Child) -> None:
        child.proc = subprocess.Popen(child.args, env=child.env)
        child.started = time.monotonic()
        child.restart_at = None

    def delay(self, child: Child) -> float:
        return min(self.max_delay, self.first_delay * 2 ** max(0, child.deaths - 1))

    def check(self) -> None:
        """Notice the children that died and start those whose pause is over."""
        now = time.monotonic()
        for child in self.children.values():
            if self.stopping:
                return
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._spawn(child)
                continue
            code = child.proc.poll() if child.proc else None
            if code is None:
                continue
            child.history.append(code)
            child.deaths = 1 if now - child.started >= self.stable_after else child.deaths + 1
            pause = self.delay(child)
            child.restart_at = now + pause
            at = (datetime.now(UTC) + timedelta(seconds=pause)).strftime("%H:%M:%S")
            self.out.write(
                f"demo: {child.name} (pid {child.proc.pid}) exited with {_describe(code)}; "
                f"restarting it in {pause:g} s, at {at} UTC\n"
            )
            self.out.flush()

    def stop(self, timeout: float = 10) -> None:
        """Terminate every child, then kill those still running after ``timeout`` seconds."""
        self.stopping = True
        running = [c.proc for c in self.children.values() if c.proc and c.proc.poll() is None]
        for proc in running:
            proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in running:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def handle_signals(self) -> None:
        """SIGINT and SIGTERM stop every child, then the supervisor (exit status 0)."""

        def stop(*_):
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            self.stop()
            sys.exit(0)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)

    def run(self, interval: float = 0.5) -> None:
        while not self.stopping:
            self.check()
            time.sleep(interval)


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"exit code {code} ({signal.Signals(-code).name})"
        except ValueError:
            return f"exit code {code}"
    return f"exit code {code}"
