"""Model code in the sandbox has no network and sees no file but its own inputs, whichever isolation
layer is in force; without any, formats that run code are refused and the code-free ones still run.
The integration tests (tests/integration/packaging/test_hostile_model.py) do the same through real
package builds against the real services."""

import ast
import json
import os
import pickle
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from apps.packaging.sandbox import confinement as confinement_module
from apps.packaging.sandbox.confinement import SETTING, confinement, mount_plan
from apps.packaging.sandbox.process import CODE_FREE_FORMATS, run_in_sandbox
from apps.registry.formats import SAFE_FORMATS
from tests.unit.packaging.conftest import COLUMNS, PROJECT_ROOT
from tests.unit.packaging.helpers import Evaluates, Listener, passable_by, sandbox_request

POSTGRES_SOCKET = "/var/run/postgresql/.s.PGSQL.5432"  # a local service's socket file, if there is one
STOPPED = "tried to open a network connection (a socket or io_uring) and was stopped"


def _layer_works(layer: str) -> bool:
    os.environ[SETTING] = layer
    try:
        found = confinement()
    finally:
        del os.environ[SETTING]
    return found.namespaces if layer == "namespaces" else found.seccomp is not None


NAMESPACES = _layer_works("namespaces")
SECCOMP = _layer_works("seccomp")
needs_namespaces = pytest.mark.skipif(not NAMESPACES, reason="no network namespace can be made here")
needs_seccomp = pytest.mark.skipif(not SECCOMP, reason="seccomp (libseccomp) is not available here")


@pytest.fixture
def listeners():
    found = {"tcp": Listener(), "udp": Listener(socket.SOCK_DGRAM)}
    yield found
    for listener in found.values():
        listener.close()


def _run(tmp_path, expression: str, fmt: str = "pickle", **options) -> dict:
    sample = tmp_path / "sample.pkl"
    if not sample.exists():
        import pandas as pd

        pd.DataFrame({c: [0.0, 1.0] for c in COLUMNS}).to_pickle(sample)
    artifact = tmp_path / "model.pkl"
    artifact.write_bytes(pickle.dumps(Evaluates(expression)))
    request = sandbox_request(artifact, fmt, sample, COLUMNS, repeats=1)
    return run_in_sandbox(request, project_root=str(PROJECT_ROOT), timeout_seconds=60, **options)


def _raise_with(expression: str) -> str:
    return f"(_ for _ in ()).throw(RuntimeError({expression}))"


def _reported(result: dict):
    """What the model put in the RuntimeError it raised."""
    assert result["stage"] == "load", result
    found = re.search(r"RuntimeError: (.*)\); it is corrupt", result["error"], re.DOTALL)
    assert found, result
    return ast.literal_eval(found.group(1))


# Each attempt in its own try, as an attacker would write it: the outcome of each, by name.
ATTEMPTS = """
import socket, urllib.request
found = {}
def attempt(name, action):
    try:
        found[name] = 'reached: ' + repr(action())[:80]
    except OSError as exc:
        found[name] = type(exc).__name__ + ': ' + str(exc)[:80]
attempt('tcp', lambda: socket.create_connection(('127.0.0.1', TCP_PORT), timeout=3).close())
attempt('http', lambda: urllib.request.urlopen('http://127.0.0.1:%d/' % TCP_PORT, timeout=3).status)
attempt('udp', lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', UDP_PORT)))
attempt('dns', lambda: socket.getaddrinfo('pypi.org', 443))
attempt('ipv6', lambda: socket.create_connection(('::1', 6379), timeout=3).close())
attempt('unix', lambda: socket.socket(socket.AF_UNIX).connect(POSTGRES_SOCKET))
raise RuntimeError(repr(found))
"""


def _attempts(listeners) -> str:
    code = ATTEMPTS.replace("TCP_PORT", str(listeners["tcp"].port))
    return code.replace("UDP_PORT", str(listeners["udp"].port)).replace(
        "POSTGRES_SOCKET", repr(POSTGRES_SOCKET)
    )


@pytest.mark.parametrize("layers", ["auto", "seccomp"])
def test_a_network_attempt_stops_the_model(layers, listeners, tmp_path, monkeypatch):
    if not SECCOMP:
        pytest.skip("seccomp (libseccomp) is not available here")
    monkeypatch.setenv(SETTING, layers)

    result = _run(tmp_path, f"exec({_attempts(listeners)!r}, {{}})")

    assert result == {
        "ok": False,
        "stage": "crashed",
        "error": f"the sandbox process crashed: it {STOPPED}: model code gets no network",
    }
    assert listeners["tcp"].reached == 0 and listeners["udp"].reached == 0


@needs_namespaces
def test_in_its_own_network_namespace_every_attempt_fails(listeners, tmp_path, monkeypatch):
    """The namespace alone (no seccomp): nothing is reachable, so each attempt fails on its own."""
    monkeypatch.setenv(SETTING, "namespaces")

    found = _reported(_run(tmp_path, f"exec({_attempts(listeners)!r}, {{}})"))

    assert set(found) == {"tcp", "http", "udp", "dns", "ipv6", "unix"}
    assert found["tcp"].startswith("OSError: [Errno 101] Network is unreachable"), found
    assert found["http"].startswith("URLError"), found
    assert found["udp"].startswith("OSError: [Errno 101] Network is unreachable"), found
    assert found["dns"].startswith("gaierror"), found
    assert found["ipv6"].startswith("OSError: [Errno 101]") or "Cannot assign" in found["ipv6"], found
    # /run is an empty folder of the sandbox's own: no service's socket file is there.
    assert found["unix"].startswith("FileNotFoundError"), found
    assert not any(outcome.startswith("reached") for outcome in found.values())
    assert listeners["tcp"].reached == 0 and listeners["udp"].reached == 0


@needs_seccomp
def test_seccomp_refuses_unix_sockets_and_datagram_pairs(tmp_path, monkeypatch):
    monkeypatch.setenv(SETTING, "seccomp")
    code = ATTEMPTS.split("attempt('tcp'")[0] + (
        "attempt('unix', lambda: socket.socket(socket.AF_UNIX).connect(POSTGRES_SOCKET))\n"
        "attempt('dgram pair', lambda: socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM))\n"
        "attempt('stream pair', lambda: [s.close() for s in socket.socketpair()])\n"
        "raise RuntimeError(repr(found))\n"
    ).replace("POSTGRES_SOCKET", repr(POSTGRES_SOCKET))

    found = _reported(_run(tmp_path, f"exec({code!r}, {{}})"))

    assert found["unix"].startswith("PermissionError"), found
    assert found["dgram pair"].startswith("PermissionError"), found
    assert found["stream pair"] == "reached: [None, None]"  # what multiprocessing and asyncio use


@pytest.mark.parametrize("layers", ["auto", "namespaces", "seccomp"])
def test_a_real_model_loads_and_scores_under_each_layer(layers, artifacts, sandbox, monkeypatch):
    if (layers == "namespaces" and not NAMESPACES) or (layers == "seccomp" and not SECCOMP):
        pytest.skip(f"{layers} is not available here")
    monkeypatch.setenv(SETTING, layers)
    for name in ("pickle", "joblib", "onnx_zipmap", "mlflow_zip", "python_source"):
        artifact = artifacts[name]

        result = sandbox(artifact.path, artifact.fmt, mlflow_root=artifact.mlflow_root)

        assert result["ok"], (name, result)
        assert result["predictions"] == artifact.predictions.tolist()
        assert result["isolation"] == confinement().describe()


def test_without_isolation_code_running_formats_are_refused_and_safe_ones_run(
    artifacts, sandbox, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv(SETTING, "none")
    marker = Path(tempfile.mkdtemp(prefix="modelyard-refused-", dir=PROJECT_ROOT / "var"))
    marker.chmod(0o777)
    try:
        refused = _run(tmp_path, f"open({str(marker / 'ran')!r}, 'w')")
        assert not (marker / "ran").exists()  # no child was started: nothing of the file ran
    finally:
        (marker / "ran").unlink(missing_ok=True)
        marker.rmdir()

    assert refused["ok"] is False and refused["stage"] == "sandbox"
    assert refused["error"].startswith(
        "refused to load the pickle file: loading it runs code from the file, and this worker cannot "
        "cut that code off the network (isolation: none (namespaces: not tried "
        f"({SETTING}=none); seccomp: not tried ({SETTING}=none)))"
    )
    assert "Export the model as ONNX, skops, XGBoost or LightGBM" in refused["error"]
    assert "packaging sandbox: refused to load the pickle file" in caplog.text
    for name in ("joblib", "python_source", "mlflow_zip"):
        result = sandbox(artifacts[name].path, artifacts[name].fmt, mlflow_root=artifacts[name].mlflow_root)
        assert result["stage"] == "sandbox" and "refused" in result["error"], name
    for name in ("onnx_zipmap", "skops_tree_allowed", "xgboost_json_binary", "lightgbm_text"):
        artifact = artifacts[name]

        result = sandbox(artifact.path, artifact.fmt, trusted_types=list(artifact.trusted_types))

        assert result["ok"], (name, result)
        assert result["isolation"].startswith("none")


def test_the_code_free_formats_are_the_registrys_safe_formats():
    assert CODE_FREE_FORMATS == SAFE_FORMATS


def test_an_unknown_setting_tries_nothing(monkeypatch):
    monkeypatch.setenv(SETTING, "namespace")  # a typo: refusing is the safe reading

    found = confinement()

    assert not found.cuts_network
    assert found.describe().startswith("none (namespaces: not tried")


def test_the_model_inherits_no_file_descriptor(tmp_path):
    """The worker holds sockets (broker, database) and files; the model gets only its own three
    standard streams, the answer's, and what it opens itself."""
    secret = open(PROJECT_ROOT / "pyproject.toml", "rb")  # noqa: SIM115 - held open during the run
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    for fd in (secret.fileno(), server.fileno()):
        os.set_inheritable(fd, True)  # even descriptors marked inheritable
    listing = (
        "import os\n"
        "found = {}\n"
        "for fd in os.listdir('/proc/self/fd'):\n"
        "    try:\n"
        "        found[fd] = os.readlink(f'/proc/self/fd/{fd}')\n"
        "    except OSError:\n"
        "        found[fd] = 'closed'  # the listing's own, gone once listed\n"
        "raise RuntimeError(repr(found))\n"
    )
    try:
        found = _reported(_run(tmp_path, f"exec({listing!r}, {{}})"))
    finally:
        secret.close()
        server.close()

    workdir = os.path.dirname(found["0"])
    assert os.path.basename(workdir).startswith("modelyard-sandbox-")
    assert found["0"] == f"{workdir}/request.json"
    assert found["1"] == found["2"] == f"{workdir}/stderr"  # the model's prints go to stderr
    own = {f"{workdir}/stdout", f"{workdir}/artifact.pkl"}  # the answer, and the file being unpickled
    others = sorted(target for fd, target in found.items() if fd not in ("0", "1", "2"))
    assert others == sorted([*own, "closed"]), found


LOOKS_AROUND = """
import os
def read(path):
    try:
        return open(path).read() if os.path.isfile(path) else sorted(os.listdir(path))
    except OSError as exc:
        return type(exc).__name__
found = {'tmp': sorted(os.listdir('/tmp')), 'shm': os.listdir('/dev/shm'), 'run': os.listdir('/run')}
found['reads'] = {path: read(path) for path in PATHS}
raise RuntimeError(repr(found))
"""


def _first_below(folder: str, path: str) -> str | None:
    """The name of the entry of ``folder`` that ``path`` lies in, if it lies in it."""
    relative = os.path.relpath(os.path.realpath(path), os.path.realpath(folder))
    return None if relative.startswith("..") else relative.split(os.sep)[0]


@needs_namespaces
def test_hidden_paths_and_other_sandboxes_are_out_of_sight(tmp_path):
    """Even files anyone may read: the platform's are covered, and /tmp holds the model's own folder only."""
    platform = Path(tempfile.mkdtemp(prefix="modelyard-platform-", dir=PROJECT_ROOT / "var"))
    other = Path(tempfile.mkdtemp(prefix="modelyard-sandbox-"))  # another build's inputs
    state, database = platform / "deployments", platform / "modelyard.sqlite3"
    try:
        state.mkdir()
        for path in (state / "secret.txt", database, other / "secret.txt"):
            path.write_text("TEAM-A-SECRET")
            path.chmod(0o644)
        for folder in (platform, state, other):
            folder.chmod(0o755)
        paths = [str(state), str(state / "secret.txt"), str(database), str(other / "secret.txt")]
        code = LOOKS_AROUND.replace("PATHS", repr(paths))

        result = _run(tmp_path, f"exec({code!r}, {{}})", hidden_paths=[str(state), str(database)])
    finally:
        for path in (state / "secret.txt", database, other / "secret.txt"):
            path.unlink()
        for folder in (state, platform, other):
            folder.rmdir()

    assert "TEAM-A-SECRET" not in json.dumps(result)
    found = _reported(result)
    # Besides its own folder, only the way to the project when the project itself is under /tmp
    # (a fresh clone in CI): what the child runs on is bound back in.
    ways_in = {_first_below(tempfile.gettempdir(), path) for path in (str(PROJECT_ROOT), sys.prefix)} - {None}
    own = [name for name in found["tmp"] if name not in ways_in]
    assert len(own) == 1 and own[0].startswith("modelyard-sandbox-"), found
    assert other.name not in found["tmp"]
    assert found["shm"] == [] and found["run"] == []
    assert found["reads"] == {
        str(state): "PermissionError",  # an empty filesystem nobody may enter
        str(state / "secret.txt"): "PermissionError",
        str(database): "PermissionError",  # an empty file nobody may read
        str(other / "secret.txt"): "FileNotFoundError",  # not in the model's own /tmp
    }


@pytest.mark.skipif(os.geteuid() != 0, reason="only root has capabilities to drop")
def test_a_child_that_stays_root_gives_up_every_capability():
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from apps.packaging.sandbox.isolation import drop_capabilities\n"
        "drop_capabilities()\n"
        "lines = open('/proc/self/status').read().splitlines()\n"
        "status = dict(line.split(':\\t') for line in lines if ':\\t' in line)\n"
        "print({k: status[k] for k in ('CapEff', 'CapPrm', 'CapBnd', 'NoNewPrivs')})\n"
        "import ctypes; libc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.unshare(0x40000000), ctypes.get_errno())\n"  # a new network namespace needs CAP_SYS_ADMIN
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(PROJECT_ROOT)], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    status, unshare = result.stdout.splitlines()
    zero = "0000000000000000"
    assert ast.literal_eval(status) == {"CapEff": zero, "CapPrm": zero, "CapBnd": zero, "NoNewPrivs": "1"}
    assert unshare == "-1 1"  # EPERM


def test_the_probe_reports_a_layer_that_fails(monkeypatch):
    def no_libseccomp():
        raise RuntimeError("Unable to find libseccomp")  # what pyseccomp raises on import without it

    monkeypatch.setattr(confinement_module, "_compile_filter", no_libseccomp)
    monkeypatch.setenv(SETTING, "seccomp")
    monkeypatch.setattr(confinement_module, "_PROBED", {})

    found = confinement()

    assert found.seccomp is None and not found.namespaces
    assert found.describe() == (
        f"none (namespaces: not tried ({SETTING}=seccomp); seccomp: Unable to find libseccomp)"
    )


# Run as a worker that is not root: confine a child of its own user, which then looks around.
NON_ROOT_WORKER = """
import json, os, subprocess, sys
sys.path.insert(0, sys.argv[1])
from apps.packaging.sandbox.confinement import confinement, confiner, mount_plan
os.environ["MODELYARD_SANDBOX_ISOLATION"] = "namespaces"
found = confinement()
if not found.namespaces:
    print(json.dumps({"unavailable": found.describe()}))
    raise SystemExit
secret, work, port = sys.argv[2], sys.argv[3], int(sys.argv[4])
plan = mount_plan(hidden=[os.path.dirname(secret)], keep=[sys.argv[1], sys.prefix, work], workdir=work)
child = subprocess.run(
    [sys.executable, "-c", sys.argv[5], secret, str(port)],
    preexec_fn=confiner(found, plan), capture_output=True, text=True,
)
print(child.stdout or child.stderr)
"""
LOOKS_AS_ITS_OWN_USER = """
import ctypes, json, os, socket, sys
found = {"uid": os.getuid()}
for name, action in (
    ("read", lambda: open(sys.argv[1]).read()),
    ("tcp", lambda: socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=3)),
):
    try:
        found[name] = "reached: " + repr(action())
    except OSError as exc:
        found[name] = type(exc).__name__
libc = ctypes.CDLL(None, use_errno=True)
found["umount"] = (libc.umount2(os.path.dirname(sys.argv[1]).encode(), 2), ctypes.get_errno())
status = dict(line.split(":\\t") for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)
found["CapEff"] = status["CapEff"]
print(json.dumps(found))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="plays a non-root worker by switching to 'nobody'")
def test_a_worker_that_is_not_root_confines_its_child_in_a_user_namespace(listeners):
    """The worker's own user, in a user namespace mapping only that user: no network, the
    platform's folder covered although that user owns it, and no capability to uncover it."""
    import pwd
    import shutil

    from tests.unit.packaging.test_isolation_non_root import _become, _unprivileged_python

    found = _unprivileged_python()
    if found is None:
        pytest.skip("no unprivileged user can run a Python interpreter here")
    user, python = found
    nobody = pwd.getpwnam(user)
    platform = Path(tempfile.mkdtemp(prefix="modelyard-platform-", dir=PROJECT_ROOT / "var"))
    work = Path(tempfile.mkdtemp(prefix="modelyard-sandbox-"))
    try:
        (platform / "media").mkdir()
        secret = platform / "media" / "artifact.pkl"
        secret.write_text("TEAM-A-SECRET")
        for path in (platform, platform / "media", secret, work):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        platform.chmod(0o755)
        with passable_by(nobody, PROJECT_ROOT):  # a fresh clone under mktemp -d is root's only
            out = subprocess.run(
                [python, "-c", NON_ROOT_WORKER, str(PROJECT_ROOT), str(secret), str(work)]
                + [str(listeners["tcp"].port), LOOKS_AS_ITS_OWN_USER],
                capture_output=True,
                text=True,
                timeout=60,
                cwd=work,
                env={"PATH": "/usr/bin:/bin"},
                preexec_fn=lambda: _become(user),
            )
        assert out.returncode == 0, out.stderr
        assert secret.read_text() == "TEAM-A-SECRET"  # readable by that user outside the sandbox
    finally:
        shutil.rmtree(platform)
        shutil.rmtree(work)

    result = json.loads(out.stdout)
    if "unavailable" in result:
        pytest.skip(f"no user namespace for a non-root user here: {result['unavailable']}")
    assert result == {
        "uid": nobody.pw_uid,
        "read": "PermissionError",
        "tcp": "OSError",  # ENETUNREACH
        "umount": [-1, 1],  # EPERM: exec took the namespace's capabilities away
        "CapEff": "0000000000000000",
    }
    assert listeners["tcp"].reached == 0


def test_the_mount_plan_hides_the_platform_but_not_what_the_child_runs_on(tmp_path):
    project = tmp_path / "project"
    var = project / "var"
    for folder in ("media", "deployments", "patch-envs/patch-3/patched/bin"):
        (var / folder).mkdir(parents=True)
    (var / "modelyard.sqlite3").write_text("")
    workdir = tmp_path / "modelyard-sandbox-1"
    workdir.mkdir()
    patched = var / "patch-envs" / "patch-3" / "patched"

    plan = mount_plan(
        hidden=[*map(str, var.iterdir()), str(tmp_path / "absent")],
        keep=[str(workdir), str(project), str(patched)],
        workdir=str(workdir),
    )

    assert sorted(plan.hide_dirs) == [str(var / "deployments"), str(var / "media")]  # not patch-envs
    assert plan.hide_files == (str(var / "modelyard.sqlite3"),)
    assert Path(plan.placeholder).parent == workdir and os.stat(plan.placeholder).st_mode & 0o777 == 0
    # Under the fresh /tmp, the outermost of what the child needs is bound back.
    assert plan.keep == (str(workdir), str(project))
