"""Pin one package of a model version's environment to a new version, and say what would stop it.

No Django: the inputs are the version's captured environment ({"python", "packages"}), its declared
requirements (requirements.txt text) and the requirements other packages state about the one being
upgraded (from their installed metadata).
"""

from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version


@dataclass(frozen=True)
class PatchedInputs:
    environment: dict  # the captured environment with the package moved to the target
    requirements: str  # the declared requirements with the package's exact pin moved
    conflicts: list[str]  # declared requirements the target does not satisfy, each named
    found_in: list[str]  # where the package was pinned ("captured environment", "declared line 3")


def patch_inputs(*, environment: dict, requirements: str, package: str, target: str) -> PatchedInputs:
    """The environment and requirements of the patched version. A declared exact pin of the package
    (``X==a``) is moved to the target; any other declared requirement of it (``X>=1,<2``) is kept
    and must admit the target, else it is reported as a conflict."""
    name = canonicalize_name(package)
    wanted = Version(target)  # the caller has checked it is a valid version
    environment = {**(environment or {}), "packages": dict((environment or {}).get("packages") or {})}
    found_in, conflicts = [], []
    for key in list(environment["packages"]):
        if canonicalize_name(key) == name:
            environment["packages"][key] = str(wanted)
            found_in.append("captured environment")
    lines = []
    for number, line in enumerate((requirements or "").splitlines(), start=1):
        req = _requirement(line)
        if req is None or canonicalize_name(req.name) != name:
            lines.append(line)
            continue
        if _is_exact_pin(req):
            extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
            marker = f"; {req.marker}" if req.marker else ""
            lines.append(f"{req.name}{extras}=={wanted}{marker}")
            found_in.append(f"declared line {number}")
            continue
        lines.append(line)
        found_in.append(f"declared line {number}")
        if not req.specifier.contains(wanted, prereleases=True):
            conflicts.append(
                f"the declared requirement '{line.strip()}' (line {number}) excludes {name}=={wanted}"
            )
    text = "\n".join(lines) + ("\n" if requirements.endswith("\n") else "") if requirements else ""
    return PatchedInputs(environment, text, conflicts, found_in)


def requirement_conflicts(*, package: str, target: str, requirers: list[tuple[str, str]]) -> list[str]:
    """``requirers``: (who, requirement string) pairs, e.g. ("flask==2.0.1", "Jinja2>=3.0").
    The requirements on ``package`` that ``target`` does not satisfy, each as a sentence. A
    requirement behind a marker counts where the marker holds here without extras (an extra's
    requirements, such as pandas[output-formatting]'s, apply only when someone asks for the extra)."""
    name, wanted = canonicalize_name(package), Version(target)
    problems = []
    for who, text in requirers:
        req = _requirement(text)
        if req is None or canonicalize_name(req.name) != name:
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        if not req.specifier.contains(wanted, prereleases=True):
            problems.append(f"{who} requires {req.name}{req.specifier} but the patch pins {name}=={wanted}")
    return problems


def valid_version(text: str) -> str | None:
    """The normalised version, or None when ``text`` is not a PEP 440 version."""
    try:
        return str(Version(str(text).strip()))
    except InvalidVersion:
        return None


def _requirement(line: str) -> Requirement | None:
    text = line.split("#", 1)[0].strip()
    if not text or text.startswith("-"):
        return None
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


def _is_exact_pin(req: Requirement) -> bool:
    specs = list(req.specifier)
    return len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version
