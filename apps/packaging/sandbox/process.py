"""The parent side of the sandbox: run one request in a fresh, resource-limited child process and turn
whatever happens to it (answer, timeout, crash) into a dict.

The child gets copies of its input files in a fresh temporary directory, an environment built from
scratch (no settings, database URLs or secrets), its own process group, limits on address space,
CPU time and file size, no network, and no view of the platform's files (confinement.py). Started as
root, it switches to ``SANDBOX_USER`` before it touches the model (privileges.py explains why that
happens in the child rather than here). Where the network cannot be cut, formats whose loading runs
code are refused before any child starts.
"""

import contextlib
import contextvars
import json
import logging
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from apps.packaging.sandbox.confinement import Confinement, confinement, confiner, mount_plan
from apps.packaging.sandbox.isolation import die_with_parent, forbid_inspection

log = logging.getLogger(__name__)

SANDBOX_USER = "nobody"
# Formats whose loading runs no code from the file (the registry's safe formats): the only ones
# loaded when the sandbox cannot be cut off the network.
CODE_FREE_FORMATS = frozenset({"skops", "onnx", "xgboost_json", "xgboost_ubj", "lightgbm_text"})
# Importing numpy, pandas, pyarrow and one framework and loading a small model takes 450-570 MB of address
# space (measured for sklearn, skops, ONNX, XGBoost, LightGBM); this leaves about 1.5 GB for the model.
DEFAULT_MEMORY_MB = 2048
FILE_SIZE_LIMIT = 512 * 1024**2
_RESPONSE_LIMIT = 256 * 1024**2
_COPIED_ENV = ("PATH", "LANG", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# How running out of address space shows in Python, C++, Arrow, glibc and thread start-up errors.
_MEMORY_SIGNS = (
    "MemoryError",
    "bad_alloc",
    "Cannot allocate memory",
    "failed to map segment",
    "malloc of size",
    "Failed to launch worker thread",
    "pthread_create failed",
    "out of memory",
)
_INPUTS = {"artifact": "artifact", "sample": "sample.pkl", "null_sample": "null_sample.pkl"}
# The interpreter the child runs on when a call names none: the worker's own, unless a caller (the
# library patch flow) runs a whole package build inside another environment with ``interpreter()``.
_PYTHON: contextvars.ContextVar[str | None] = contextvars.ContextVar("sandbox_python", default=None)


@contextlib.contextmanager
def interpreter(python: str):
    """Within this block, sandboxed children run on ``python`` (e.g. a patched virtual environment's)."""
    token = _PYTHON.set(python)
    try:
        yield
    finally:
        _PYTHON.reset(token)


def run_in_sandbox(
    request: dict,
    *,
    memory_mb: int = DEFAULT_MEMORY_MB,
    cpu_seconds: int = 120,
    timeout_seconds: float = 180,
    project_root: str,
    python: str | None = None,
    hidden_paths: tuple[str, ...] | list[str] = (),
) -> dict:
    """Run ``request`` (see runner.py for its keys and the response) in a sandboxed child process.
    Never raises for anything the model does; returns {"ok": false, "stage": ..., "error": ...}.
    ``python`` is the interpreter to run on (default: the one set by ``interpreter()``, else this one);
    ``hidden_paths`` are the platform's files and folders, which the child must not see."""
    confined = confinement()
    refusal = _refusal(request.get("format"), confined)
    if refusal:
        log.error("packaging sandbox: %s", refusal)
        return {"ok": False, "stage": "sandbox", "error": refusal}
    workdir = tempfile.mkdtemp(prefix="modelyard-sandbox-")
    try:
        try:
            child_request = _stage_inputs(request, workdir)
        except KeyError as exc:
            return {"ok": False, "stage": "request", "error": f"the request lacks {exc}"}
        except OSError as exc:
            return {
                "ok": False,
                "stage": "request",
                "error": f"cannot copy the inputs into the sandbox: {exc}",
            }
        executable = python or _PYTHON.get() or sys.executable
        plan = mount_plan(
            hidden=[*hidden_paths, os.path.expanduser("~")],
            keep=_needed_paths(workdir, project_root, executable),
            workdir=workdir,
        )
        limits = (memory_mb, cpu_seconds, timeout_seconds)
        response = _run_child(
            child_request, workdir, limits, project_root, executable, confiner(confined, plan)
        )
        if response.get("ok"):  # beside runs_as: what the model ran under
            response["isolation"] = confined.describe()
        return response
    finally:
        _remove_tree(workdir)


def _refusal(fmt, confined: Confinement) -> str:
    if confined.cuts_network or fmt in CODE_FREE_FORMATS:
        return ""
    return (
        f"refused to load the {fmt} file: loading it runs code from the file, and this worker cannot "
        f"cut that code off the network (isolation: {confined.describe()}). Export the model as ONNX, "
        "skops, XGBoost or LightGBM, or run the packaging worker where network namespaces or seccomp "
        "are available (docs/adr/0003-sandbox.md)"
    )


def _needed_paths(workdir: str, project_root: str, python: str) -> list[str]:
    """What the child runs on: its folder, the code, and the environments of its interpreter and
    of this one (a patched environment layers on this one's packages)."""
    environments = {os.path.dirname(os.path.dirname(p)) for p in (python, os.path.realpath(python))}
    return [workdir, project_root, sys.prefix, sys.base_prefix, *environments]


def _stage_inputs(request: dict, workdir: str) -> dict:
    """Copy the input files where the unprivileged child can read them; return the rewritten request."""
    os.chmod(workdir, 0o755)
    child_request = dict(request)
    for key, name in _INPUTS.items():
        source = request.get(key) if key == "null_sample" else request[key]
        if key == "sample" and source is None:  # a session sends its samples later, one by one
            continue
        if not source:
            continue
        if key == "artifact":
            name += Path(source).suffix
        target = os.path.join(workdir, name)
        shutil.copyfile(source, target)
        os.chmod(target, 0o644)
        child_request[key] = target
    return child_request


def _run_child(request, workdir, limits, project_root, python, confine) -> dict:
    memory_mb, cpu_seconds, timeout_seconds = limits
    scratch = os.path.join(workdir, "home")  # HOME and TMPDIR: the only place the child may write
    os.mkdir(scratch, 0o700)  # the child hands it to SANDBOX_USER when it switches to that user
    env = _child_env(scratch, project_root)
    forbid_inspection()  # the worker usually did already; a direct caller (a test, a shell) too
    paths = {name: os.path.join(workdir, name) for name in ("request.json", "stdout", "stderr")}
    Path(paths["request.json"]).write_text(json.dumps(request), encoding="utf-8")

    with (
        open(paths["request.json"], "rb") as stdin,
        open(paths["stdout"], "wb") as stdout,
        open(paths["stderr"], "wb") as stderr,
    ):
        # Files, not pipes: a child (or a grandchild that left the group) cannot block us on a full pipe.
        # Popen closes every other descriptor: the child inherits nothing but these three.
        try:
            child = subprocess.Popen(
                [python, "-P", "-m", "apps.packaging.sandbox.runner"],
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                cwd=workdir,
                env=env,
                start_new_session=True,
                close_fds=True,
                preexec_fn=_limiter(memory_mb, cpu_seconds, os.getpid(), confine),
            )
        except (OSError, subprocess.SubprocessError) as exc:  # nothing of the model ran
            return {
                "ok": False,
                "stage": "sandbox",
                "error": f"the sandbox could not be started ({exc})" + _last_lines(paths["stderr"]),
            }
        try:
            child.wait(timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            _kill_group(child.pid)
            child.wait()
            return {
                "ok": False,
                "stage": "timeout",
                "error": f"the model did not finish within {timeout_seconds:g} s and was stopped"
                + _last_lines(paths["stderr"]),
            }
        finally:
            _kill_group(child.pid)  # anything the model left running in the group
    return _interpret(child.returncode, paths, memory_mb, cpu_seconds)


def _limiter(memory_mb: int, cpu_seconds: int, parent_pid: int, confine):
    def apply_limits() -> None:  # runs in the child between fork and exec
        die_with_parent(parent_pid)
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 1024**2,) * 2)
        # The soft limit sends SIGXCPU; the hard one, a second later, SIGKILL if that was caught.
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT,) * 2)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        confine()
        die_with_parent(parent_pid)  # again: entering a user namespace may have cleared it

    return apply_limits


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _interpret(returncode: int, paths: dict, memory_mb: int, cpu_seconds: int) -> dict:
    with open(paths["stdout"], "rb") as fileobj:
        output = fileobj.read(_RESPONSE_LIMIT)
    try:
        response = json.loads(output)
    except ValueError:
        response = None
    if isinstance(response, dict) and "ok" in response:
        return response if response["ok"] else _memory_answer(response, memory_mb)
    return {
        "ok": False,
        "stage": "crashed",
        "error": _crash_reason(returncode, paths, memory_mb, cpu_seconds),
    }


def _crash_reason(returncode: int, paths: dict, memory_mb: int, cpu_seconds: int) -> str:
    tail = _last_lines(paths["stderr"])
    memory = f"the memory limit of {memory_mb} MB"
    if returncode == -signal.SIGSYS:
        reason = (
            "it tried to open a network connection (a socket or io_uring) and was stopped: "
            "model code gets no network"
        )
    elif returncode == -signal.SIGXCPU:
        reason = f"it was stopped at the CPU limit of {cpu_seconds} s"
    elif returncode == -signal.SIGKILL:
        reason = f"it was killed (SIGKILL): the CPU limit of {cpu_seconds} s or the system ran out of memory"
    elif returncode == -signal.SIGXFSZ:
        reason = f"it wrote a file larger than the limit of {FILE_SIZE_LIMIT // 1024**2} MB"
    elif any(sign in tail for sign in _MEMORY_SIGNS):
        reason = f"it ran out of memory: it needs more than {memory}"
    elif returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else -returncode
        reason = f"it died from signal {name}, often a native library failing to allocate under {memory}"
    else:
        reason = f"it exited with code {returncode} without a response"
    return f"the sandbox process crashed: {reason}" + tail


def _last_lines(path: str, lines: int = 12, limit: int = 4096) -> str:
    """The end of the child's stderr, to show with an error ('' when it wrote nothing)."""
    with open(path, "rb") as fileobj:
        fileobj.seek(max(0, os.fstat(fileobj.fileno()).st_size - limit))
        text = fileobj.read().decode("utf-8", errors="replace").strip()
    return ("; last output: " + " | ".join(text.splitlines()[-lines:])) if text else ""


def _remove_tree(path: str) -> None:
    if os.geteuid() != 0:
        # Same user as the child, which may have made directories unreadable: open them up first
        # (never through a symlink, which could point anywhere).
        for root, dirs, _files in os.walk(path):
            for name in dirs:
                target = os.path.join(root, name)
                if not os.path.islink(target):
                    with contextlib.suppress(OSError):
                        os.chmod(target, 0o700)
    shutil.rmtree(path, ignore_errors=True)


# --- a session: one sandboxed model process scoring many samples ---------------------------------


class SandboxSession:
    """One sandboxed model process that loads the model once and scores sample after sample over
    a pipe (``runner --serve``), for work that scores many chunks with one model (batch jobs): the
    child's start-up, imports and model loading are paid once instead of per chunk.

    The child is confined exactly as ``run_in_sandbox``'s (same limits, namespaces, user, scratch
    folder, hidden platform files, parent-death signal, refusal of code-running formats where the
    network cannot be cut). Every answer is awaited for at most ``timeout_seconds``; a child that
    overruns is killed with its process group. The CPU limit counts over the child's life, so the
    session starts a fresh child once the current one has used half of it: a sample always has
    at least half the limit. Each sample's rows are a pickle the parent writes into the child's
    folder and removes after the answer; the parent never reads a file the child wrote.

    ``on_start`` is called with the number of starts so far whenever a child starts (a caller
    records it). Use as a context manager, or call ``close()``: the child is stopped either way."""

    def __init__(
        self,
        request: dict,
        *,
        memory_mb: int = DEFAULT_MEMORY_MB,
        cpu_seconds: int = 120,
        timeout_seconds: float = 180,
        project_root: str,
        python: str | None = None,
        hidden_paths: tuple[str, ...] | list[str] = (),
        on_start=None,
    ):
        self.request = request
        self.limits = (memory_mb, cpu_seconds, timeout_seconds)
        self.project_root = project_root
        self.python = python or _PYTHON.get() or sys.executable
        self.hidden_paths = list(hidden_paths)
        self.on_start = on_start
        self.starts = 0
        self.loaded: dict = {}  # the child's "ready" answer: framework, kind, classes, load_seconds
        self._child: subprocess.Popen | None = None
        self._workdir: str | None = None
        self._paths: dict = {}
        self._buffer = bytearray()
        self._cpu_used = 0.0
        self._samples = 0

    def __enter__(self) -> "SandboxSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def score(self, frame) -> dict:
        """The runner's answer for ``frame`` (a DataFrame of the model's columns): {"ok": True,
        "predictions", "probabilities", "classes", "latency_ms_per_row", ...} or {"ok": False,
        "stage", "error"}. After a failure the child is gone; the next call starts a new one."""
        memory_mb, cpu_seconds, timeout_seconds = self.limits
        if self._child is not None and self._cpu_used > cpu_seconds / 2:
            self.close()  # a fresh child before this one nears its lifetime CPU limit
        if self._child is None:
            failure = self._start()
            if failure is not None:
                return failure
        self._samples += 1
        sample = os.path.join(self._workdir, f"sample-{self._samples}.pkl")
        try:
            frame.to_pickle(sample)  # written here, by the parent: the runner's input format
            os.chmod(sample, 0o644)
            answer = self._ask({"sample": sample}, timeout_seconds)
        finally:
            with contextlib.suppress(OSError):
                os.remove(sample)
        if answer.get("ok"):
            self._cpu_used = float(answer.get("cpu_seconds") or 0.0)
            answer.setdefault("classes", self.loaded.get("classes"))
            answer["isolation"] = self.loaded.get("isolation")
        return answer

    def _start(self) -> dict | None:
        confined = confinement()
        refusal = _refusal(self.request.get("format"), confined)
        if refusal:
            log.error("packaging sandbox: %s", refusal)
            return {"ok": False, "stage": "sandbox", "error": refusal}
        self._workdir = tempfile.mkdtemp(prefix="modelyard-session-")
        try:
            child_request = _stage_inputs({**self.request, "sample": None}, self._workdir)
        except (KeyError, OSError) as exc:
            self.close()
            return {"ok": False, "stage": "request", "error": f"cannot prepare the sandbox: {exc}"}
        child_request.pop("sample", None)
        forbid_inspection()
        plan = mount_plan(
            hidden=[*self.hidden_paths, os.path.expanduser("~")],
            keep=_needed_paths(self._workdir, self.project_root, self.python),
            workdir=self._workdir,
        )
        memory_mb, cpu_seconds, timeout_seconds = self.limits
        scratch = os.path.join(self._workdir, "home")
        os.mkdir(scratch, 0o700)
        self._paths = {"stderr": os.path.join(self._workdir, "stderr")}
        try:
            with open(self._paths["stderr"], "wb") as stderr:
                # Pipes for the requests and answers (every read has a deadline); stderr is a file,
                # so a chatty model cannot block on it.
                self._child = subprocess.Popen(
                    [self.python, "-P", "-m", "apps.packaging.sandbox.runner", "--serve"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    cwd=self._workdir,
                    env=_child_env(scratch, self.project_root),
                    start_new_session=True,
                    close_fds=True,
                    preexec_fn=_limiter(memory_mb, cpu_seconds, os.getpid(), confiner(confined, plan)),
                )
        except (OSError, subprocess.SubprocessError) as exc:
            error = f"the sandbox could not be started ({exc})" + _last_lines(self._paths["stderr"])
            self.close()
            return {"ok": False, "stage": "sandbox", "error": error}
        self.starts += 1
        self._cpu_used = 0.0
        log.info("packaging sandbox: model process started (%s in this session)", self.starts)
        if self.on_start is not None:
            self.on_start(self.starts)
        ready = self._ask(child_request, timeout_seconds)
        if not ready.get("ok"):
            return ready
        self.loaded = {**ready, "isolation": confined.describe()}
        self._cpu_used = float(ready.get("cpu_seconds") or 0.0)
        return None

    def _ask(self, message: dict, timeout_seconds: float) -> dict:
        """Send one request line and read one answer line within the time-out; on a time-out, a
        crash or a broken answer the child is stopped and the reason returned."""
        child = self._child
        try:
            child.stdin.write(json.dumps(message).encode() + b"\n")
            child.stdin.flush()
            line = self._read_line(time.monotonic() + timeout_seconds)
        except TimeoutError:
            self.close()
            return {
                "ok": False,
                "stage": "timeout",
                "error": f"the model did not answer within {timeout_seconds:g} s and was stopped",
            }
        except (BrokenPipeError, OSError, ValueError):
            line = None
        if line is not None:
            try:
                answer = json.loads(line)
            except ValueError:
                answer = None
            if isinstance(answer, dict) and "ok" in answer:
                if not answer["ok"]:
                    answer = _memory_answer(answer, self.limits[0])
                    self.close()
                return answer
        return self._crashed()

    def _read_line(self, deadline: float) -> bytes | None:
        fd = self._child.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            data = os.read(fd, 1 << 20)
            if not data:
                return None  # the child is gone
            self._buffer += data
            if len(self._buffer) > _RESPONSE_LIMIT:
                raise ValueError("answer too large")
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        return line

    def _crashed(self) -> dict:
        child = self._child
        _kill_group(child.pid)
        child.wait()
        memory_mb, cpu_seconds, _ = self.limits
        error = _crash_reason(child.returncode, self._paths, memory_mb, cpu_seconds)
        self.close()
        return {"ok": False, "stage": "crashed", "error": error}

    def close(self) -> None:
        """Stop the child (and anything it left running in its group) and remove its folder."""
        child, self._child = self._child, None
        if child is not None:
            with contextlib.suppress(OSError):
                child.stdin.close()
            _kill_group(child.pid)
            child.wait()
            with contextlib.suppress(OSError):
                child.stdout.close()
        self._buffer = bytearray()
        if self._workdir is not None:
            _remove_tree(self._workdir)
            self._workdir = None


def _child_env(scratch: str, project_root: str) -> dict:
    env = {key: os.environ[key] for key in _COPIED_ENV if key in os.environ}
    env.update(
        HOME=scratch,
        TMPDIR=scratch,
        PYTHONPATH=str(project_root),
        PYTHONDONTWRITEBYTECODE="1",
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MODELYARD_SANDBOX_USER=SANDBOX_USER,
    )
    env.setdefault("LANG", "C.UTF-8")
    return env


def _memory_answer(answer: dict, memory_mb: int) -> dict:
    error = str(answer.get("error") or "")
    if any(sign in error for sign in _MEMORY_SIGNS):
        return {
            "ok": False,
            "stage": "crashed",
            "error": "the model ran out of memory: it needs more than the memory limit of "
            f"{memory_mb} MB (during {answer.get('stage')}: {error[:500]})",
        }
    return answer
