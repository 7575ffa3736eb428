"""The sandbox child: ``python -m apps.packaging.sandbox.runner`` reads one JSON request on stdin, loads
the model, predicts on the sample rows and writes one JSON response on stdout.

With ``--serve`` (process.py's SandboxSession, for batch jobs) it reads JSON lines instead: the
first is the request without a sample, answered by one line once the model is loaded; each next
one names a sample file, answered by one line with its predictions; end of input (or
``IDLE_SECONDS`` without a request) ends the process.

The parent (``process.py``) has already applied resource limits, cleaned the environment and cut
the network (confinement.py). When started as root, this process becomes an unprivileged user
(privileges.py), or else gives up every capability, before it opens anything named in the request.
"""

import json
import math
import os
import select
import statistics
import sys
import time

import numpy as np
import pandas as pd

from apps.packaging.sandbox.isolation import die_with_parent, drop_capabilities
from apps.packaging.sandbox.loaders import load_model
from apps.packaging.sandbox.privileges import drop_privileges

# What each format imports, for drop_privileges to import first when it must.
_FRAMEWORKS = {
    "pickle": ("joblib", "sklearn"),
    "joblib": ("joblib", "sklearn"),
    "skops": ("skops.io",),
    "onnx": ("onnxruntime", "onnx"),
    "xgboost_json": ("xgboost",),
    "xgboost_ubj": ("xgboost",),
    "xgboost_binary": ("xgboost",),
    "lightgbm_text": ("lightgbm",),
    "mlflow_zip": ("yaml",),
}


class Failed(Exception):
    """Ends the request with {"ok": false} at ``stage``."""

    def __init__(self, stage: str, error: BaseException):
        super().__init__(stage)
        self.stage, self.error = stage, error


def main() -> None:
    # Model code may print, from Python or from C: fd 1 becomes stderr so only the response reaches stdout.
    response_stream = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    try:
        response = handle(sys.stdin.read())
    except Failed as failed:
        response = {"ok": False, "stage": failed.stage, "error": describe(failed.error)}
    except BaseException as exc:  # noqa: BLE001 - a response must always be written
        response = {"ok": False, "stage": "internal", "error": describe(exc)}
    response_stream.write(json.dumps(response, allow_nan=False))
    response_stream.flush()


def serve() -> None:
    """``--serve``: load once, then answer one line per sample line (see the module docstring)."""
    response_stream = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    requests = sys.stdin.buffer

    def answer(response: dict) -> None:
        response_stream.write(json.dumps(response, allow_nan=False) + "\n")
        response_stream.flush()

    try:
        line = _next_line(requests)
        request = _stage("request", _parse_request, line.decode() if line else "", sample=False)
        model, loaded = _load(request)
        answer({"ok": True, "ready": True, **loaded, "cpu_seconds": time.process_time()})
    except Failed as failed:
        return answer({"ok": False, "stage": failed.stage, "error": describe(failed.error)})
    except BaseException as exc:  # noqa: BLE001 - an answer must always be written
        return answer({"ok": False, "stage": "internal", "error": describe(exc)})
    columns = request.get("columns") or None
    while (line := _next_line(requests)) is not None:
        try:
            sample = _stage("request", lambda text: json.loads(text)["sample"], line.decode())
            frame = _stage("request", _read_rows, sample, columns)
            started = time.perf_counter()
            predictions, probabilities = _stage("predict", _predict, model, frame)
            seconds = time.perf_counter() - started
            response = {
                "ok": True,
                "predictions": predictions,
                "probabilities": probabilities,
                "classes": loaded["classes"],
                "latency_ms_per_row": seconds * 1000 / max(len(frame), 1),
                "cpu_seconds": time.process_time(),
            }
        except Failed as failed:
            response = {"ok": False, "stage": failed.stage, "error": describe(failed.error)}
        except BaseException as exc:  # noqa: BLE001
            response = {"ok": False, "stage": "internal", "error": describe(exc)}
        answer(response)


IDLE_SECONDS = 600


def _next_line(stream) -> bytes | None:
    """The next request line, or None at the end of input or after IDLE_SECONDS without one."""
    ready, _, _ = select.select([stream], [], [], IDLE_SECONDS)
    if not ready:
        return None
    line = stream.readline()
    return line if line.strip() else None


def _load(request: dict):
    """Become the unprivileged user, then load the model: (model, what to tell the parent)."""
    user = os.environ.get("MODELYARD_SANDBOX_USER", "nobody")
    parent = os.getppid()
    runs_as = _stage("sandbox", drop_privileges, user, _FRAMEWORKS.get(request["format"], ()))
    if os.geteuid() == 0:  # it could not switch: root without any capability, then
        _stage("sandbox", drop_capabilities)
    die_with_parent(parent)  # again: switching user cleared the parent-death signal
    started = time.perf_counter()
    model = _stage(
        "load",
        load_model,
        request["artifact"],
        request["format"],
        trusted_types=request.get("trusted_types") or (),
        mlflow_root=request.get("mlflow_root") or "",
    )
    loaded = {
        "framework": model.framework,
        "kind": model.kind,
        "classes": json_safe(model.classes),
        "load_seconds": time.perf_counter() - started,
        "runs_as": runs_as,
    }
    return model, loaded


def handle(text: str) -> dict:
    request = _stage("request", _parse_request, text)
    model, loaded = _load(request)
    columns = request.get("columns") or None
    sample = _stage("request", _read_rows, request["sample"], columns)

    first = _stage("predict", _predict, model, sample)
    second = _stage("predict", _predict, model, sample)
    timings = _stage("predict", _time_predictions, model, sample, request["repeats"])
    null_rows = None
    if request.get("null_sample"):
        null_sample = _stage("null_rows", _read_rows, request["null_sample"], columns)
        null_rows = _stage("null_rows", _check_null_rows, model, null_sample)
    return {
        "ok": True,
        **loaded,  # framework, kind, classes, load_seconds, runs_as
        "predictions": first[0],
        "probabilities": first[1],
        "deterministic": first == second,
        "latency_ms_per_row": statistics.median(timings) * 1000 / max(len(sample), 1),
        "null_rows": null_rows,
    }


def _stage(stage: str, function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - model code may raise anything, even SystemExit
        raise Failed(stage, exc) from exc


def _parse_request(text: str, sample: bool = True) -> dict:
    request = json.loads(text)
    needed = ("artifact", "format", "sample") if sample else ("artifact", "format")
    missing = [key for key in needed if not (isinstance(request, dict) and key in request)]
    if missing:
        raise ValueError(f"the request lacks {', '.join(missing)}")
    request["repeats"] = max(1, int(request.get("repeats") or 3))
    return request


def _read_rows(path: str, columns: list | None) -> pd.DataFrame:
    # The parent writes the rows as a pandas pickle: exact dtypes, and no Arrow thread pools, which
    # fail to start (or hang) under a tight memory limit. The parent made the file, not the model.
    frame = pd.read_pickle(path)
    if columns is None:
        return frame
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"the sample rows lack the columns {missing}")
    return frame[columns]


def _predict(model, frame: pd.DataFrame) -> tuple[list, list | None]:
    """Predictions and probabilities, JSON-safe, after checking that their shapes fit the rows."""
    predictions = model.predict(frame)
    if len(predictions) != len(frame):
        raise ValueError(f"the model returned {len(predictions)} predictions for {len(frame)} rows")
    probabilities = model.predict_proba(frame)
    if probabilities is not None and (probabilities.ndim != 2 or len(probabilities) != len(frame)):
        raise ValueError(
            f"predict_proba returned shape {probabilities.shape}; expected ({len(frame)}, number of classes)"
        )
    return json_safe(predictions), json_safe(probabilities)


def _time_predictions(model, frame: pd.DataFrame, repeats: int) -> list[float]:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.predict(frame)
        timings.append(time.perf_counter() - started)
    return timings


def _check_null_rows(model, frame: pd.DataFrame) -> dict:
    try:
        _predict(model, frame)
    except MemoryError:
        raise
    except Exception as exc:
        return {"ok": False, "error": describe(exc), "rows": len(frame)}
    return {"ok": True, "error": None, "rows": len(frame)}


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def json_safe(values):
    """Lists of plain Python values; NaN and infinities become None (strict JSON has neither)."""
    if values is None:
        return None
    if isinstance(values, np.ndarray | pd.Series | pd.Index | list | tuple):
        return [json_safe(v) for v in (values.tolist() if hasattr(values, "tolist") else values)]
    if isinstance(values, np.generic):
        values = values.item()
    if isinstance(values, float):
        return values if math.isfinite(values) else None
    if values is None or isinstance(values, str | int | bool):
        return values
    return None if values is pd.NA or values is pd.NaT else str(values)


if __name__ == "__main__":
    serve() if "--serve" in sys.argv[1:] else main()
