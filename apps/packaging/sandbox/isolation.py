"""Linux process controls that keep model code away from the processes holding the platform's secrets.

A worker that is not root cannot run the sandbox as another user, so model code runs as the worker's
own user and could read ``/proc/<pid>/environ`` (DATABASE_URL, the secret key) of every process of
that user. A process marked non-dumpable has its ``/proc`` files owned by root and cannot be traced
by its own user: the Celery worker and beat, the web app and the inference service mark themselves
so when they start, and every process they fork inherits the mark. The sandbox child, started with
exec, is not marked.

The sandbox child also gets a parent-death signal, so a worker killed mid-build (out of memory,
``kill -9``) takes the model it was running with it instead of leaving it behind.
"""

import ctypes
import os
import signal

_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4


try:  # looked up once, at import: never dlopen between fork and exec
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux: nothing to set
    _PRCTL = None


def _prctl(option: int, value: int) -> bool:
    return _PRCTL is not None and _PRCTL(option, value, 0, 0, 0) == 0


def forbid_inspection() -> bool:
    """Make this process (and what it forks) unreadable through /proc and untraceable by its user."""
    return _prctl(_PR_SET_DUMPABLE, 0)


def die_with_parent(parent_pid: int) -> None:
    """SIGKILL this process when ``parent_pid`` goes away; exit now if it already has. Call again
    after changing user: a change of credentials clears the signal."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(137)
