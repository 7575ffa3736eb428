"""Record the Python version and the exact package versions a model object or model file needs.

We look at the classes (and functions) the model is built from, map their top-level modules to
installed distributions with importlib.metadata, then follow those distributions' Requires-Dist
recursively: scikit-learn brings numpy, scipy, joblib and threadpoolctl. Extras are skipped and
environment markers are evaluated for this interpreter. Nothing is imported or pip-called.
For a model file, the modules come from the file itself (modelyard.model_files), never from loading it.
"""

import contextlib
import importlib.metadata as metadata
import sys
from collections.abc import Iterable

from packaging.markers import UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from modelyard.errors import ModelyardError
from modelyard.model_files import file_needs

# How deep to walk nested estimators; real pipelines are a few levels, cycles are cut by id.
_MAX_DEPTH = 12
# Stop after this many objects: a fitted model can hold huge dicts (a vocabulary, say).
_MAX_NODES = 200_000
_SCALARS = (str, bytes, int, float, complex, bool, type(None))


def python_version() -> str:
    v = sys.version_info
    return f"{v.major}.{v.minor}.{v.micro}"


def model_modules(obj) -> set[str]:
    """Top-level module names of every class/function the object is made of."""
    found: set[str] = set()
    seen: set[int] = set()
    _walk(obj, found, seen, 0)
    return {m for m in found if m not in sys.stdlib_module_names and m not in ("builtins", "__main__")}


def _walk(obj, found: set[str], seen: set[int], depth: int) -> None:
    if depth > _MAX_DEPTH or len(seen) > _MAX_NODES or isinstance(obj, _SCALARS) or id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, dict):
        for value in obj.values():
            _walk(value, found, seen, depth + 1)
        return
    if isinstance(obj, list | tuple | set | frozenset):
        for value in obj:
            _walk(value, found, seen, depth + 1)
        return
    if isinstance(obj, type) or (callable(obj) and hasattr(obj, "__qualname__")):
        # A class or a function (FunctionTransformer(func=...)): its own module is what matters.
        # (Instances do not see their class's __qualname__, so estimators do not land here.)
        _add_module(getattr(obj, "__module__", None), found)
        return
    # Every class in the MRO: a user's subclass defined in __main__ still needs sklearn's base.
    for cls in type(obj).__mro__:
        _add_module(cls.__module__, found)
    for child in _children(obj):
        _walk(child, found, seen, depth + 1)


def _children(obj) -> Iterable:
    """What an object is made of: sklearn's get_params() (steps, transformers, estimator=...) and
    its instance attributes, which hold the fitted parts (estimators_, transformers_, ...) and any
    model a hand-written wrapper keeps."""
    get_params = getattr(obj, "get_params", None)
    if callable(get_params):
        # A third-party get_params may need arguments or fail: then the attributes below suffice.
        with contextlib.suppress(Exception):
            yield from get_params(deep=False).values()
    attributes = getattr(obj, "__dict__", None)
    if isinstance(attributes, dict):
        yield from attributes.values()


def _add_module(module: str | None, found: set[str]) -> None:
    if module:
        found.add(module.split(".", 1)[0])


def distributions_for_modules(modules: Iterable[str]) -> set[str]:
    """Distribution names providing the given top-level import names (sklearn -> scikit-learn)."""
    mapping = metadata.packages_distributions()
    return {dist for module in modules for dist in mapping.get(module, [])}


def resolve_requirements(dists: Iterable[str]) -> dict[str, str]:
    """{distribution name: installed version} for the given distributions and everything they
    require, recursively. Requirements that are not installed are skipped."""
    versions: dict[str, str] = {}
    queue = list(dists)
    visited: set[str] = set()
    while queue:
        key = canonicalize_name(queue.pop())
        if key in visited:
            continue
        visited.add(key)
        try:
            dist = metadata.distribution(key)
        except metadata.PackageNotFoundError:
            continue
        versions[dist.metadata["Name"] or key] = dist.version
        queue.extend(_runtime_requirements(dist))
    return dict(sorted(versions.items(), key=lambda kv: kv[0].lower()))


def _runtime_requirements(dist) -> list[str]:
    names = []
    for line in dist.requires or []:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.marker is not None:
            try:
                # extra="" makes every `extra == "..."` marker false: optional extras are skipped.
                if not req.marker.evaluate({"extra": ""}):
                    continue
            except UndefinedEnvironmentName:
                continue
        names.append(req.name)
    return names


def capture(model, also: Iterable[str] = ()) -> dict:
    """{"python": "3.11.7", "packages": {name: version}} for an in-memory model object. ``also``
    names distributions needed besides the model's own (the serialiser: joblib or skops)."""
    dists = distributions_for_modules(model_modules(model)) | set(also)
    return {"python": python_version(), "packages": resolve_requirements(dists)}


def capture_file(path) -> dict:
    """Like capture(), for a model file: {"python", "packages", "modules": {import name: [its
    distributions here]}, "unknown_modules": [names no installed distribution provides]}. The
    server checks the package's lock against "modules"; unknown modules are the caller's to fix.
    A file that cannot be read gives an empty capture: the server judges the upload and says why."""
    try:
        needs = file_needs(path)
    except ModelyardError as exc:
        return {
            "python": python_version(),
            "packages": {},
            "modules": {},
            "unknown_modules": [],
            "unread": str(exc),
        }
    mapping = metadata.packages_distributions()
    modules = {
        m: sorted(set(mapping.get(m, [])))
        for m in sorted(needs.modules)
        if m not in sys.stdlib_module_names and m not in ("builtins", "__main__")
    }
    stated = set()
    for line in needs.requirements:
        with contextlib.suppress(InvalidRequirement):
            stated.add(Requirement(line).name)
    dists = {d for found in modules.values() for d in found} | stated
    return {
        "python": python_version(),
        "packages": resolve_requirements(dists),
        "modules": modules,
        "unknown_modules": [m for m, found in modules.items() if not found],
        **({"format_details": needs.details} if needs.details else {}),
    }


def requirements_text(environment: dict) -> str:
    """pip-style pins, one ``name==version`` a line."""
    packages = environment.get("packages") or {}
    return "".join(f"{name}=={version}\n" for name, version in packages.items())
