"""Cut the sandbox child off the network and off files that are not its own, between fork and exec.

Two layers, each tried once per process (``confinement()``) and then applied to every child:

- **namespaces**: a network namespace of its own, in which no interface is up (no address is
  reachable, loopback included), and a mount namespace in which the platform's own files (the var
  folder, media, ``.env``…) are covered by empty read-only filesystems and ``/tmp``, ``/dev/shm`` and
  ``/run`` by fresh empty ones (other builds' inputs, local services' sockets), with the child's
  own folder, interpreter and code bound back in. As root this is a plain ``unshare``; otherwise it
  happens in a user namespace of its own that maps only the worker's own user, so nothing gains a
  privilege outside it, and exec drops the ones it had inside.
- **seccomp**: a filter, compiled once with libseccomp (through pyseccomp) and loaded in the child
  with two prctl calls, that stops the child outright when it creates a socket of any family but
  ``AF_UNIX``, or an io_uring (which can open sockets by itself): an attempt ends the run, and the
  build, with a clear error. ``AF_UNIX`` sockets are refused (EACCES) rather than fatal: the C
  library asks nscd through one before reading /etc/passwd, and the sockets of local services,
  PostgreSQL's for one, are files that no network namespace hides. socketpair gives connected
  stream pairs only, and system calls of another architecture (32-bit, x32) stop the child.

Either layer alone cuts the network. With neither, the formats whose loading runs code are refused
(process.py), and the code-free formats still run. ``MODELYARD_SANDBOX_ISOLATION`` narrows what is
tried: ``auto`` (the default: both), ``namespaces``, ``seccomp``, or ``none`` (as if nothing worked,
to check the refusal).
"""

import ctypes
import errno
import logging
import os
import signal
import socket
import tempfile
from dataclasses import dataclass

from apps.packaging.sandbox.isolation import LIBC, checked, forbid_new_privileges

log = logging.getLogger(__name__)

SETTING = "MODELYARD_SANDBOX_ISOLATION"
LAYERS = ("namespaces", "seccomp")

_CLONE_NEWNS, _CLONE_NEWUSER, _CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
_MS_BIND, _MS_REC, _MS_PRIVATE = 0x1000, 0x4000, 0x40000
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2
# Replaced by empty filesystems of the child's own: what other processes leave there is not its.
_FRESH = (("/tmp", "mode=1777,size=512m"), ("/dev/shm", "mode=1777,size=256m"), ("/run", "mode=755,size=1m"))
_HIDDEN = b"mode=000,size=4k"


@dataclass(frozen=True)
class Confinement:
    """What this process can apply to a sandbox child."""

    namespaces: bool
    seccomp: bytes | None  # the compiled filter (classic BPF instructions) when seccomp works
    missing: tuple[str, ...] = ()  # why a layer is not in force

    @property
    def cuts_network(self) -> bool:
        return self.namespaces or self.seccomp is not None

    def describe(self) -> str:
        layers = [
            name
            for name, works in (
                ("network and mount namespaces", self.namespaces),
                ("seccomp socket filter", self.seccomp is not None),
            )
            if works
        ]
        return " + ".join(layers or ["none"]) + (f" ({'; '.join(self.missing)})" if self.missing else "")


@dataclass(frozen=True)
class MountPlan:
    """One child's mount namespace, worked out in the parent: nothing is looked up after the fork."""

    hide_dirs: tuple[str, ...] = ()  # covered by an empty read-only filesystem
    hide_files: tuple[str, ...] = ()  # covered by ``placeholder``, an empty file nobody may read
    placeholder: str = ""
    fresh: tuple[tuple[str, str], ...] = ()  # (mount point, tmpfs options)
    keep: tuple[str, ...] = ()  # folders under a fresh mount point, bound back in


_PROBED: dict[str, Confinement] = {}


def confinement() -> Confinement:
    """The layers that work here, probed once per process (and per value of the setting)."""
    wanted = os.environ.get(SETTING, "").strip().lower() or "auto"
    if wanted not in _PROBED:
        _PROBED[wanted] = found = _probe(wanted)
        if found.cuts_network:
            log.info("packaging sandbox isolation: %s", found.describe())
        else:
            log.warning(
                "packaging sandbox isolation: %s; models whose loading runs code (pickle, joblib, "
                "Python source, MLflow) will be refused",
                found.describe(),
            )
    return _PROBED[wanted]


def mount_plan(*, hidden, keep, workdir: str | None = None) -> MountPlan:
    """Hide ``hidden`` (files or folders that exist and hold nothing in ``keep``); give the child
    fresh ``/tmp``, ``/dev/shm`` and ``/run`` with whatever of ``keep`` lies there bound back in.
    Hidden files are covered by an empty, unreadable file made in ``workdir``."""
    keep = {os.path.abspath(p) for p in keep if p} | {os.path.realpath(p) for p in keep if p}
    dirs, files = [], []
    for path in dict.fromkeys(os.path.realpath(p) for p in hidden if p):
        if any(_within(path, k) for k in keep):
            continue  # hiding it would hide what the child runs on
        if os.path.isdir(path):
            dirs.append(path)
        elif os.path.isfile(path):
            files.append(path)
    placeholder = ""
    if files and workdir:
        placeholder = os.path.join(workdir, "hidden")
        os.close(os.open(placeholder, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0))
    fresh = tuple((point, options) for point, options in _FRESH if os.path.isdir(point))
    return MountPlan(
        hide_dirs=tuple(dirs),
        hide_files=tuple(files) if placeholder else (),
        placeholder=placeholder,
        fresh=fresh,
        keep=tuple(k for k in _outermost(keep) if any(_within(point, k) for point, _ in fresh)),
    )


def confiner(found: Confinement, plan: MountPlan):
    """The function that confines a child: run it between fork and exec. It raises OSError (after
    writing why to the child's stderr) when a layer that works in this process fails there."""
    owner = None if os.geteuid() == 0 else (os.getuid(), os.getgid())
    program = _program(found.seccomp) if found.seccomp is not None else None
    paths = _encoded(plan)

    def confine() -> None:
        try:
            forbid_new_privileges()
            if found.namespaces:
                _enter_namespaces(paths, owner)
            if program is not None:
                _load(program)
        except OSError as exc:
            os.write(2, f"could not isolate the sandbox: {exc}\n".encode())
            raise

    return confine


# --- in the child ---------------------------------------------------------------------------------


def _enter_namespaces(plan: MountPlan, owner: tuple[int, int] | None) -> None:
    """``plan``'s paths are bytes here (see _encoded)."""
    flags = _CLONE_NEWNET | _CLONE_NEWNS | (_CLONE_NEWUSER if owner else 0)
    checked(LIBC.unshare(flags), "unshare")
    if owner:
        uid, gid = owner
        _write(b"/proc/self/setgroups", b"deny")
        _write(b"/proc/self/uid_map", b"%d %d 1" % (uid, uid))
        _write(b"/proc/self/gid_map", b"%d %d 1" % (gid, gid))
    _mount(None, b"/", None, _MS_REC | _MS_PRIVATE)  # nothing mounted here shows outside
    kept = [os.open(path, os.O_PATH | os.O_DIRECTORY) for path in plan.keep]  # before they are covered
    for path in plan.hide_dirs:
        _mount(b"tmpfs", path, b"tmpfs", _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, _HIDDEN)
    for path in plan.hide_files:
        _mount(plan.placeholder, path, None, _MS_BIND)
    for path, options in plan.fresh:
        _mount(b"tmpfs", path, b"tmpfs", _MS_NOSUID | _MS_NODEV, options)
    for path, fd in zip(plan.keep, kept, strict=True):
        os.makedirs(path, exist_ok=True)
        _mount(b"/proc/self/fd/%d" % fd, path, None, _MS_BIND | _MS_REC)
        os.close(fd)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _program(bpf: bytes):
    instructions = ctypes.create_string_buffer(bpf, len(bpf))
    program = _SockFprog(len(bpf) // 8, ctypes.addressof(instructions))
    program.instructions = instructions  # kept alive with the program
    return program


def _load(program) -> None:
    checked(
        LIBC.prctl(_PR_SET_SECCOMP, ctypes.c_ulong(_SECCOMP_MODE_FILTER), ctypes.byref(program), 0, 0),
        "seccomp",
    )


def _mount(source, target, fstype, flags, data=None) -> None:
    checked(LIBC.mount(source, target, fstype, ctypes.c_ulong(flags), data), f"mount {target!r}")


def _write(path: bytes, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


# --- probing --------------------------------------------------------------------------------------


def _probe(wanted: str) -> Confinement:
    if LIBC is None:
        return Confinement(False, None, ("not Linux",))
    tried = LAYERS if wanted == "auto" else tuple(w.strip() for w in wanted.split(","))
    missing = [f"{layer}: not tried ({SETTING}={wanted})" for layer in LAYERS if layer not in tried]
    namespaces = False
    if "namespaces" in tried:
        plan = _encoded(mount_plan(hidden=(), keep=(tempfile.gettempdir(),)))
        owner = None if os.geteuid() == 0 else (os.getuid(), os.getgid())
        status, problem = _in_child(lambda: _enter_namespaces(plan, owner))
        namespaces = os.waitstatus_to_exitcode(status) == 0
        if not namespaces:
            missing.append(f"namespaces: {problem or 'unavailable'}")
    bpf = None
    if "seccomp" in tried:
        try:
            bpf = _compile_filter()
        except (
            ImportError,
            RuntimeError,
            OSError,
        ) as exc:  # pyseccomp raises RuntimeError without libseccomp
            missing.append(f"seccomp: {exc}")
        else:
            program = _program(bpf)
            status, problem = _in_child(lambda: _check_filter(program))
            if os.waitstatus_to_exitcode(status) != -signal.SIGSYS:
                missing.append(f"seccomp: {problem or 'the filter did not stop a TCP socket'}")
                bpf = None
    return Confinement(namespaces, bpf, tuple(missing))


def _compile_filter() -> bytes:
    import pyseccomp as sc

    rules = sc.SyscallFilter(sc.ALLOW)
    rules.set_attr(sc.Attr.ACT_BADARCH, sc.KILL_PROCESS)
    rules.add_rule(sc.KILL_PROCESS, "socket", sc.Arg(0, sc.NE, socket.AF_UNIX))
    rules.add_rule(sc.ERRNO(errno.EACCES), "socket", sc.Arg(0, sc.EQ, socket.AF_UNIX))
    rules.add_rule(sc.ERRNO(errno.EACCES), "socketpair", sc.Arg(0, sc.NE, socket.AF_UNIX))
    for kind in (
        socket.SOCK_DGRAM,
        socket.SOCK_RAW,
        socket.SOCK_SEQPACKET,
    ):  # a datagram pair can sendto a path
        rules.add_rule(sc.ERRNO(errno.EACCES), "socketpair", sc.Arg(1, sc.MASKED_EQ, 0xF, kind))
    for name in ("io_uring_setup", "io_uring_enter", "io_uring_register"):
        rules.add_rule(sc.KILL_PROCESS, name)
    with tempfile.TemporaryFile() as out:
        rules.export_bpf(out)
        out.seek(0)
        return out.read()


def _check_filter(program) -> None:
    forbid_new_privileges()
    _load(program)
    try:
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close()
    except PermissionError:
        pass
    else:
        raise OSError("the filter let an AF_UNIX socket through")
    socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # must stop this process (SIGSYS)


def _in_child(function) -> tuple[int, str]:
    """Run ``function`` in a forked child: its wait status and what it raised ('' if nothing)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns from here
        code = 0
        try:
            os.close(read)
            function()
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            os.write(write, str(exc).encode()[:500])
            code = 1
        os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        message = pipe.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    return status, message


# --- paths ----------------------------------------------------------------------------------------


def _within(parent: str, path: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _outermost(paths: set[str]) -> list[str]:
    """``paths`` without those inside another of them."""
    return sorted(p for p in paths if not any(q != p and _within(q, p) for q in paths))


def _encoded(plan: MountPlan) -> MountPlan:
    def enc(value):
        return os.fsencode(value)

    return MountPlan(
        hide_dirs=tuple(map(enc, plan.hide_dirs)),
        hide_files=tuple(map(enc, plan.hide_files)),
        placeholder=enc(plan.placeholder),
        fresh=tuple((enc(p), enc(o)) for p, o in plan.fresh),
        keep=tuple(map(enc, plan.keep)),
    )
