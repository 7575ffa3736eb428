"""Shadow scoring off the request path: a few threads and a bounded backlog, so shadows never delay
or change an answer, and a slow shadow model sheds its own work instead of piling it up."""

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

log = logging.getLogger(__name__)


class ShadowRunner:
    """``submit(job)`` runs ``job()`` in the background, or returns False when ``max_pending`` jobs are
    already waiting. With ``workers=0`` jobs run at once in the caller's thread (for tests)."""

    def __init__(self, workers: int = 2, max_pending: int = 64):
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="shadow") if workers > 0 else None
        self._slots = threading.BoundedSemaphore(max_pending)
        self._pending: set[Future] = set()
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], None]) -> bool:
        if self._pool is None:
            self._run(job)
            return True
        if not self._slots.acquire(blocking=False):
            return False
        try:
            future = self._pool.submit(self._run, job)
        except RuntimeError:  # the pool is shut down: the worker is exiting
            self._slots.release()
            return False
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)
        return True

    def wait(self, timeout: float | None = None) -> None:
        """Block until every job submitted so far has finished (tests, graceful shutdown)."""
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            future.exception(timeout=timeout)

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _done(self, future: Future) -> None:
        with self._lock:
            self._pending.discard(future)
        self._slots.release()

    @staticmethod
    def _run(job: Callable[[], None]) -> None:
        try:
            job()
        except Exception:
            log.exception("a shadow job failed")
