"""Build an isolated virtual environment for a patched lock with a real ``pip install``, and ask it
what it resolved.

Layered, on purpose: a model's lock usually holds the whole scientific stack (numpy, pandas,
scikit-learn…), which is what the worker already runs on. Reinstalling it for every patch would take
minutes and a network. So the environment is a fresh ``venv`` whose own site-packages come first
and whose last entry is the worker's environment (a ``.pth`` file, processed like the worker's own
site-packages so its ``.pth`` files apply too); only the patched pins are installed into it, and
they shadow the worker's copies. ``--system-site-packages`` would not do: the worker itself runs in
a virtual environment, and that flag exposes the base interpreter's packages, not the worker's.
After installing, the environment is asked which version of each pinned package it resolves, so a
pin shadowed the wrong way round is caught rather than assumed.

No Django here. Offline use (tests): ``index=None`` with ``find_links=[wheelhouse]``.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

PIP_TIMEOUT_SECONDS = 600

# Runs inside the new environment: every pinned package's resolved version and file, and each
# installed distribution's requirements on them (the first copy of a distribution on sys.path wins,
# as it does for imports).
_PROBE = r"""
import json, re, sys
import importlib.metadata as md
wanted = {re.sub(r"[-_.]+", "-", n).lower() for n in json.loads(sys.argv[1])}
seen, resolved, requirers = set(), {}, []
for dist in md.distributions():
    name = re.sub(r"[-_.]+", "-", (dist.metadata["Name"] or "")).lower()
    if not name or name in seen:
        continue
    seen.add(name)
    if name in wanted:
        resolved[name] = {"version": dist.version, "location": str(dist.locate_file(""))}
    for line in dist.requires or []:
        head = re.split(r"[\s\[<>=!~;(]", line.strip(), maxsplit=1)[0]
        if re.sub(r"[-_.]+", "-", head).lower() in wanted:
            requirers.append([f"{name}=={dist.version}", line])
print(json.dumps({"python": sys.executable, "resolved": resolved, "requirers": requirers}))
"""


class EnvironmentError_(Exception):
    """The environment could not be built or pip could not install the pins; the message says why."""


@dataclass(frozen=True)
class BuiltEnvironment:
    path: Path
    python: str
    resolved: dict  # name → {"version", "location"}
    requirers: list  # [[who, requirement], ...] naming the pinned packages
    pip_output: str


def build_environment(
    folder: Path,
    pins: dict[str, str],
    *,
    find_links: list[str] | None = None,
    index: bool = True,
    base_python: str | None = None,
) -> BuiltEnvironment:
    """A layered virtual environment in ``folder`` (replaced if it exists) with ``pins``
    ({name: version}) installed by pip. ``index=False`` installs from ``find_links`` only."""
    base_python = base_python or sys.executable
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    _run([base_python, "-m", "venv", "--without-pip", str(folder)], "create the virtual environment")
    python = str(folder / "bin" / "python")
    _layer_on_worker(python)
    command = [base_python, "-m", "pip", "--python", python, "install", "--no-input", "--progress-bar", "off"]
    if not index:
        command.append("--no-index")
    for link in find_links or []:
        command += ["--find-links", str(link)]
    command += [f"{name}=={version}" for name, version in sorted(pins.items())]
    output = _run(command, "install " + ", ".join(f"{n}=={v}" for n, v in sorted(pins.items())))
    _open_up(folder)  # the sandbox child may run as an unprivileged user
    probe = json.loads(_run([python, "-c", _PROBE, json.dumps(sorted(pins))], "inspect the environment"))
    return BuiltEnvironment(folder, python, probe["resolved"], probe["requirers"], output[-4000:])


def resolution_problems(built: BuiltEnvironment, pins: dict[str, str]) -> list[str]:
    """Pins the environment does not resolve to the pinned version (as the model would import them)."""
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    problems = []
    for name, version in sorted(pins.items()):
        found = built.resolved.get(canonicalize_name(name))
        if found is None:
            problems.append(f"{name} is not installed in the patched environment")
        elif Version(found["version"]) != Version(version):
            problems.append(
                f"{name} resolves to {found['version']} (from {found['location']}), not the pinned {version}"
            )
    return problems


def remove_environment(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def _layer_on_worker(python: str) -> None:
    site_packages = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    worker = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    lines = [f"import site; site.addsitedir({path!r})" for path in sorted(worker)]
    Path(site_packages, "zz-modelyard-worker.pth").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _open_up(folder: Path) -> None:
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | 0o444)
    os.chmod(folder, 0o755)


def _run(command: list[str], what: str) -> str:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONNOUSERSITE": "1"}
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=PIP_TIMEOUT_SECONDS, env=env, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise EnvironmentError_(f"could not {what}: no answer within {PIP_TIMEOUT_SECONDS} s") from exc
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise EnvironmentError_(f"could not {what} (exit {done.returncode}): {tail}")
    return done.stdout
