"""What ``manage.py inference --routes-module/--log-module`` loads in the integration test: routes read
from routes.json and a prediction log of JSON lines, both in the folder named by an environment
variable, so the test can change routes while the server runs and count what it logged."""

import fcntl
import json
import os
import threading
from pathlib import Path

from apps.serving.inference.routes import Arm, Route

FOLDER_VARIABLE = "MODELYARD_INFERENCE_TEST_DIR"
ROUTES_FILE = "routes.json"
LOG_FILE = "predictions.jsonl"

_lock = threading.Lock()
_log_fd: dict[int, int] = {}  # pid → descriptor: opened after the fork, in each worker


def folder() -> Path:
    return Path(os.environ[FOLDER_VARIABLE])


def write_routes(target: Path, routes: list[dict]) -> None:
    """Replace routes.json at once, so a refresh never reads half a file."""
    temporary = target / (ROUTES_FILE + ".tmp")
    temporary.write_text(json.dumps(routes))
    temporary.replace(target / ROUTES_FILE)


def routes() -> list[Route]:
    data = json.loads((folder() / ROUTES_FILE).read_text())
    return [
        Route(
            environment=r["environment"],
            endpoint=r["endpoint"],
            allow_extra=r.get("allow_extra", False),
            sticky_key=r.get("sticky_key"),
            arms=tuple(Arm(**{**a, "trusted_types": tuple(a.get("trusted_types", ()))}) for a in r["arms"]),
            key_hashes=frozenset(r.get("key_hashes", ())),
            refuse_outside=frozenset(r.get("refuse_outside", ())),
        )
        for r in data
    ]


def log_to_file(records: list[dict]) -> None:
    """Append one JSON line per record. One write per call under an exclusive lock: the workers'
    lines never interleave. Written to the OS before returning (no fsync: a test, not a store)."""
    data = b"".join(json.dumps(record).encode() + b"\n" for record in records)
    with _lock:
        fd = _log_fd.get(os.getpid())
        if fd is None:
            fd = os.open(folder() / LOG_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            _log_fd[os.getpid()] = fd
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            os.write(fd, data)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


def read_log(target: Path) -> list[dict]:
    path = target / LOG_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]
