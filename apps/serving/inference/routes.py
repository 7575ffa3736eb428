"""What the inference service serves: routes from (environment, endpoint) to the model versions behind
them, refreshed in the background from a source the caller provides (the deployments app in
production, plain functions in tests)."""

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

PRIMARY, CANARY, SHADOW = "primary", "canary", "shadow"


@dataclass(frozen=True)
class Arm:
    """One model version behind an endpoint and the share of traffic it gets."""

    deployment_id: int
    version_id: int
    model_name: str
    version_number: int
    role: str  # "primary" | "canary" | "shadow"
    percent: float  # of requests, for a canary; ignored for the primary and shadows
    artifact_path: str
    format: str
    mlflow_root: str = ""
    trusted_types: tuple = ()
    input_schema: dict = field(default_factory=dict, hash=False)
    output_schema: dict = field(default_factory=dict, hash=False)

    @property
    def cache_key(self) -> tuple[int, str]:
        return (self.deployment_id, self.artifact_path)


@dataclass(frozen=True)
class Route:
    environment: str
    endpoint: str
    allow_extra: bool
    sticky_key: str | None
    arms: tuple[Arm, ...]
    # SHA-256 of the endpoint's consumer keys that are not revoked (apps/serving/inference/keys.py).
    key_hashes: frozenset = field(default_factory=frozenset, repr=False)

    @property
    def primary(self) -> Arm | None:
        return next((arm for arm in self.arms if arm.role == PRIMARY), None)

    @property
    def canaries(self) -> tuple[Arm, ...]:
        return tuple(arm for arm in self.arms if arm.role == CANARY)

    @property
    def shadows(self) -> tuple[Arm, ...]:
        return tuple(arm for arm in self.arms if arm.role == SHADOW)


class RouteTable:
    """Routes keyed by (environment, endpoint). ``start()`` loads them once and then refreshes them
    every ``refresh_seconds`` in a daemon thread; a failing source keeps the last good table.

    Start it in the process that serves: threads do not survive a fork, so under gunicorn each worker
    builds and starts its own table."""

    def __init__(self, source: Callable[[], list[Route]], *, refresh_seconds: float = 2.0):
        self._source = source
        self._refresh_seconds = refresh_seconds
        self._routes: dict[tuple[str, str], Route] = {}
        self._loaded = False
        self._listeners: list[Callable[[list[Route]], None]] = []
        self._lock = threading.Lock()  # guards listeners and serialises refreshes, never lookups
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_in_pid: int | None = None
        self._failing_since: float | None = None
        self._last_report = 0.0

    @property
    def loaded(self) -> bool:
        """True once the source has answered at least once."""
        return self._loaded

    def get(self, environment: str, endpoint: str) -> Route | None:
        # The dict is replaced whole on refresh, never mutated, so lookups need no lock.
        return self._routes.get((environment, endpoint))

    def routes(self) -> list[Route]:
        return list(self._routes.values())

    def __len__(self) -> int:
        return len(self._routes)

    def on_change(self, listener: Callable[[list[Route]], None]) -> None:
        """Call ``listener(routes)`` after every refresh that changes the table, and now if loaded."""
        with self._lock:
            self._listeners.append(listener)
            current = self.routes() if self._loaded else None
        if current is not None:
            self._notify([listener], current)

    def refresh(self) -> bool:
        """Ask the source once; True if it answered. On failure the previous table stays in force."""
        with self._lock:
            try:
                routes = list(self._source())
                table = {(r.environment, r.endpoint): r for r in routes}
            except Exception as exc:
                self._report_failure(exc)
                return False
            if self._failing_since is not None:
                log.info("the route source answers again")
                self._failing_since = None
            changed = table != self._routes or not self._loaded
            self._routes = table
            self._loaded = True
            listeners = list(self._listeners)
        if changed:
            self._notify(listeners, list(table.values()))
        return True

    def _report_failure(self, exc: Exception) -> None:
        """The first failure with its traceback; while it lasts, one line a minute, not one a refresh."""
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = self._last_report = now
            log.exception("the route source failed; keeping the last good table (%d routes)", len(self))
        elif now - self._last_report >= 60:
            self._last_report = now
            log.warning(
                "the route source has been failing for %.0f s (%s: %s); still serving %d routes",
                now - self._failing_since,
                type(exc).__name__,
                exc,
                len(self),
            )

    def start(self) -> "RouteTable":
        """Load now, then keep refreshing in a daemon thread. Idempotent within one process."""
        if self._thread is not None and self._started_in_pid == os.getpid() and self._thread.is_alive():
            return self
        self._stop.clear()
        self.refresh()
        self._started_in_pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="route-refresh", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._refresh_seconds):
            self.refresh()

    @staticmethod
    def _notify(listeners, routes: list[Route]) -> None:
        for listener in listeners:
            try:
                listener(routes)
            except Exception:
                log.exception("a route-table listener failed")
