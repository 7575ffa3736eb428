"""Broken and hostile artifacts: each must come back as {"ok": false} with a specific error, within its
limits, without hanging or hurting this process, and without reaching the platform's secrets."""

import ast
import json
import os
import pickle
import pwd
import re
import shutil
import stat
import tempfile
import time
import zipfile
from pathlib import Path

import pytest

from apps.packaging.sandbox.confinement import confinement
from apps.packaging.sandbox.privileges import unreadable_packages
from tests.unit.packaging.conftest import PROJECT_ROOT
from tests.unit.packaging.helpers import Evaluates, write_mlflow_zip

ROOT = os.geteuid() == 0
# The switch to 'nobody' needs the installed packages to be readable by it; a virtualenv inside a
# folder only root may enter (a fresh clone under mktemp -d) keeps the sandbox as root, and says so.
# In a mount namespace the child's /tmp is its own, so the folders leading to a project under /tmp
# are made anew there and 'nobody' passes: the child switches even where the parent sees no way.
SWITCHES = ROOT and (not unreadable_packages("nobody") or confinement().namespaces)


class Allocates8GB:
    def __reduce__(self):
        return bytearray, (8 * 1024**3,)


def _raise_with(expression: str) -> str:
    """An expression that raises, so whatever ``expression`` finds would surface in the error."""
    return f"(_ for _ in ()).throw(RuntimeError({expression}))"


def _process_group_alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process is in the group."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def test_corrupt_joblib_file(artifacts, sandbox, tmp_path):
    data = bytearray(artifacts["joblib"].path.read_bytes())
    data[20:60] = b"\xff" * 40
    path = tmp_path / "corrupt.joblib"
    path.write_bytes(bytes(data))

    result = sandbox(path, "joblib")

    assert result["ok"] is False
    assert result["stage"] == "load"
    assert result["error"].startswith("LoadError: could not load the joblib file")


def test_predict_that_raises(sandbox, tmp_path):
    path = tmp_path / "raises.py"
    path.write_text(
        "class Broken:\n"
        "    def predict(self, frame):\n"
        "        raise ValueError('column b must be positive')\n"
    )

    result = sandbox(path, "python_source")

    assert result == {"ok": False, "stage": "predict", "error": "ValueError: column b must be positive"}


def test_model_that_never_finishes_is_stopped_with_its_whole_process_group(sandbox, tmp_path):
    path = tmp_path / "sleeps.py"
    path.write_text(
        "import os, subprocess, sys, time\n"
        "class Sleeper:\n"
        "    def __init__(self):\n"
        "        helper = subprocess.Popen(['sleep', '300'])\n"
        "        print(f'PGID={os.getpgrp()} HELPER={helper.pid}', file=sys.stderr, flush=True)\n"
        "        time.sleep(3600)\n"
        "    def predict(self, frame):\n"
        "        return [0] * len(frame)\n"
    )

    started = time.monotonic()
    result = sandbox(path, "python_source", timeout_seconds=5)

    assert time.monotonic() - started < 15
    assert result["ok"] is False
    assert result["stage"] == "timeout"
    assert "did not finish within 5 s" in result["error"]
    pgid, helper = map(int, re.search(r"PGID=(\d+) HELPER=(\d+)", result["error"]).groups())
    assert not _process_group_alive(pgid)
    assert not Path(f"/proc/{helper}").exists() or "Z" in Path(f"/proc/{helper}/stat").read_text().split()[2]


def test_pickle_that_allocates_too_much_memory(sandbox, tmp_path):
    path = tmp_path / "greedy.pkl"
    path.write_bytes(pickle.dumps(Allocates8GB()))

    result = sandbox(path, "pickle", memory_mb=1024)

    assert result["ok"] is False
    assert result["stage"] == "crashed"
    assert "memory limit of 1024 MB" in result["error"]


def test_model_burning_cpu_hits_the_cpu_limit(sandbox, tmp_path):
    path = tmp_path / "spins.py"
    path.write_text("class Spinner:\n    def predict(self, frame):\n        while True:\n            pass\n")

    result = sandbox(path, "python_source", cpu_seconds=3, timeout_seconds=30)

    assert result["ok"] is False
    assert result["stage"] == "crashed"
    assert "CPU limit of 3 s" in result["error"]


@pytest.fixture
def root_only_secret():
    """A file only root may read, in a directory anyone may enter (so only the file's mode protects
    it), outside /tmp (which the sandbox replaces with its own when it can)."""
    directory = tempfile.mkdtemp(prefix="modelyard-secret-", dir=PROJECT_ROOT / "var")
    os.chmod(directory, 0o755)
    path = Path(directory) / ".env"
    path.write_text("SECRET-VALUE-8d1f")
    os.chmod(path, 0o600)
    yield path
    shutil.rmtree(directory)


def test_pickle_sees_a_clean_environment_as_an_unprivileged_user(sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("DJANGO_SECRET_KEY", "topsecret")
    monkeypatch.setenv("DATABASE_URL", "postgres://user:dbpassword@db/modelyard")
    spy = "repr({'uid': __import__('os').getuid(), 'env': dict(__import__('os').environ)})"
    path = tmp_path / "env.pkl"
    path.write_bytes(pickle.dumps(Evaluates(_raise_with(spy))))

    result = sandbox(path, "pickle")

    text = json.dumps(result)
    assert result["ok"] is False
    assert result["stage"] == "load"
    assert "topsecret" not in text and "dbpassword" not in text
    seen = ast.literal_eval(re.search(r"RuntimeError: (\{.*\})\)", result["error"]).group(1))
    assert seen["uid"] == (pwd.getpwnam("nobody").pw_uid if SWITCHES else os.getuid())
    passed = {"PATH", "LANG", "HOME", "TMPDIR", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE"}
    passed |= {"MODELYARD_SANDBOX_USER", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"}
    passed |= {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"}
    set_in_the_child = {"LC_CTYPE", "KMP_DUPLICATE_LIB_OK", "KMP_INIT_AT_FORK"}  # by Python and scikit-learn
    assert set(seen["env"]) - passed - set_in_the_child == set()
    assert seen["env"]["HOME"] == seen["env"]["TMPDIR"]
    assert seen["env"]["HOME"].startswith(tempfile.gettempdir())


@pytest.mark.skipif(
    not SWITCHES, reason="the child can switch to 'nobody' only as root, with packages it can reach"
)
def test_pickle_cannot_read_root_only_files(sandbox, tmp_path, monkeypatch, root_only_secret):
    monkeypatch.setenv("DJANGO_SECRET_KEY", "topsecret")
    expression = (
        f"__import__('os').environ.get('DJANGO_SECRET_KEY') or open({str(root_only_secret)!r}).read()"
    )
    path = tmp_path / "thief.pkl"
    path.write_bytes(pickle.dumps(Evaluates(_raise_with(expression))))

    result = sandbox(path, "pickle")

    text = json.dumps(result)
    assert result["ok"] is False
    assert "topsecret" not in text and "SECRET-VALUE" not in text
    assert "PermissionError" in result["error"]


def _symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize(
    ("member", "problem"),
    [
        ("../evil.txt", "climbs out of it with '..'"),
        (_symlink("model/link"), "is a symbolic link"),
        ("/tmp/modelyard-evil-absolute.txt", "has an absolute path"),
    ],
    ids=["dotdot", "symlink", "absolute"],
)
def test_mlflow_zip_with_a_dangerous_member_is_refused(member, problem, pipeline, sandbox, tmp_path):
    name = member.filename if isinstance(member, zipfile.ZipInfo) else member
    path = write_mlflow_zip(
        tmp_path / "model.zip", "model/", pickle.dumps(pipeline), extra=[(member, b"/etc")]
    )
    before = set(os.listdir(tempfile.gettempdir()))

    result = sandbox(path, "mlflow_zip", mlflow_root="model/")

    assert result["ok"] is False
    assert result["stage"] == "load"
    assert result["error"] == f"LoadError: refusing to extract the zip: member '{name}' {problem}"
    assert not Path("/tmp/modelyard-evil-absolute.txt").exists()
    assert not [n for n in set(os.listdir(tempfile.gettempdir())) - before if "evil" in n or "link" in n]


def test_skops_type_outside_the_policy_is_refused(artifacts, sandbox):
    result = sandbox(artifacts["skops_tree_allowed"].path, "skops", trusted_types=["numpy.ndarray"])

    assert result["ok"] is False
    assert result["stage"] == "load"
    assert "does not allow: sklearn.tree._tree.Tree" in result["error"]


def test_truncated_onnx_file(artifacts, sandbox, tmp_path):
    data = artifacts["onnx_zipmap"].path.read_bytes()
    path = tmp_path / "truncated.onnx"
    path.write_bytes(data[: len(data) // 2])

    result = sandbox(path, "onnx")

    assert result["ok"] is False
    assert result["stage"] == "load"
    assert result["error"].startswith("LoadError: could not load the onnx file")
