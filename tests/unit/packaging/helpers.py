"""Artifacts, requests and a stand-in service written by hand for the sandbox tests."""

import contextlib
import os
import socket
import stat
import threading
import zipfile
from pathlib import Path

PYTHON_MODEL = '''
import numpy as np


class RuleModel:
    """A hand-written rule: positive when a + b / 2 > 0."""

    classes_ = [0, 1]

    def __init__(self):
        print("loading the rule model")  # must not end up in the sandbox's JSON response

    def predict(self, frame):
        return (frame["a"] + 0.5 * frame["b"] > 0).astype(int)
'''

MLMODEL = """\
artifact_path: model
flavors:
  python_function:
    env:
      conda: conda.yaml
    loader_module: mlflow.sklearn
    model_path: model.pkl
    predict_fn: predict
    python_version: 3.11.7
  sklearn:
    code: null
    pickled_model: model.pkl
    serialization_format: pickle
    sklearn_version: 1.5.0
mlflow_version: 2.14.0
model_uuid: 0f6c1d8e2b8a4c7e9a7d3f1e5b2c4a6d
"""


def write_mlflow_zip(path: Path, root: str, model: bytes, mlmodel: str = MLMODEL, extra=()) -> Path:
    """An MLflow model directory, zipped by hand; ``extra`` adds (ZipInfo or name, bytes) members."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{root}MLmodel", mlmodel)
        archive.writestr(f"{root}model.pkl", model)
        archive.writestr(f"{root}conda.yaml", "dependencies:\n  - scikit-learn\n")
        for member, data in extra:
            archive.writestr(member, data)
    return path


class Evaluates:
    """Unpickles to eval(expression): what a malicious pickle can do."""

    def __init__(self, expression: str):
        self.expression = expression

    def __reduce__(self):
        return eval, (self.expression,)


def sandbox_request(artifact, fmt: str, sample, columns: list[str], **overrides) -> dict:
    """A sandbox request for one artifact scored on ``sample`` (a pickled DataFrame)."""
    return {
        "artifact": str(artifact),
        "format": fmt,
        "mlflow_root": "",
        "trusted_types": [],
        "columns": columns,
        "sample": str(sample),
        "null_sample": None,
        "repeats": 3,
        **overrides,
    }


class Listener:
    """A TCP or UDP server on 127.0.0.1 that counts what reaches it (a stand-in for a local service)."""

    def __init__(self, kind=socket.SOCK_STREAM):
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        if kind == socket.SOCK_STREAM:
            self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.reached = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(kind,), daemon=True)
        self._thread.start()

    def _serve(self, kind):
        while not self._stop.is_set():
            try:
                if kind == socket.SOCK_STREAM:
                    self.sock.accept()[0].close()
                else:
                    self.sock.recvfrom(512)
                self.reached += 1
            except TimeoutError:
                continue

    def close(self):
        self._stop.set()
        self._thread.join()
        self.sock.close()


@contextlib.contextmanager
def passable_by(user, path):
    """Let ``user`` (a pwd entry) pass through the folders leading to ``path`` for a while: a fresh
    clone under ``mktemp -d`` sits in a folder only its owner may enter."""
    opened = []
    for folder in [Path(path).resolve(), *Path(path).resolve().parents]:
        mode = folder.stat().st_mode
        if folder.stat().st_uid != user.pw_uid and not mode & stat.S_IXOTH:
            os.chmod(folder, stat.S_IMODE(mode) | stat.S_IXOTH)
            opened.append((folder, stat.S_IMODE(mode)))
    try:
        yield
    finally:
        for folder, mode in opened:
            os.chmod(folder, mode)
