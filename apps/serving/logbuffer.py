"""The prediction log's durable buffer, between the inference service and the database.

The inference service answers a request only after ``append`` has returned, so an appended record
survives a crash of the writer, of the ingestion workers and of the database; ingestion workers
``read`` batches, insert them idempotently (apps/serving/ingest.py) and then ``ack`` them. A read
that is never acknowledged is delivered again: to the same reader on its next read (a drain that
stopped because the database was down retries at once), to another reader once the first has died
(the spool), to the next holder of the drain lease, or after a visibility timeout (Redis). Delivery
is at least once; the database's unique key makes it never twice.

One drain at a time holds the buffer's ``drain_lease``: a file lock on the spool (the kernel drops
it with its holder), a Redis lock of a few seconds renewed while the drain runs. A drain killed in
its middle therefore holds ingestion up for seconds, not minutes.

Two implementations, chosen like the broker: a Redis stream when REDIS_URL is set, append-only
spool files under var/ otherwise (the embedded mode: no server). Records are JSON objects; see
apps/serving/ingest.py for the fields of a prediction and of a rejected request.
"""

import contextlib
import fcntl
import json
import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path

from django.conf import settings

try:
    import orjson
except ImportError:  # pragma: no cover - the standard library does the same, slower
    orjson = None

log = logging.getLogger(__name__)

STREAM = "predictions"
GROUP = "ingestion"
# A drain renews its lease every third of this; one that dies stops holding it this long after.
LEASE_SECONDS = 6.0


# --- JSON: orjson when installed; NaN/Infinity become null either way (jsonb refuses them) ------


def _plain(value):
    """numpy scalars and arrays, dates and anything else a model may return, as JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _finite(value):
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def dumps(value) -> bytes:
    if orjson is not None:
        return orjson.dumps(value, default=_plain, option=orjson.OPT_SERIALIZE_NUMPY)
    try:
        return json.dumps(value, default=_plain, allow_nan=False, separators=(",", ":")).encode()
    except ValueError:
        return json.dumps(_finite(value), default=_plain, separators=(",", ":")).encode()


def loads(data: bytes):
    return orjson.loads(data) if orjson is not None else json.loads(data)


# --- Choosing the buffer ----------------------------------------------------------------------


def _setting(name: str, env_name: str, default):
    """A Django setting, else an environment variable (so a Celery worker started by a test
    inherits the test's location), else the default."""
    return getattr(settings, name, None) or os.environ.get(env_name) or default


def _under_test_settings() -> bool:
    # Like the test media, broker and Redis database: tests never touch the demo's buffer.
    return str(getattr(settings, "SETTINGS_MODULE", "")).endswith(".test")


_opened: dict = {}


def _location() -> tuple:
    """("redis", url, key prefix) with REDIS_URL, else ("spool", folder)."""
    test = _under_test_settings()
    redis_url = _setting("PREDICTION_LOG_REDIS_URL", "MODELYARD_PREDICTION_LOG_REDIS_URL", settings.REDIS_URL)
    if redis_url:
        prefix = _setting(
            "PREDICTION_LOG_PREFIX",
            "MODELYARD_PREDICTION_LOG_PREFIX",
            "modelyard-test:" if test else "modelyard:",
        )
        return ("redis", redis_url, prefix)
    folder = Path(
        _setting(
            "PREDICTION_LOG_SPOOL_DIR",
            "MODELYARD_SPOOL_DIR",
            settings.VAR_DIR / ("test-spool" if test else "spool"),
        )
    )
    return ("spool", folder)


def open_buffer():
    """The configured buffer, one per process and location (a forked child opens its own: a
    spool writer's segment and a Redis consumer belong to one process)."""
    location = _location()
    if location[0] == "redis":
        _, redis_url, prefix = location
        timeout = float(
            _setting("PREDICTION_LOG_VISIBILITY_TIMEOUT", "MODELYARD_PREDICTION_LOG_VISIBILITY", 60)
        )
        key = ("redis", redis_url, prefix, timeout, os.getpid())
        factory = lambda: RedisStreamBuffer(redis_url, prefix=prefix, visibility_timeout=timeout)  # noqa: E731
    else:
        folder = location[1]
        key = ("spool", str(folder), os.getpid())
        factory = lambda: SpoolBuffer(folder)  # noqa: E731
    if key not in _opened:
        _opened[key] = factory()
    return _opened[key]


def durability_problem() -> str | None:
    """How the configured buffer could lose answered predictions in a crash, or None: a Redis
    without its append-only file, or one that syncs it less often than on every write. None also
    for the spool (every append is fsync'ed) and for a Redis that does not show its configuration
    (CONFIG disabled, as on some hosted services)."""
    location = _location()
    if location[0] != "redis":
        return None
    import redis

    client = redis.Redis.from_url(location[1], socket_timeout=2, socket_connect_timeout=2)
    try:
        config = client.config_get("append*")
    except redis.ResponseError:
        return None
    except redis.RedisError as error:
        return f"could not ask Redis how it keeps the prediction log ({error})"
    finally:
        client.close()
    if config.get("appendonly") != "yes":
        return (
            "the prediction log's Redis runs without its append-only file (appendonly no): a Redis "
            "crash or restart loses every answered prediction not yet stored"
        )
    if config.get("appendfsync") != "always":
        return (
            f"the prediction log's Redis syncs its append-only file {config.get('appendfsync')!r}, "
            "not 'always': a Redis crash loses the answered predictions of up to the last second"
        )
    return None


def open_request_ids():
    """Where the inference service claims client request ids, beside the prediction log: Redis keys
    under the log's prefix, or a SQLite file in the spool folder (shared by every worker)."""
    from apps.serving.inference.requestids import RedisRequestIds, SqliteRequestIds

    ttl = float(settings.MODELYARD_REQUEST_ID_TTL_SECONDS)
    location = _location()
    if location[0] == "redis":
        return RedisRequestIds(location[1], prefix=location[2], ttl=ttl)
    return SqliteRequestIds(location[1] / "request-ids.sqlite3", ttl=ttl)


# --- Redis stream -----------------------------------------------------------------------------


class _Renewal:
    """Calls ``renew`` every ``every`` seconds in a daemon thread until stopped, or until it raises
    ``lost`` (the lease expired and someone else holds it: nothing left to renew)."""

    def __init__(self, renew, *, every: float, lost: type[Exception]):
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(renew, every, lost), name="drain-lease", daemon=True
        )
        self._thread.start()

    def _run(self, renew, every: float, lost: type[Exception]) -> None:
        while not self._stop.wait(every):
            try:
                renew()
            except lost as error:
                log.warning("prediction log: the drain lease was lost (%s); another drain may start", error)
                return
            except Exception as error:  # Redis away for a moment: try again on the next beat
                log.warning("prediction log: could not renew the drain lease: %s", error)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class RedisStreamBuffer:
    """One stream entry per record (field "r"), read through a consumer group.

    Each process is one consumer (two with its ``sibling``). A read first claims entries another
    consumer has left idle longer than the visibility timeout (it died), then re-reads this
    consumer's own un-acked entries, then new ones. An ack removes the entries (XACK + XDEL), so
    the stream's length is what is still to be ingested. Durability is Redis's: run it with
    appendonly for a log that survives a Redis restart."""

    name = "redis-stream"

    def __init__(
        self, url: str, *, prefix: str = "modelyard:", visibility_timeout: float = 60, consumer: str = ""
    ):
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self._errors = redis.ResponseError
        self._args = (url, prefix, visibility_timeout)
        self.key = f"{prefix}{STREAM}"
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.visibility_ms = int(visibility_timeout * 1000)
        self._group_ready = False
        self._sibling = None

    def sibling(self) -> "RedisStreamBuffer":
        """A second reader of the same stream in this process (its own consumer), so a drain can
        read the next batch while it writes one; each reader has at most one read outstanding."""
        if self._sibling is None:
            url, prefix, timeout = self._args
            self._sibling = RedisStreamBuffer(
                url, prefix=prefix, visibility_timeout=timeout, consumer=f"{self.consumer}-b"
            )
        return self._sibling

    def __repr__(self) -> str:
        return f"RedisStreamBuffer({self.key!r})"

    def append(self, records: list[dict]) -> None:
        if not records:
            return
        if len(records) == 1:  # a single-row request: one XADD, without a pipeline's bookkeeping
            self._redis.xadd(self.key, {"r": dumps(records[0])})
            return
        pipe = self._redis.pipeline(transaction=False)
        for record in records:
            pipe.xadd(self.key, {"r": dumps(record)})
        pipe.execute()

    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            self._redis.xgroup_create(self.key, GROUP, id="0", mkstream=True)
        except self._errors as error:
            if "BUSYGROUP" not in str(error):
                raise
        self._group_ready = True

    def _read_group(self, start: str, count: int) -> list:
        answer = self._redis.xreadgroup(GROUP, self.consumer, {self.key: start}, count=count)
        return answer[0][1] if answer else []

    def read(self, max_records: int) -> tuple[list, list[dict]]:
        self._ensure_group()
        try:
            # Moves a dead consumer's entries to us; they come back below with our own.
            self._redis.xautoclaim(
                self.key, GROUP, self.consumer, self.visibility_ms, "0-0", count=max_records, justid=True
            )
            entries = self._read_group("0", max_records)
            if len(entries) < max_records:
                entries += self._read_group(">", max_records - len(entries))
        except self._errors as error:
            if "NOGROUP" not in str(error):
                raise
            self._group_ready = False  # the stream was deleted; it starts again empty
            return [], []
        token, records = [], []
        for entry_id, fields in entries:
            token.append(entry_id)
            if not fields or b"r" not in fields:  # deleted under us: nothing to store, only ack it
                continue
            try:
                records.append(loads(fields[b"r"]))
            except ValueError:  # must not block the log behind it
                log.error("prediction log entry %s is not JSON; skipped: %.200r", entry_id, fields[b"r"])
        return token, records

    def ack(self, token: list) -> None:
        for start in range(0, len(token), 5000):
            ids = token[start : start + 5000]
            pipe = self._redis.pipeline(transaction=False)
            pipe.xack(self.key, GROUP, *ids)
            pipe.xdel(self.key, *ids)
            pipe.execute()

    def pending(self) -> int:
        return self._redis.xlen(self.key)

    @contextlib.contextmanager
    def drain_lease(self, seconds: float = LEASE_SECONDS):
        """True while this drain holds the lease, False (at once) if another drain does. A thread
        renews it every ``seconds`` / 3; a holder that dies loses it ``seconds`` later.

        The holder is the only live drain, so it first takes over every entry another reader read
        and never acknowledged (a drain killed in its middle, or one that stopped because the
        database was down): no waiting for the visibility timeout."""
        from redis.exceptions import ConnectionError, LockError, TimeoutError

        lock = self._redis.lock(f"{self.key}:drain", timeout=seconds, blocking=False, thread_local=False)
        if not lock.acquire():
            yield False
            return
        renewal = _Renewal(lock.reacquire, every=seconds / 3, lost=LockError)
        try:
            taken = self._take_over_pending()
            if taken:
                log.warning("prediction log: took over %d records read by a drain that did not finish", taken)
            yield True
        finally:
            renewal.stop()
            try:
                lock.release()
            except (LockError, ConnectionError, TimeoutError) as error:  # it expires by itself
                log.warning("prediction log: could not release the drain lease: %s", error)

    def _take_over_pending(self) -> int:
        """Claim for this reader the entries other readers of the group hold un-acknowledged."""
        self._ensure_group()
        try:
            summary = self._redis.xpending(self.key, GROUP)
        except self._errors as error:
            if "NOGROUP" not in str(error):
                raise
            self._group_ready = False
            return 0
        taken = 0
        for consumer in summary.get("consumers") or []:
            name = consumer["name"].decode() if isinstance(consumer["name"], bytes) else consumer["name"]
            if name == self.consumer:
                continue
            for _ in range(-(-int(consumer["pending"]) // 1000)):  # pages of 1,000, as many as it held
                held = self._redis.xpending_range(
                    self.key, GROUP, min="-", max="+", count=1000, consumername=name
                )
                if not held:
                    break
                ids = [entry["message_id"] for entry in held]
                self._redis.xclaim(self.key, GROUP, self.consumer, 0, ids, justid=True)
                taken += len(ids)
        return taken


# --- Spool files ------------------------------------------------------------------------------


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Segment:
    """The segment this process appends to."""

    def __init__(self, folder: Path):
        name = f"{time.time_ns():020d}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        self.path = folder / name
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        _fsync_dir(folder)  # the new file's name is durable before a record in it is acknowledged
        self.size = 0
        self.records = 0
        self.opened = time.monotonic()

    def in_place(self) -> bool:
        """Still where we created it: not claimed by a reader nor moved to ready/."""
        try:
            here, ours = os.stat(self.path), os.fstat(self.fd)
        except FileNotFoundError:
            return False
        return (here.st_dev, here.st_ino) == (ours.st_dev, ours.st_ino)

    def close(self) -> None:
        os.close(self.fd)


class SpoolBuffer:
    """Append-only JSON-lines segment files; no server, safe for several writer and reader
    processes on one machine.

    - ``open/``: each writer process appends to its own segment, one write + fdatasync per
      ``append``, holding an exclusive flock only for that append. After ``segment_records``
      records or ``segment_seconds`` it moves the segment to ``ready/`` and starts another.
    - A reader claims a segment by locking it, then renaming it into ``claimed/`` under its pid;
      it keeps the lock until ``ack`` deletes the file. From ``open/`` it takes segments idle for
      ``segment_seconds`` (a writer that went quiet or died). A writer that finds its segment
      locked or moved starts a new one, so nothing is ever written to a claimed segment.
    - A claimed segment whose lock is free has lost its reader (a process's flocks die with it,
      whatever its pid becomes): another reader takes it over.

    A torn last line is a write that never returned, so no client was told it was logged: it is
    skipped. A failed write is truncated away and its segment abandoned, so a torn line is only
    ever the last line of a segment."""

    name = "spool"

    def __init__(self, root: Path, *, segment_records: int = 2000, segment_seconds: float = 2.0):
        self.root = Path(root)
        self.open_dir, self.ready_dir, self.claimed_dir = (
            self.root / d for d in ("open", "ready", "claimed")
        )
        for folder in (self.open_dir, self.ready_dir, self.claimed_dir):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.root.stat().st_uid == os.geteuid():
            self.root.chmod(0o700)  # every team's predictions: this user's alone, never a sandbox's
        self.segment_records = segment_records
        self.segment_seconds = segment_seconds
        self._mutex = threading.Lock()  # flock does not separate threads sharing a descriptor
        self._pid = os.getpid()
        self._segment: _Segment | None = None
        self._claimed: dict[Path, object] = {}  # claimed by this object, not yet acked: path -> file
        self._sibling = None

    def sibling(self) -> "SpoolBuffer":
        """A second reader of the same spool in this process (its own claims); see RedisStreamBuffer."""
        if self._sibling is None:
            self._sibling = SpoolBuffer(
                self.root, segment_records=self.segment_records, segment_seconds=self.segment_seconds
            )
        return self._sibling

    def __repr__(self) -> str:
        return f"SpoolBuffer({str(self.root)!r})"

    # writing

    def append(self, records: list[dict]) -> None:
        if not records:
            return
        payload = b"".join(dumps(record) + b"\n" for record in records)
        with self._mutex:
            for _ in range(5):
                segment = self._writable_segment()
                if not _try_lock(segment.fd):  # a reader is claiming it
                    self._drop_segment()
                    continue
                try:
                    if not segment.in_place():
                        self._drop_segment()
                        continue
                    self._write(segment, payload)
                    segment.records += len(records)
                    return
                finally:
                    if self._segment is segment:
                        fcntl.flock(segment.fd, fcntl.LOCK_UN)
            raise OSError(f"could not append to the spool in {self.root}")

    def _write(self, segment: _Segment, payload: bytes) -> None:
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(segment.fd, view) :]
            os.fdatasync(segment.fd)
        except BaseException:
            # Cut the partial write off and never write to this segment again: a torn line may
            # only be a segment's last.
            with contextlib.suppress(OSError):
                os.ftruncate(segment.fd, segment.size)
            self._drop_segment()
            raise
        segment.size += len(payload)

    def _writable_segment(self) -> _Segment:
        if self._pid != os.getpid():  # forked: the parent's segment is the parent's
            self._segment, self._claimed, self._pid = None, {}, os.getpid()
        segment = self._segment
        if segment is not None and (
            segment.records >= self.segment_records
            or time.monotonic() - segment.opened >= self.segment_seconds
        ):
            self._hand_over()
        if self._segment is None:
            self._segment = _Segment(self.open_dir)
        return self._segment

    def _hand_over(self) -> None:
        """Move our segment to ready/ for the readers; we start a new one on the next append."""
        segment = self._segment
        if _try_lock(segment.fd) and segment.in_place():
            os.rename(segment.path, self.ready_dir / segment.path.name)
        self._drop_segment()

    def _drop_segment(self) -> None:
        if self._segment is not None:
            self._segment.close()  # releases its lock
            self._segment = None

    # reading

    def _claim(self, path: Path):
        """Lock, then rename into claimed/: the rename decides between readers, and the lock
        (taken first) keeps writers out and tells others we are alive."""
        try:
            handle = open(path, "rb")  # noqa: SIM115 - held open until ack: it carries the lock
        except FileNotFoundError:
            return None
        if not _try_lock(handle.fileno()):
            handle.close()
            return None
        original = path.name.split("~", 1)[-1]
        target = self.claimed_dir / f"{os.getpid()}~{original}"
        try:
            os.rename(path, target)
        except FileNotFoundError:  # acked, rotated or claimed by someone else meanwhile
            handle.close()
            return None
        self._claimed[target] = handle
        return target

    def _candidates(self):
        """Segments to claim, oldest first: lost claims, then closed segments, then idle ones."""
        for entry in sorted(os.scandir(self.claimed_dir), key=lambda e: e.name.split("~", 1)[-1]):
            path = Path(entry.path)
            if path not in self._claimed:
                yield path
        yield from sorted(Path(e.path) for e in os.scandir(self.ready_dir))
        now = time.time()
        current = self._segment.path if self._segment else None
        for entry in sorted(os.scandir(self.open_dir), key=lambda e: e.name):
            try:
                idle = now - entry.stat().st_mtime >= self.segment_seconds
            except FileNotFoundError:
                continue
            if idle and Path(entry.path) != current:
                yield Path(entry.path)

    def _records(self, path: Path) -> list[dict]:
        handle = self._claimed[path]
        handle.seek(0)
        lines = handle.read().split(b"\n")
        if lines[-1]:
            log.warning(
                "spool segment %s ends in a torn line (its writer died mid-write); skipped", path.name
            )
        records = []
        for line in lines[:-1]:
            if line:
                try:
                    records.append(loads(line))
                except ValueError:
                    log.error("spool segment %s has an unreadable line; skipped: %.200r", path.name, line)
        return records

    def read(self, max_records: int) -> tuple[list, list[dict]]:
        token, records = [], []
        with self._mutex:
            if self._pid != os.getpid():
                self._segment, self._claimed, self._pid = None, {}, os.getpid()
            if self._segment is not None and self._segment.records:
                self._hand_over()  # a process that writes and reads sees its own records at once
            # Our own un-acked claims first (a drain that stopped retries them), then new ones. A
            # claimed segment that would overflow this read stays ours for the next read.
            pending = list(self._claimed)
            candidates = self._candidates()
            while len(records) < max_records:
                path = pending.pop(0) if pending else next(filter(None, map(self._claim, candidates)), None)
                if path is None:
                    break
                batch = self._records(path)
                if records and len(records) + len(batch) > max_records:
                    break
                token.append(path)
                records.extend(batch)
        return token, records

    def ack(self, token: list) -> None:
        with self._mutex:
            for path in token:
                handle = self._claimed.pop(path, None)
                path.unlink(missing_ok=True)
                if handle is not None:
                    handle.close()

    def pending(self) -> int:
        """Records not yet acknowledged (every complete line of every segment)."""
        total = 0
        for folder in (self.open_dir, self.ready_dir, self.claimed_dir):
            for entry in os.scandir(folder):
                try:
                    with open(entry.path, "rb") as handle:
                        total += sum(
                            chunk.count(b"\n") for chunk in iter(lambda h=handle: h.read(1 << 20), b"")
                        )
                except FileNotFoundError:
                    continue
        return total

    @contextlib.contextmanager
    def drain_lease(self, seconds: float = LEASE_SECONDS):
        """True while this drain holds the lease, False (at once) if another drain does: an
        exclusive lock on a file beside the segments, which the kernel releases when its holder
        exits or dies, so it needs no renewal (``seconds`` is the Redis buffer's)."""
        fd = os.open(self.root / "drain.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            yield _try_lock(fd)
        finally:
            os.close(fd)  # releases the lock

    def close(self) -> None:
        """Give up this object's segment and claims (a reader's claims go to the next reader)."""
        if self._sibling is not None:
            self._sibling.close()
        with self._mutex:
            self._drop_segment()
            for handle in self._claimed.values():
                handle.close()
            self._claimed = {}
