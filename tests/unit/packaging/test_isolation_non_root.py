"""A worker that is not root cannot run models as another user, so model code shares the worker's
user. It must still not read the worker's secrets through /proc, and it must not outlive a killed
worker."""

import json
import os
import pickle
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import process_alive
from tests.unit.packaging.conftest import COLUMNS, PROJECT_ROOT
from tests.unit.packaging.helpers import Evaluates, sandbox_request

SECRET = "dbpassword-5c1e"
ISOLATION = PROJECT_ROOT / "apps" / "packaging" / "sandbox" / "isolation.py"


def _unprivileged_python() -> tuple[str, str] | None:
    """A non-root user and a Python it can run, to play a worker that is not root."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name, sys.executable
    for python in (sys.executable, "/usr/bin/python3"):
        try:
            probe = subprocess.run(
                [python, "-c", "import ctypes"], capture_output=True, preexec_fn=lambda: _become("nobody")
            )
        except OSError:  # 'nobody' may not even run it (a pyenv under /root)
            continue
        if probe.returncode == 0:
            return "nobody", python
    return None


def _become(user: str) -> None:
    entry = pwd.getpwnam(user)
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)


# The worker: holds a secret in its environment, marks itself as Modelyard's processes do at start
# (or not: the control case), then runs a child of its own user that tries to read that environment.
WORKER = textwrap.dedent(
    """\
    import importlib.util, subprocess, sys
    spec = importlib.util.spec_from_file_location("isolation", sys.argv[1])
    isolation = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(isolation)
    if sys.argv[2] == "mark":
        assert isolation.forbid_inspection()
    thief = "import os\\ntry:\\n    print(open(f'/proc/{os.getppid()}/environ').read())\\n" \\
        "except OSError as exc:\\n    print(type(exc).__name__, exc)"
    print(subprocess.run([sys.executable, "-c", thief], capture_output=True, text=True).stdout)
    """
)


@pytest.mark.parametrize("mark", [True, False], ids=["marked worker", "unmarked control"])
def test_code_of_the_workers_own_user_cannot_read_a_marked_workers_environment(mark, tmp_path):
    found = _unprivileged_python()
    if found is None:
        pytest.skip("no unprivileged user can run a Python interpreter here")
    user, python = found
    readable = Path(tempfile.mkdtemp(prefix="modelyard-isolation-"))
    try:
        readable.chmod(0o755)
        shutil.copy(ISOLATION, readable / "isolation.py")
        (readable / "isolation.py").chmod(0o644)
        (readable / "worker.py").write_text(WORKER)
        (readable / "worker.py").chmod(0o644)
        out = subprocess.run(
            [python, "worker.py", "isolation.py", "mark" if mark else "plain"],
            env={"PATH": "/usr/bin:/bin", "DATABASE_URL": f"postgres://modelyard:{SECRET}@db/modelyard"},
            cwd=readable,
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=(lambda: _become(user)) if os.geteuid() == 0 else None,
        )
    finally:
        shutil.rmtree(readable, ignore_errors=True)
    assert out.returncode == 0, out.stderr
    if mark:
        assert SECRET not in out.stdout
        assert out.stdout.startswith("PermissionError"), out.stdout
    else:  # proves the check can see a leak: without the mark the secret is readable
        assert SECRET in out.stdout


# A stand-in for a Celery worker that runs one artifact in the sandbox and waits for it.
SANDBOX_WORKER = textwrap.dedent(
    """\
    import json, sys
    from apps.packaging.sandbox.process import run_in_sandbox
    print(json.dumps(run_in_sandbox(json.loads(sys.argv[1]), project_root=sys.argv[2], timeout_seconds=300)))
    """
)


def test_a_model_dies_with_its_killed_worker(tmp_path):
    """The worker is killed (out of memory, kill -9) while the model hangs: the model goes too."""
    import pandas as pd

    # The model sees nothing of this test's folders (its /tmp is its own): it says it runs on stderr.
    hang = (
        "(print('MODEL RUNNING', file=__import__('sys').stderr, flush=True), __import__('time').sleep(600))"
    )
    artifact, sample = tmp_path / "hangs.pkl", tmp_path / "sample.pkl"
    artifact.write_bytes(pickle.dumps(Evaluates(hang)))
    pd.DataFrame({c: [0.0, 1.0] for c in COLUMNS}).to_pickle(sample)
    request = sandbox_request(artifact, "pickle", sample, COLUMNS, repeats=1)
    worker = subprocess.Popen(
        [sys.executable, "-c", SANDBOX_WORKER, json.dumps(request), str(PROJECT_ROOT)],
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        model_pid = _running_model(worker.pid)
        while model_pid is None and time.monotonic() < deadline:
            time.sleep(0.2)
            model_pid = _running_model(worker.pid)
        assert model_pid is not None, "the model never started"
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        deadline = time.monotonic() + 10
        while process_alive(model_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not process_alive(model_pid)
    finally:
        worker.kill()
        worker.wait()


def _running_model(worker_pid: int) -> int | None:
    """The worker's sandbox child, once the model in it has said it runs (on its stderr)."""
    for entry in Path("/proc").iterdir():
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if (
                parent == worker_pid
                and b"apps.packaging.sandbox.runner" in (entry / "cmdline").read_bytes()
                and "MODEL RUNNING" in (entry / "fd" / "2").read_text(errors="replace")
            ):
                return int(entry.name)
        except (OSError, ValueError, IndexError):  # not a process, or one that just ended
            continue
    return None
