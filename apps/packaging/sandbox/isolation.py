"""Linux process controls that keep model code away from the processes holding the platform's secrets.

A worker that is not root cannot run the sandbox as another user, so model code runs as the worker's
own user and could read ``/proc/<pid>/environ`` (DATABASE_URL, the secret key) of every process of
that user. A process marked non-dumpable has its ``/proc`` files owned by root and cannot be traced
by its own user: the Celery worker and beat, the web app and the inference service mark themselves
so when they start, and every process they fork inherits the mark. The sandbox child, started with
exec, is not marked.

The sandbox child also gets a parent-death signal, so a worker killed mid-build (out of memory,
``kill -9``) takes the model it was running with it instead of leaving it behind. A child that must
stay root gives up every capability (``drop_capabilities``), so that it cannot leave the namespaces
it was put in (confinement.py) nor read files by privilege.
"""

import ctypes
import os
import signal

_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_CAPABILITY_VERSION_3 = 0x20080522


try:  # looked up once, at import: never dlopen between fork and exec
    LIBC = ctypes.CDLL(None, use_errno=True)
    _PRCTL = LIBC.prctl
except (OSError, AttributeError):  # not Linux: nothing to set
    LIBC = _PRCTL = None


def _prctl(option: int, value: int) -> bool:
    return _PRCTL is not None and _PRCTL(option, value, 0, 0, 0) == 0


def checked(result: int, what: str) -> None:
    """Raise OSError, naming ``what``, for a libc call that returned -1."""
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


def forbid_new_privileges() -> None:
    """Nothing this process executes may gain privileges (set-user-ID programs, file capabilities)."""
    checked(-1 if _PRCTL is None else _PRCTL(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")


def drop_capabilities() -> None:
    """Give up every capability for good, this process and whatever it executes: for a sandbox
    child that stays root (it could otherwise join the host's network namespace, remove the
    mounts that hide the platform's files, or read any file)."""
    with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as fileobj:
        last = int(fileobj.read())
    for capability in range(last + 1):  # the bounding set: what an exec could give back
        checked(_PRCTL(_PR_CAPBSET_DROP, capability, 0, 0, 0), "PR_CAPBSET_DROP")
    forbid_new_privileges()
    header = (ctypes.c_uint32 * 2)(_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable (two words each): none
    checked(LIBC.capset(header, data), "capset")


def forbid_inspection() -> bool:
    """Make this process (and what it forks) unreadable through /proc and untraceable by its user."""
    return _prctl(_PR_SET_DUMPABLE, 0)


def die_with_parent(parent_pid: int) -> None:
    """SIGKILL this process when ``parent_pid`` goes away; exit now if it already has. Call again
    after changing user: a change of credentials clears the signal."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(137)
