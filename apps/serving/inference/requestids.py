"""Request ids claimed per endpoint, so that a reused ``X-Request-ID`` gets a 409 instead of an
answer whose prediction the log's unique key would later drop. Plain Python, no Django.

A claim is held for ``ttl`` seconds (a day by default); the store is shared by every inference
worker of a machine (SQLite under the spool folder) or of the whole service (Redis). Only ids a
client chose are claimed: the service's own ids are random and carry a prefix clients may not use.
A claim is released when its request gets no answer (a 4xx or 5xx), so a client may retry it."""

import os
import sqlite3
import threading
import time
from pathlib import Path

DEFAULT_TTL = 24 * 3600


def claim_key(environment: str, endpoint: str, request_id: str) -> str:
    # Environment and endpoint names are slugs (no ":"), so the first two colons split the key.
    return f"{environment}:{endpoint}:{request_id}"


class MemoryRequestIds:
    """Claims held in this process only: for tests and a single-process service."""

    name = "memory"

    def __init__(self, ttl: float = DEFAULT_TTL):
        self.ttl = ttl
        self._claims: dict[str, float] = {}
        self._lock = threading.Lock()

    def claim(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if self._claims.get(key, 0.0) > now:
                return False
            if len(self._claims) > 100_000:
                self._claims = {k: until for k, until in self._claims.items() if until > now}
            self._claims[key] = now + self.ttl
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._claims.pop(key, None)


class RedisRequestIds:
    """``SET key 1 NX EX ttl``: one round trip, atomic across every worker and machine."""

    name = "redis"

    def __init__(self, url: str, *, prefix: str = "modelyard:", ttl: float = DEFAULT_TTL):
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self.prefix = f"{prefix}request-id:"
        self.ttl = max(1, int(ttl))

    def claim(self, key: str) -> bool:
        return bool(self._redis.set(self.prefix + key, b"1", nx=True, ex=self.ttl))

    def release(self, key: str) -> None:
        self._redis.delete(self.prefix + key)


class SqliteRequestIds:
    """A small SQLite table beside the spool (the embedded default): an INSERT that only replaces
    an expired claim, so of two processes claiming one id, SQLite's write lock lets one win. WAL
    with synchronous=NORMAL: a claim survives the process, not necessarily a power cut (a
    duplicate that slips through then is reported by ingestion)."""

    name = "sqlite"
    _PRUNE_EVERY = 60.0  # seconds between deletions of expired claims

    def __init__(self, path: Path, *, ttl: float = DEFAULT_TTL):
        self.path = Path(path)
        self.ttl = ttl
        self._lock = threading.Lock()
        self._connection = None
        self._pid = None
        self._pruned = 0.0

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None or self._pid != os.getpid():  # a forked child opens its own
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Created owner-only first: SQLite gives its -wal and -shm files the same mode.
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
            connection = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            self._prepare(connection)
            self._connection, self._pid = connection, os.getpid()
        return self._connection

    @staticmethod
    def _prepare(connection: sqlite3.Connection, *, seconds: float = 10.0) -> None:
        """WAL and the table. Switching a new file to WAL takes an exclusive lock for which
        SQLite's busy timeout does not wait, so workers opening the file at once retry here."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
                connection.execute(
                    "CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, expires REAL NOT NULL)"
                )
                connection.execute("CREATE INDEX IF NOT EXISTS claims_expires ON claims (expires)")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def claim(self, key: str) -> bool:
        now = time.time()
        with self._lock:
            connection = self._connect()
            if now - self._pruned >= self._PRUNE_EVERY:
                connection.execute("DELETE FROM claims WHERE expires <= ?", (now,))
                self._pruned = now
            cursor = connection.execute(
                "INSERT INTO claims (key, expires) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET expires = excluded.expires WHERE claims.expires <= ?",
                (key, now + self.ttl, now),
            )
            return cursor.rowcount == 1

    def release(self, key: str) -> None:
        with self._lock:
            self._connect().execute("DELETE FROM claims WHERE key = ?", (key,))
