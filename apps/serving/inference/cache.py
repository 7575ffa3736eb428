"""Models loaded once per worker process, the least recently used dropped past a bound."""

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

from apps.packaging.sandbox.loaders import Predictor, load_model
from apps.serving.inference.routes import Arm

log = logging.getLogger(__name__)

Key = tuple[int, str]  # (deployment_id, artifact_path)


class ModelUnavailable(Exception):
    """The arm's model could not be loaded (now, or within the last ``retry_after`` seconds)."""


class ModelCache:
    """Thread-safe: a lock per key, so two threads asking for the same model load it once while
    models for other keys load in parallel. A failed load is remembered for ``retry_after`` seconds
    so that a broken artifact is not re-read on every request."""

    def __init__(
        self, max_models: int = 16, *, loader: Callable[..., Predictor] = load_model, retry_after=10.0
    ):
        self._max = max_models
        self._loader = loader
        self._retry_after = retry_after
        self._models: OrderedDict[Key, Predictor] = OrderedDict()
        self._failures: dict[Key, float] = {}
        self._key_locks: dict[Key, threading.Lock] = {}
        self._lock = threading.Lock()  # guards the three dicts above; never held while loading

    def __len__(self) -> int:
        return len(self._models)

    def get(self, arm: Arm) -> Predictor:
        key = arm.cache_key
        model = self._lookup(key)
        if model is not None:
            return model
        with self._key_lock(key):
            model = self._lookup(key)  # another thread may have loaded it while we waited
            if model is not None:
                return model
            failed_at = self._failures.get(key)
            if failed_at is not None and time.monotonic() - failed_at < self._retry_after:
                raise ModelUnavailable(f"{arm.model_name} v{arm.version_number} failed to load recently")
            try:
                model = self._loader(
                    arm.artifact_path,
                    arm.format,
                    trusted_types=arm.trusted_types,
                    mlflow_root=arm.mlflow_root,
                )
            except Exception as exc:
                with self._lock:
                    self._failures[key] = time.monotonic()
                log.error(
                    "could not load %s v%s (deployment %s): %s",
                    arm.model_name,
                    arm.version_number,
                    arm.deployment_id,
                    exc,
                )
                raise ModelUnavailable(str(exc)) from exc
            with self._lock:
                self._failures.pop(key, None)
                self._models[key] = model
                while len(self._models) > self._max:
                    self._models.popitem(last=False)
            return model

    def retain(self, keys: Iterable[Key]) -> None:
        """Drop the models no route uses any more, and their locks and remembered failures."""
        keep = set(keys)
        with self._lock:
            for store in (self._models, self._failures):
                for key in [k for k in store if k not in keep]:
                    del store[key]
            for key in [k for k, lock in self._key_locks.items() if k not in keep and not lock.locked()]:
                del self._key_locks[key]  # a lock in use stays, so its key is never loaded twice

    def warm(self, arms: Iterable[Arm]) -> None:
        """Load the arms' models ahead of their first request, as far as the bound allows."""
        for arm in list({arm.cache_key: arm for arm in arms}.values())[: self._max]:
            with contextlib.suppress(ModelUnavailable):  # logged by get; requests report it
                self.get(arm)

    def _lookup(self, key: Key) -> Predictor | None:
        with self._lock:
            model = self._models.get(key)
            if model is not None:
                self._models.move_to_end(key)
            return model

    def _key_lock(self, key: Key) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())
