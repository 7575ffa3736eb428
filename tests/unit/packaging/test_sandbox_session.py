"""A SandboxSession (apps/packaging/sandbox/process.py): one confined model process scoring many
samples over a pipe. It starts once, answers like the one-shot sandbox, and keeps its guarantees:
model code reaches no network, a sample that overruns its time-out is stopped with the process
group, and after a failure the next sample gets a fresh process."""

import socket
import time

import numpy as np
import pandas as pd
import pytest

from apps.packaging.sandbox.confinement import confinement
from apps.packaging.sandbox.process import SandboxSession
from tests.unit.packaging.conftest import COLUMNS, PROJECT_ROOT
from tests.unit.packaging.helpers import Listener


def _session(path, fmt, **limits) -> SandboxSession:
    request = {"artifact": str(path), "format": fmt, "trusted_types": [], "columns": COLUMNS}
    return SandboxSession(request, project_root=str(PROJECT_ROOT), **{"timeout_seconds": 60, **limits})


def test_one_start_scores_every_sample_as_the_model_does_here(artifacts, frame):
    artifact = artifacts["joblib"]
    starts = []
    with _session(artifact.path, "joblib") as session:
        session.on_start = starts.append
        answers = [session.score(frame.iloc[i : i + 15]) for i in range(0, 40, 15)]
    assert starts == [1] and session.starts == 1
    assert all(a["ok"] for a in answers), answers
    predictions = [p for a in answers for p in a["predictions"]]
    assert predictions == list(artifact.predictions)
    assert answers[0]["classes"] == artifact.classes
    if artifact.probabilities is not None:
        probabilities = [p for a in answers for p in a["probabilities"]]
        assert np.allclose(probabilities, artifact.probabilities)
    assert answers[0]["isolation"] == confinement().describe()
    assert session.loaded["runs_as"] and session.loaded["load_seconds"] > 0


@pytest.mark.skipif(not confinement().cuts_network, reason="the network cannot be cut here")
def test_model_code_reaches_no_network_from_a_session(tmp_path, frame):
    listener = Listener()
    try:
        path = tmp_path / "calls_home.py"
        path.write_text(
            "import socket\n"
            "class CallsHome:\n"
            "    def predict(self, frame):\n"
            f"        socket.create_connection(('127.0.0.1', {listener.port}), timeout=2).close()\n"
            "        return [0] * len(frame)\n"
        )
        with _session(path, "python_source") as session:
            answer = session.score(frame.iloc[:10])
        time.sleep(0.3)
        assert answer["ok"] is False, answer
        assert listener.reached == 0
    finally:
        listener.close()
    assert socket.gethostname()  # this process keeps its network


def test_a_sample_that_overruns_is_stopped_and_the_next_gets_a_fresh_process(tmp_path, frame):
    path = tmp_path / "slow_once.py"
    path.write_text(
        "import os, time\n"
        "class SlowOnFirstRows:\n"
        "    def predict(self, frame):\n"
        "        if len(frame) == 7:\n"
        "            time.sleep(3600)\n"
        "        return [1] * len(frame)\n"
    )
    with _session(path, "python_source", timeout_seconds=5) as session:
        started = time.monotonic()
        stuck = session.score(frame.iloc[:7])
        assert time.monotonic() - started < 15
        assert stuck == {
            "ok": False,
            "stage": "timeout",
            "error": "the model did not answer within 5 s and was stopped",
        }
        again = session.score(frame.iloc[:3])
    assert again["ok"] and again["predictions"] == [1, 1, 1]
    assert session.starts == 2


def test_a_failing_sample_is_reported_with_its_stage(tmp_path):
    path = tmp_path / "picky.py"
    path.write_text(
        "class Picky:\n    def predict(self, frame):\n        raise ValueError('column b must be positive')\n"
    )
    with _session(path, "python_source") as session:
        answer = session.score(pd.DataFrame({c: [1.0] for c in COLUMNS}))
    assert answer == {"ok": False, "stage": "predict", "error": "ValueError: column b must be positive"}
