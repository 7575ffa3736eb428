"""Gunicorn, run from Python: the master forks ``workers`` processes and each builds its own app
(``build_app`` runs after the fork), so route-refresh threads, loaded models and open log files
belong to one process and are never shared through fork. Each worker serves the app through an
asyncio event loop (see gunicorn_options)."""

import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Callable

from gunicorn.app.base import BaseApplication
from prometheus_client import multiprocess

from apps.packaging.sandbox.isolation import forbid_inspection

_NEWER_GUNICORN_ONLY = {"control_socket_disable"}  # older releases have no control socket to disable


class InferenceServer(BaseApplication):
    def __init__(self, build_app: Callable[[], Callable], options: dict):
        self._build_app = build_app
        self._options = options
        super().__init__()

    def load_config(self):
        for key, value in self._options.items():
            if key in _NEWER_GUNICORN_ONLY and key not in self.cfg.settings:
                continue
            if value is not None:
                self.cfg.set(key, value)

    def load(self):
        return self._build_app()

    def run(self):
        refuse_taken_address(self._options.get("bind"))
        logging.getLogger("gunicorn.error").addFilter(_ListeningAt(self._options.get("bind")))
        forbid_inspection()  # the master and the workers it forks: no reading their secrets via /proc
        super().run()


class _ListeningAt(logging.Filter):
    """With ``reuse_port`` the master opens no socket (each worker binds its own), so gunicorn's
    "Listening at:" line would name no address: it names the configured one instead."""

    def __init__(self, bind):
        super().__init__()
        binds = [bind] if isinstance(bind, str) else list(bind or [])
        self.address = ",".join(b if "://" in b or b.startswith("unix:") else f"http://{b}" for b in binds)

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if (
            isinstance(record.msg, str)
            and record.msg.startswith("Listening at:")
            and isinstance(args, tuple)
            and args
            and not args[0]
        ):
            record.args = (f"{self.address} (a socket per worker)", *args[1:])
        return True


def refuse_taken_address(bind) -> None:
    """With ``reuse_port`` a second server on the same address would bind too and silently take
    half of the connections; so the address must be free of any listener before we start."""
    for address in [bind] if isinstance(bind, str) else list(bind or []):
        host, sep, port = address.rpartition(":")
        if not sep or address.startswith(("unix:", "fd://")) or not port.isdigit() or port == "0":
            continue
        host = host.strip("[]") or "0.0.0.0"
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # old connections do not count
            try:
                probe.bind((host, int(port)))
            except OSError as exc:
                raise SystemExit(f"cannot serve on {address}: {exc.strerror or exc}") from None


def gunicorn_options(*, bind: str, workers: int, keepalive: int = 5, timeout: int = 30, **more) -> dict:
    """The settings the service runs with: gunicorn's asyncio worker (``asgi``, on uvloop when it is
    installed) in front of the app, so a worker holds any number of slow connections while its
    request threads (apps/serving/inference/asgi.py) only ever run complete requests. With gthread
    workers 8 clients that sent headers and stalled took every thread of a 2 × 4 service; the
    asyncio worker also answered 1,900–2,200 requests/s in the serving benchmark where gthread
    answered 1,050–1,900 (bench/README.md). Keep-alive clients keep their connection.

    ``reuse_port``: each worker listens on a socket of its own (SO_REUSEPORT) and the kernel hands
    each new connection to one of them by its address hash. With one shared socket the worker that
    wakes first takes every connection of a burst, and keep-alive clients then stay on it: 8
    clients measured 1,979 answers on one worker and none on the other."""
    return {
        "bind": bind,
        "workers": workers,
        "worker_class": "asgi",
        "asgi_loop": "auto",  # uvloop when installed (a dependency), else asyncio's own loop
        "asgi_lifespan": "off",  # the app is built in post-fork code, not in lifespan events
        "reuse_port": True,
        "keepalive": keepalive,
        "timeout": timeout,
        "graceful_timeout": 10,
        "preload_app": False,  # build_app must run in each worker, after the fork
        "proc_name": "modelyard-inference",
        "accesslog": None,  # every prediction is logged already; an access line each would double it
        "errorlog": "-",
        "control_socket_disable": True,  # one socket path per user: a second server would clash
        **more,
    }


def multiprocess_dir_set() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def fresh_multiprocess_dir() -> str:
    """An empty folder for prometheus_client's multiprocess files, set in the environment before
    any worker starts; leftovers of an earlier run would be added to this run's counters."""
    path = tempfile.mkdtemp(prefix="modelyard-inference-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path


def remove_multiprocess_dir(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def mark_worker_dead(server, worker) -> None:
    """gunicorn's child_exit hook: a dead worker's live gauges (CPU, memory) stop being reported."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)


def flush_at_worker_exit(server, worker) -> None:
    """gunicorn's worker_exit hook, in the exiting worker: its last service-level counts are logged."""
    from apps.serving.inference.sla import stop_all

    stop_all()
