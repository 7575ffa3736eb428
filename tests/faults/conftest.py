"""The fault suite's own services, so that stopping and killing them disturbs no other test.

- ``postgres``: a PostgreSQL cluster of the session's own: ``initdb`` into a temporary folder (as
  the ``postgres`` OS user when the tests run as root: initdb refuses root), on a free port,
  started and stopped with ``pg_ctl`` from /usr/lib/postgresql/*/bin.
- ``redis_server``: a ``redis-server`` of the session's own on a free port, with ``--save ""`` and
  the persistence flags of the Redis service in docker/compose.yaml: the suite tests the shipped
  configuration, so a weaker one there fails it.
- ``world``: the private database migrated, with a model packaged and deployed on the staging
  endpoint ``faults`` and a consumer key (tests/faults/world.py, run in a subprocess).
- ``stack``: the inference service (2 workers), a Celery worker on the ingestion queue and beat,
  started as subprocesses on production settings with DATABASE_URL and REDIS_URL of the private
  services, each in a process group of its own so that a ``kill -9`` takes the whole of it.

The test process itself never uses Django's database: pytest-django binds it to the shared test
database, and the private cluster is reached only through the subprocesses and plain psycopg and
redis clients (counting rows, reading the stream).
"""

import contextlib
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker" / "compose.yaml"
PG_BINARIES = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
STREAM = "modelyard:predictions"  # the prediction log's stream under production settings


def wait_for(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout:.0f} s")
        time.sleep(interval)


# --- PostgreSQL ----------------------------------------------------------------------------------


class PrivatePostgres:
    """A throw-away cluster: trust authentication on 127.0.0.1 only, fsync off (nothing here
    survives the session, and no test crashes the machine)."""

    def __init__(self, root: Path):
        self.root = root
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.port = free_port()
        self.bin = PG_BINARIES[-1].parent
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/modelyard"
        if os.geteuid() == 0:
            import pwd

            owner = pwd.getpwnam("postgres")
            os.chown(root, owner.pw_uid, owner.pw_gid)
            self._as = {"user": "postgres", "group": owner.pw_gid}
        else:
            self._as = {}

    def _run(self, *command: str, timeout: float = 120) -> None:
        # In its own folder: the project may sit where the postgres user cannot go (CI's clone).
        result = subprocess.run(
            command, cwd=self.root, capture_output=True, text=True, timeout=timeout, **self._as
        )
        if result.returncode:
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")

    def init(self) -> None:
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync"
        )
        self.start()
        self._run(
            str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "modelyard"
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"
        )

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def ensure_started(self) -> None:
        if not self.running():
            self.start()

    def query(self, sql: str, params=()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url, connect_timeout=5) as connection:
            return connection.execute(sql, params).fetchall()


@pytest.fixture(scope="session")
def postgres():
    if not PG_BINARIES:
        pytest.skip("the fault suite needs PostgreSQL's server binaries in /usr/lib/postgresql/*/bin")
    root = Path(tempfile.mkdtemp(prefix="modelyard-faults-pg-"))
    cluster = PrivatePostgres(root)
    try:
        cluster.init()
        yield cluster
    finally:
        if cluster.running():
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


# --- Redis ---------------------------------------------------------------------------------------


def shipped_redis_arguments() -> list[str]:
    """The flags docker/compose.yaml gives its Redis (none: the image's defaults)."""
    import yaml

    service = yaml.safe_load(COMPOSE.read_text())["services"]["redis"]
    command = service.get("command") or []
    words = shlex.split(command) if isinstance(command, str) else [str(word) for word in command]
    if words[:1] == ["redis-server"]:
        words = words[1:]
    if words and not words[0].startswith("--"):
        raise AssertionError(f"the compose Redis command is not a list of flags: {words}")
    return words


class PrivateRedis:
    def __init__(self, root: Path):
        self.root = root
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.arguments = shipped_redis_arguments()
        self.log = root / "redis.log"
        self.proc: subprocess.Popen | None = None

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=2)

    def start(self) -> None:
        command = [
            "redis-server",
            *self.arguments,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.root),
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            str(self.log),
        ]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

        def answering():
            if self.proc.poll() is not None:
                raise AssertionError(f"redis-server exited:\n{self.log.read_text()[-2000:]}")
            try:
                return self.client().ping()
            except Exception:
                return False

        wait_for(answering, timeout=30, what="Redis answering")

    def stop(self) -> None:
        """A clean shutdown (SIGTERM: Redis writes what its persistence settings say, then exits)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_server():
    if not shutil.which("redis-server"):
        pytest.skip("the fault suite needs redis-server")
    root = Path(tempfile.mkdtemp(prefix="modelyard-faults-redis-"))
    server = PrivateRedis(root)
    server.start()
    try:
        yield server
    finally:
        server.kill()
        shutil.rmtree(root, ignore_errors=True)


# --- The services on production settings ---------------------------------------------------------

# Variables of the test settings and of other fixtures that must not reach the private services.
_NOT_INHERITED = (
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "MODELYARD_TEST_DB_NAME",
    "MODELYARD_TEST_BROKER_URL",
    "MODELYARD_PREDICTION_LOG_PREFIX",
    "MODELYARD_PREDICTION_LOG_REDIS_URL",
    "MODELYARD_SPOOL_DIR",
    "MODELYARD_VAR_DIR",
    "MODELYARD_MEDIA_ROOT",
    "PROMETHEUS_MULTIPROC_DIR",
)


@dataclass
class World:
    env: dict
    endpoint: str
    environment: str
    key: str
    records: list
    home: Path

    def stored(self, prefix: str, postgres: PrivatePostgres) -> Counter:
        """Stored prediction rows per request id ``<prefix>-…``."""
        rows = postgres.query(
            "SELECT request_id, count(*) FROM serving_prediction WHERE request_id LIKE %s GROUP BY 1",
            [prefix + "-%"],
        )
        return Counter(dict(rows))


@pytest.fixture(scope="session")
def world(postgres, redis_server):
    home = Path(tempfile.mkdtemp(prefix="modelyard-faults-home-"))
    env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(40),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=postgres.url,
        REDIS_URL=redis_server.url,
        MODELYARD_VAR_DIR=str(home / "var"),
        MODELYARD_MEDIA_ROOT=str(home / "media"),
        PYTHONUNBUFFERED="1",
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "faults" / "world.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode:
        raise RuntimeError(
            f"setting up the fault suite's world failed:\n{result.stdout}\n{result.stderr[-4000:]}"
        )
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    try:
        yield World(env=env, home=home, **answer)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def children(pid: int) -> list[int]:
    """The live processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry))
    return found


class Stack:
    """The inference service, a Celery worker and beat on the private services."""

    def __init__(self, world: World, logs: Path):
        self.world = world
        self.logs = logs
        self.procs: dict[str, subprocess.Popen] = {}
        self.url = ""
        self._starts = Counter()

    def _spawn(self, name: str, command: list[str], env: dict | None = None) -> subprocess.Popen:
        self._starts[name] += 1
        log = self.logs / f"{name}-{self._starts[name]}.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**self.world.env, **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killpg reaches every child
            )
        proc.log = log
        self.procs[name] = proc
        return proc

    def log_text(self, name: str) -> str:
        return self.procs[name].log.read_text()

    # the inference service

    def start_inference(self, *, wait: bool = True, env: dict | None = None) -> str:
        port = free_port()
        command = [sys.executable, "manage.py", "inference", "--bind", f"127.0.0.1:{port}"]
        command += ["--workers", "2", "--threads", "4", "--environment", self.world.environment]
        self._spawn("inference", command, env)
        self.url = f"http://127.0.0.1:{port}"
        if wait:
            self.wait_for_inference_workers()
        return self.url

    def inference_workers(self) -> list[int]:
        """The gunicorn workers: the master's children."""
        return children(self.procs["inference"].pid)

    def wait_for_inference_workers(self, workers: int = 2, timeout: float = 90) -> None:
        """Until ``workers`` different worker processes have answered a prediction."""
        seen: set[str] = set()
        proc = self.procs["inference"]

        def every_worker_answers():
            if proc.poll() is not None:
                raise AssertionError(f"the inference service exited:\n{self.log_text('inference')[-3000:]}")
            try:
                answer = predict(self, f"warm-{secrets.token_hex(6)}", session=None)
            except requests.RequestException:
                return False
            if answer.status_code == 200:
                seen.add(answer.headers["X-Served-By"])
            return len(seen) >= workers

        wait_for(every_worker_answers, timeout=timeout, interval=0.1, what="every inference worker answering")

    # Celery

    def start_worker(self, *, wait: bool = True) -> subprocess.Popen:
        """``celery worker`` on the ingestion queue, as docker/compose.yaml runs it."""
        command = [str(Path(sys.executable).parent / "celery"), "-A", "config", "worker", "-Q", "ingestion"]
        command += ["--concurrency", "2", "--loglevel", "INFO", "--without-mingle", "--without-gossip"]
        command += ["--hostname", f"faults-{secrets.token_hex(3)}@%h"]
        proc = self._spawn("worker", command)
        if wait:
            self.wait_for_worker()
        return proc

    def wait_for_worker(self) -> None:
        proc = self.procs["worker"]
        wait_for(
            lambda: _alive(proc, "the Celery worker") and " ready." in self.log_text("worker"),
            timeout=60,
            what="the Celery worker ready",
        )

    def start_all(self) -> None:
        """The inference service, a worker and beat, started side by side; back once all are ready."""
        self.start_inference(wait=False)
        self.start_worker(wait=False)
        self.start_beat()
        self.wait_for_worker()
        self.wait_for_inference_workers()

    def start_beat(self) -> subprocess.Popen:
        schedule = self.logs / f"beat-schedule-{self._starts['beat']}"
        command = [str(Path(sys.executable).parent / "celery"), "-A", "config", "beat", "--loglevel", "INFO"]
        return self._spawn("beat", [*command, "--schedule", str(schedule)])

    def kill(self, name: str) -> None:
        """``kill -9`` of the named process and everything in its process group."""
        proc = self.procs[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self, name: str) -> None:
        proc = self.procs.get(name)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill(name)
        except ProcessLookupError:
            pass

    def kill_all(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is None:
                self.kill(name)


def _alive(proc: subprocess.Popen, what: str) -> bool:
    if proc.poll() is not None:
        raise AssertionError(f"{what} exited:\n{proc.log.read_text()[-3000:]}")
    return True


@pytest.fixture
def stack(world, postgres, redis_server, tmp_path):
    """Nothing started yet; every process a test starts is stopped after it, and the private
    PostgreSQL and Redis are running again whatever the test did to them."""
    started = Stack(world, tmp_path)
    try:
        yield started
    finally:
        started.kill_all()  # nothing of theirs is checked after the test: no graceful stops to wait for
        if redis_server.proc.poll() is not None:
            redis_server.start()
        redis_server.client().flushall()  # locks, claims and messages of this test's processes
        postgres.ensure_started()


# --- Traffic -------------------------------------------------------------------------------------


def predict(stack: Stack, request_id: str, *, session, timeout: float = 10):
    world = stack.world
    body = {"records": [world.records[hash(request_id) % len(world.records)]]}
    return (session or requests).post(
        f"{stack.url}/v1/endpoints/{world.endpoint}/predict",
        json=body,
        headers={"Authorization": f"Bearer {world.key}", "X-Request-ID": request_id},
        timeout=timeout,
    )


@dataclass
class Traffic:
    """A bounded load: ``clients`` threads, each sending single-record predictions with request ids
    ``<prefix>-<client>-<n>`` at most ``rate`` a second, until stopped or ``limit`` each. Every
    request id gets its outcome: the status code, or "no answer" (a connection error or timeout)."""

    stack: Stack
    prefix: str
    clients: int = 3
    rate: float = 25.0
    limit: int = 5000
    outcomes: dict = field(default_factory=dict)
    answered_at: dict = field(default_factory=dict)  # request id → time.monotonic() of its 200
    retry_after: Counter = field(default_factory=Counter)  # Retry-After values of the 503s

    def __post_init__(self):
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(self.clients)
        ]
        self._lock = threading.Lock()

    def _client(self, number: int) -> None:
        session = requests.Session()
        for n in range(self.limit):
            if self._stop.is_set():
                return
            began = time.monotonic()
            request_id = f"{self.prefix}-{number}-{n}"
            try:
                answer = predict(self.stack, request_id, session=session)
                outcome = str(answer.status_code)
            except requests.RequestException:
                outcome = "no answer"
                session = requests.Session()
                answer = None
            with self._lock:
                self.outcomes[request_id] = outcome
                if outcome == "200":
                    self.answered_at[request_id] = time.monotonic()
                elif outcome == "503":
                    self.retry_after[answer.headers.get("Retry-After")] += 1
            self._stop.wait(max(0.0, 1 / self.rate - (time.monotonic() - began)))

    def __enter__(self) -> "Traffic":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def run_for(self, seconds: float) -> None:
        time.sleep(seconds)

    @property
    def answered(self) -> set[str]:
        with self._lock:
            return {rid for rid, outcome in self.outcomes.items() if outcome == "200"}

    def statuses(self) -> Counter:
        with self._lock:
            return Counter(self.outcomes.values())

    def count_since(self, moment: float) -> int:
        with self._lock:
            return sum(1 for at in self.answered_at.values() if at >= moment)


@dataclass
class Ledger:
    """Answered vs stored vs duplicated, by request id."""

    sent: int
    statuses: Counter
    answered: int
    stored: int
    lost: list
    duplicated: list
    stored_unanswered: int  # stored although the client got no 200 (its answer was lost on the way)

    def line(self, name: str, **more) -> str:
        extra = "".join(f", {k} {v}" for k, v in more.items())
        return (
            f"[faults] {name}: sent {self.sent}, statuses {dict(self.statuses)}, answered {self.answered}, "
            f"stored {self.stored}, lost {len(self.lost)}, duplicated {len(self.duplicated)}, "
            f"stored without a 200 {self.stored_unanswered}{extra}"
        )


def settle(
    traffic: Traffic, postgres: PrivatePostgres, redis_server: PrivateRedis, *, timeout: float = 60
) -> Ledger:
    """Wait until every answered prediction is stored and the stream is empty (or ``timeout``),
    then count."""
    answered = traffic.answered
    world = traffic.stack.world

    def drained():
        try:
            stored = world.stored(traffic.prefix, postgres)
            backlog = redis_server.client().xlen(STREAM)
        except Exception:
            return False
        return answered <= stored.keys() and backlog == 0

    with contextlib.suppress(AssertionError):  # counted below: what is missing is the finding
        wait_for(drained, timeout=timeout, interval=0.5, what="every answered prediction stored")
    stored = world.stored(traffic.prefix, postgres)
    return Ledger(
        sent=len(traffic.outcomes),
        statuses=traffic.statuses(),
        answered=len(answered),
        stored=len(stored),
        lost=sorted(answered - stored.keys()),
        duplicated=sorted(rid for rid, rows in stored.items() if rows > 1),
        stored_unanswered=len(stored.keys() - answered),
    )


def backlog_records(prefix: str, count: int) -> list[dict]:
    """Prediction records as the inference service appends them (a few features each)."""
    now = time.time()
    return [
        {
            "request_id": f"{prefix}-{i}",
            "row": 0,
            "endpoint": "faults",
            "environment": "staging",
            "deployment_id": 1,
            "version_id": 1,
            "role": "primary",
            "inputs": {"Seniority": i % 40, "Amount": i % 1000, "Age": 30 + i % 40},
            "prediction": "good",
            "probabilities": [0.4, 0.6],
            "latency_ms": 1.0,
            "ts": now + i / 1e6,
            "batch": False,
            "kind": "prediction",
        }
        for i in range(count)
    ]


def drain_running(redis_server: PrivateRedis) -> bool:
    """Whether a drain holds its lock in Redis: the lease beside the stream, or the cache lock
    ``serving.ingest:…`` of older releases."""
    client = redis_server.client()
    return bool(list(client.scan_iter("*predictions:drain*")) or list(client.scan_iter("*serving.ingest:*")))
