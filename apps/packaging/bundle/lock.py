"""Pin a model version's environment into a requirements.lock, and say what could not be pinned.

The captured package versions are the truth (they are what the model was trained with); the declared
requirements are checked against them. Dependencies between locked packages are checked only from
metadata installed here at exactly the locked version: metadata of another version could state other
requirements, and nothing is downloaded to find out.
"""

import importlib.metadata
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from packaging.markers import UndefinedComparison, UndefinedEnvironmentName, default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

CAPTURED = "captured"
DECLARED = "declared"
# pip strips a comment that starts a line or follows whitespace; a '#' inside a URL stays.
_COMMENT = re.compile(r"(^|\s)#.*$")


@dataclass(frozen=True)
class LockEntry:
    name: str  # PEP 503 normalised
    version: str
    hashes: list[str] = field(default_factory=list)  # "sha256:<hex>", only where known
    source: str = CAPTURED  # CAPTURED or DECLARED


@dataclass
class Lock:
    python: str
    entries: list[LockEntry]
    problems: list[str]  # things wrong with the lock that a person should fix
    notes: list[str]  # things not checked or left to pip, worth knowing but not wrong
    text: str  # the requirements.lock file

    def version_of(self, name: str) -> str | None:
        wanted = canonicalize_name(name)
        return next((e.version for e in self.entries if e.name == wanted), None)


def build_lock(*, python: str, packages: Mapping[str, str], declared: str) -> Lock:
    problems: list[str] = []
    notes: list[str] = []
    target = _target_environment(python, problems)
    pinned = _captured_pins(packages, problems)
    requirements = _declared_requirements(declared or "", problems)

    declared_pins: dict[str, str] = {}
    for line_number, req in requirements:
        name = canonicalize_name(req.name)
        applies = _declared_marker_applies(req, target)
        if applies is None:
            problems.append(f"line {line_number}: the marker of {req.name} cannot be evaluated, skipped")
            continue
        if not applies:
            python = target["python_full_version"]
            notes.append(f"line {line_number}: {req} does not apply on Linux with Python {python}")
            continue
        if name in pinned:
            if not req.specifier.contains(pinned[name], prereleases=True):
                problems.append(f"{_requirement_label(req)} is declared but {pinned[name]} was captured")
            continue
        exact = _exact_pin(req)
        if exact is None:
            problems.append(f"declared but not captured, cannot pin: {req}")
        elif declared_pins.setdefault(name, exact) != exact:
            problems.append(f"{name} is declared at two versions: {declared_pins[name]} and {exact}")

    versions = {name: (str(v), CAPTURED) for name, v in pinned.items()}
    versions.update({name: (v, DECLARED) for name, v in declared_pins.items()})
    extras = _declared_extras(requirements)
    entries = [
        LockEntry(name, version, _known_hashes(name, version), source)
        for name, (version, source) in sorted(versions.items())
    ]
    _check_dependencies(entries, extras, target, problems, notes)
    _check_hashes(entries, problems)
    return Lock(
        python=python or "",
        entries=entries,
        problems=problems,
        notes=notes,
        text=_lock_text(python, entries),
    )


def _target_environment(python: str, problems: list[str]) -> dict[str, str]:
    """Marker values for the package's container: Linux, CPython, the captured Python version."""
    env = dict(default_environment())
    env.update(
        os_name="posix",
        sys_platform="linux",
        platform_system="Linux",
        implementation_name="cpython",
        platform_python_implementation="CPython",
    )
    try:
        version = Version(python)
    except (InvalidVersion, TypeError):
        current = env["python_full_version"]
        problems.append(f"no valid Python version was captured; markers are evaluated for Python {current}")
        return env
    env.update(
        python_version=f"{version.major}.{version.minor}",
        python_full_version=str(version),
        implementation_version=str(version),
    )
    return env


def _captured_pins(packages: Mapping[str, str], problems: list[str]) -> dict[str, Version]:
    pinned: dict[str, Version] = {}
    for raw_name, raw_version in sorted((packages or {}).items()):
        name = canonicalize_name(str(raw_name))
        try:
            version = Version(str(raw_version))
        except InvalidVersion:
            problems.append(f"captured version of {name} is not a valid version: {raw_version!r}")
            continue
        if name in pinned and pinned[name] != version:
            problems.append(f"{name} was captured twice, at {pinned[name]} and {version}")
            continue
        pinned[name] = version
    return pinned


def _declared_requirements(text: str, problems: list[str]) -> list[tuple[int, Requirement]]:
    found = []
    for line_number, line in _logical_lines(text):
        if line.startswith("-"):
            option = line.split()[0]
            problems.append(f"line {line_number}: pip option {option} is not supported here, skipped")
            continue
        requirement_text, _, options = line.partition(" -")
        if options:
            problems.append(f"line {line_number}: options after the requirement are ignored")
        try:
            found.append((line_number, Requirement(requirement_text.strip())))
        except InvalidRequirement:
            problems.append(f"line {line_number}: not a valid requirement: {requirement_text.strip()[:100]}")
    return found


def _logical_lines(text: str):
    """(first line number, text) of each non-empty line, with '\\' continuations joined, as pip does."""
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if raw.endswith("\\"):
            pending += raw[:-1]
            continue
        line = _COMMENT.sub("", pending + raw).strip()
        pending = ""
        if line:
            yield start, line
    line = _COMMENT.sub("", pending).strip()
    if line:
        yield start, line


def _declared_marker_applies(req: Requirement, target: dict[str, str]) -> bool | None:
    if req.marker is None:
        return True
    try:
        return req.marker.evaluate(target, context="requirement")
    except (UndefinedEnvironmentName, UndefinedComparison):  # e.g. an 'extra' marker, which needs a package
        return None


def _requirement_label(req: Requirement) -> str:
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    return f"{req.name}{extras}{req.specifier}"


def _exact_pin(req: Requirement) -> str | None:
    specs = list(req.specifier)
    if req.url or len(specs) != 1 or specs[0].operator not in ("==", "===") or "*" in specs[0].version:
        return None
    try:
        return str(Version(specs[0].version))
    except InvalidVersion:  # "===" allows any string; pip could not compare it to anything
        return None


def _declared_extras(requirements: list[tuple[int, Requirement]]) -> dict[str, set[str]]:
    extras: dict[str, set[str]] = {}
    for _, req in requirements:
        extras.setdefault(canonicalize_name(req.name), set()).update(req.extras)
    return extras


def _installed_at(name: str, version: str) -> importlib.metadata.Distribution | None:
    try:
        dist = importlib.metadata.distribution(name)
        return dist if Version(dist.version) == Version(version) else None
    except (importlib.metadata.PackageNotFoundError, InvalidVersion):
        return None


def _check_dependencies(
    entries: list[LockEntry],
    extras: dict[str, set[str]],
    target: dict[str, str],
    problems: list[str],
    notes: list[str],
) -> None:
    locked = {e.name: Version(e.version) for e in entries}
    installed = {e.name: _installed_at(e.name, e.version) for e in entries}
    for entry in entries:
        if installed[entry.name] is None:
            notes.append(f"dependencies of {entry.name}=={entry.version} not checked: not installed here")
    requirements = _dependency_requirements(installed, extras, target)
    for name in sorted(requirements):
        label = f"{name}=={locked[name]}"
        _check_requires_python(label, installed[name], target, problems)
        for req in requirements[name]:
            wanted = canonicalize_name(req.name)
            if wanted not in locked:
                notes.append(f"{label} requires {req}, which is not locked: pip will choose its version")
            elif not req.specifier.contains(locked[wanted], prereleases=True):
                problems.append(
                    f"{label} requires {_requirement_label(req)} but {wanted}=={locked[wanted]} is locked"
                )


def _dependency_requirements(
    installed: dict[str, importlib.metadata.Distribution | None],
    extras: dict[str, set[str]],
    target: dict[str, str],
) -> dict[str, list[Requirement]]:
    """Each installed locked package's requirements that apply on the target, including those of the
    extras something asks for; repeated until no new extra is asked for (extras can ask for extras)."""
    extras = {name: set(wanted) for name, wanted in extras.items()}
    while True:
        found: dict[str, list[Requirement]] = {}
        for name, dist in installed.items():
            if dist is None:
                continue
            applicable = []
            for line in dist.requires or []:
                try:
                    req = Requirement(line)
                except InvalidRequirement:
                    continue
                if _applies(req, extras.get(name, set()), target):
                    applicable.append(req)
            found[name] = sorted(applicable, key=str)
        asked = {(canonicalize_name(r.name), e) for reqs in found.values() for r in reqs for e in r.extras}
        new = {(n, e) for n, e in asked if e not in extras.get(n, set())}
        if not new:
            return found
        for name, extra in new:
            extras.setdefault(name, set()).add(extra)


def _applies(req: Requirement, extras: set[str], target: dict[str, str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({**target, "extra": extra}) for extra in ["", *sorted(extras)])


def _check_requires_python(
    label: str, dist: importlib.metadata.Distribution, target: dict[str, str], problems: list[str]
) -> None:
    try:
        supported = SpecifierSet(dist.metadata.get("Requires-Python") or "")
    except InvalidSpecifier:
        return
    python = target["python_full_version"]
    if not supported.contains(python, prereleases=True):
        problems.append(f"{label} requires Python {supported} but the lock is for Python {python}")


def _known_hashes(name: str, version: str) -> list[str]:
    """The archive hash pip recorded when it installed this very version from a file or URL."""
    dist = _installed_at(name, version)
    if dist is None:
        return []
    try:
        direct_url = json.loads(dist.read_text("direct_url.json") or "{}")
    except (OSError, ValueError):
        return []
    archive = direct_url.get("archive_info") or {}
    hashes = dict(archive.get("hashes") or {})
    legacy = archive.get("hash") or ""  # older pip wrote "sha256=<hex>"
    if "=" in legacy:
        algorithm, _, digest = legacy.partition("=")
        hashes.setdefault(algorithm, digest)
    digest = hashes.get("sha256")
    return [f"sha256:{digest}"] if digest and re.fullmatch(r"[0-9a-f]{64}", digest) else []


def _check_hashes(entries: list[LockEntry], problems: list[str]) -> None:
    hashed = sum(1 for e in entries if e.hashes)
    if 0 < hashed < len(entries):
        problems.append(
            f"only {hashed} of {len(entries)} locked packages have a hash: pip's hash-checking mode needs "
            "every package, dependencies included, to have one, so it will refuse this lock"
        )


def _lock_text(python: str, entries: list[LockEntry]) -> str:
    lines = [
        f"# requirements.lock for Python {python or 'unknown'}",
        "# Generated by Modelyard from the model version's captured environment and declared requirements.",
        "# Do not edit: register a new model version instead.",
    ]
    for entry in entries:
        pin = f"{entry.name}=={entry.version}"
        comment = "  # declared, not captured" if entry.source == DECLARED else ""
        if not entry.hashes:
            lines.append(pin + comment)
            continue
        lines.append(f"{pin} \\")
        hashes = sorted(entry.hashes)
        lines.extend(f"    --hash={h} \\" for h in hashes[:-1])
        lines.append(f"    --hash={hashes[-1]}{comment}")
    return "\n".join(lines) + "\n"
