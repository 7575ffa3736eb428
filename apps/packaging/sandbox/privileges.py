"""Switch the sandbox child from root to an unprivileged user, so model code cannot read root-only files
(such as the platform's .env) or signal root's processes.

The switch happens inside the child, after Python has started, rather than before exec: Python may be
installed where that user cannot even read it (pyenv under /root, mode 0700). In that case everything
the model may import from there is imported first, while it is still readable.
"""

import importlib
import os
import pkgutil
import pwd
import stat
import sys
import warnings

# Standard-library modules never imported ahead: demos, GUIs, tests and the ones with side effects.
_NOT_PRELOADED = {
    "__phello__",
    "_tkinter",
    "antigravity",
    "distutils",
    "ensurepip",
    "idlelib",
    "lib2to3",
    "pydoc_data",
    "test",
    "this",
    "tkinter",
    "turtle",
    "turtledemo",
    "venv",
}


def unreadable_packages(username: str) -> list[str]:
    """Folders of installed packages (and the project) that ``username`` cannot reach. Packages
    are imported lazily while a model runs, so these must be readable after the switch; the
    standard library alone can be imported beforehand."""
    user = pwd.getpwnam(username)
    stdlib = os.path.dirname(os.__file__)
    return [
        entry
        for entry in sys.path
        if entry
        and os.path.isdir(entry)
        and not os.path.realpath(entry).startswith(os.path.realpath(stdlib))
        and not _reachable(entry, user)
    ]


def drop_privileges(username: str, frameworks: tuple[str, ...] = ()) -> str:
    """When running as root, become ``username`` (no supplementary groups) and return who the
    sandbox now runs as. ``frameworks`` are imported beforehand should the interpreter be
    unreadable for that user. When the installed packages themselves are unreadable for it (a
    virtualenv inside a folder only root may enter), the switch cannot work: the sandbox stays
    the worker's user and says so, relying on its other limits."""
    if os.geteuid() != 0:
        return "the worker's user (not root, so no switch)"
    blocked = unreadable_packages(username)
    if blocked:
        return f"root: '{username}' cannot read the installed packages in {blocked[0]}"
    user = pwd.getpwnam(username)
    if any(os.path.isdir(entry) and not _reachable(entry, user) for entry in sys.path):
        _preload(frameworks)
    home = os.environ.get("HOME")
    if home and os.path.isdir(home):  # the child's scratch folder (process.py), now the user's
        os.chown(home, user.pw_uid, user.pw_gid)
    os.setgroups([])
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)
    if os.geteuid() == 0 or os.getegid() == 0:
        raise PermissionError(f"could not switch to the user '{username}'")
    return username


def _reachable(path: str, user: pwd.struct_passwd) -> bool:
    """Whether ``user`` may traverse every directory from / to ``path`` (mode bits; ACLs ignored)."""
    path = os.path.realpath(path)
    while True:
        info = os.stat(path)
        if info.st_uid == user.pw_uid:
            bit = stat.S_IXUSR
        elif info.st_gid == user.pw_gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return False
        parent = os.path.dirname(path)
        if parent == path:
            return True
        path = parent


def _preload(frameworks: tuple[str, ...]) -> None:
    """Import the whole standard library (packages with all their submodules, codecs included: zipfile,
    for one, looks its codec up lazily; about 0.3 s), then the frameworks."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated modules warn on import
        for name in sorted(sys.stdlib_module_names):
            if name not in _NOT_PRELOADED and not name.startswith(("_test", "_xx", "_ctypes_test", "xx")):
                _import_tree(name)
        for name in frameworks:
            _import(name)


def _import_tree(name: str) -> None:
    module = _import(name)
    for sub in pkgutil.iter_modules(getattr(module, "__path__", None) or []):
        if sub.name not in ("__main__", "test", "tests") and not sub.name.startswith("_test"):
            _import_tree(f"{name}.{sub.name}")


def _import(name: str):
    try:
        return importlib.import_module(name)
    except Exception:  # modules of other platforms; a missing framework is reported when loading
        return None
