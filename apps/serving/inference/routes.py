"""What the inference service serves: routes from (environment, endpoint) to the model versions behind
them, refreshed in the background from a source the caller provides (the deployments app in
production, plain functions in tests).

The last table the source gave can be kept in a local file (``saved``): a worker that starts while
the source cannot answer (its database is down) serves that table until it can, instead of serving
nothing. The file is replaced atomically and readable by this user only; a file anyone else could
have written is not read, since a route names the model file a worker loads."""

import contextlib
import dataclasses
import json
import logging
import os
import stat
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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
    # Features whose values outside the schema's range or categories are refused (422); by default
    # such values are scored and counted (Endpoint.refuse_outside_range).
    refuse_outside: frozenset = field(default_factory=frozenset)

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
    every ``refresh_seconds`` in a daemon thread; a failing source keeps the last good table. With
    ``saved`` (a file path) every table the source gives is written there, and ``start()`` reads it
    back when the source fails at once.

    Start it in the process that serves: threads do not survive a fork, so under gunicorn each worker
    builds and starts its own table."""

    def __init__(
        self, source: Callable[[], list[Route]], *, refresh_seconds: float = 2.0, saved: Path | None = None
    ):
        self._source = source
        self._refresh_seconds = refresh_seconds
        self._saved = Path(saved) if saved else None
        self._routes: dict[tuple[str, str], Route] = {}
        self._loaded = False
        self._restored = False  # serving the saved table: the source has not answered yet
        self._listeners: list[Callable[[list[Route]], None]] = []
        self._lock = threading.Lock()  # guards listeners and serialises refreshes, never lookups
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_in_pid: int | None = None
        self._failing_since: float | None = None
        self._last_report = 0.0

    @property
    def loaded(self) -> bool:
        """True once there are routes to serve: the source has answered, or the saved table was read."""
        return self._loaded or self._restored

    @property
    def origin(self) -> str | None:
        """Where the routes in force come from: "source", "saved" (the file), or None (nowhere yet)."""
        return "source" if self._loaded else "saved" if self._restored else None

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
            if changed and self._saved is not None:
                save_routes(self._saved, routes)
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
        if not self.refresh() and self._saved is not None:
            self._restore()
        self._started_in_pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="route-refresh", daemon=True)
        self._thread.start()
        return self

    def _restore(self) -> None:
        routes = read_saved_routes(self._saved)
        if routes is None:
            return
        with self._lock:
            if self._loaded:  # the source answered meanwhile
                return
            self._routes = {(r.environment, r.endpoint): r for r in routes}
            self._restored = True
            listeners = list(self._listeners)
        log.warning(
            "the route source cannot answer: serving the %d routes saved in %s until it can",
            len(routes),
            self._saved,
        )
        self._notify(listeners, routes)

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


# --- The saved table -----------------------------------------------------------------------------

_FORMAT = 1


def routes_to_json(routes: list[Route]) -> bytes:
    def plain(route: Route) -> dict:
        return {
            **{f.name: getattr(route, f.name) for f in dataclasses.fields(route) if f.name != "arms"},
            "arms": [
                dataclasses.asdict(arm) | {"trusted_types": list(arm.trusted_types)} for arm in route.arms
            ],
            "key_hashes": sorted(route.key_hashes),
            "refuse_outside": sorted(route.refuse_outside),
        }

    return json.dumps(
        {"format": _FORMAT, "saved_at": time.time(), "routes": [plain(r) for r in routes]}
    ).encode()


def routes_from_json(data: bytes) -> list[Route]:
    """The routes of ``routes_to_json``; ValueError if ``data`` is not such a table."""
    try:
        document = json.loads(data)
        if document.get("format") != _FORMAT:
            raise ValueError(f"format {document.get('format')!r}, expected {_FORMAT}")
        return [
            Route(
                **{k: v for k, v in route.items() if k not in ("arms", "key_hashes", "refuse_outside")},
                arms=tuple(
                    Arm(**{**arm, "trusted_types": tuple(arm["trusted_types"])}) for arm in route["arms"]
                ),
                key_hashes=frozenset(route["key_hashes"]),
                # absent from tables saved before the setting existed
                refuse_outside=frozenset(route.get("refuse_outside", ())),
            )
            for route in document["routes"]
        ]
    except (AttributeError, KeyError, TypeError) as error:
        raise ValueError(f"not a saved route table: {type(error).__name__}: {error}") from None


def save_routes(path: Path, routes: list[Route]) -> bool:
    """Replace ``path`` atomically with ``routes`` (a file only this user may read); False, logged,
    if it cannot be written: serving goes on without it."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(routes_to_json(routes))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return True
    except OSError as error:
        log.warning("could not save the route table to %s: %s", path, error)
        return False


def read_saved_routes(path: Path) -> list[Route] | None:
    """The routes saved in ``path``, or None (logged) when there are none, the file is unreadable,
    or it or its folder could have been written by another user."""
    try:
        with open(path, "rb") as handle:
            if _others_could_write(os.fstat(handle.fileno()), os.stat(path.parent)):
                log.error("not reading the saved routes in %s: another user could have written it", path)
                return None
            return routes_from_json(handle.read())
    except FileNotFoundError:
        log.warning("no saved routes in %s to serve meanwhile", path)
    except (OSError, ValueError) as error:
        log.error("the saved routes in %s are unusable: %s", path, error)
    return None


def _others_could_write(file: os.stat_result, folder: os.stat_result) -> bool:
    """Whether another user than this one (or root) could have written the file or put another in
    its place: the file must be ours and closed to others, its folder ours or root's and closed to
    others, or sticky (like /tmp: no one may replace what is ours there)."""
    me = os.geteuid()
    if file.st_uid != me or file.st_mode & 0o022:
        return True
    if folder.st_mode & stat.S_ISVTX:
        return False
    return folder.st_uid not in (me, 0) or bool(folder.st_mode & 0o022)
