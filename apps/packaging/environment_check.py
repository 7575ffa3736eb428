"""Can the package's requirements.lock import what the model needs? No Django.

The modules come from the artifact itself: the registry's opcode scan of a pickle or joblib file
(format_details["modules"]), the format (ONNX needs onnxruntime, XGBoost and LightGBM their own
package), and the modules the client read from the file (environment["modules"], for skops and
MLflow files). A module is provided when a locked distribution provides it, by the client's
mapping, by this machine's installed distributions, or by a distribution named like the module.
"""

import importlib.metadata
import sys
from collections.abc import Iterable, Mapping

from packaging.utils import canonicalize_name

from apps.packaging.validation import Report

CHECK = "lock provides the model's modules"
_FORMAT_MODULES = {
    "joblib": {"joblib"},
    "skops": {"skops"},
    "onnx": {"onnxruntime"},
    "xgboost_json": {"xgboost"},
    "xgboost_ubj": {"xgboost"},
    "xgboost_binary": {"xgboost"},
    "lightgbm_text": {"lightgbm"},
}
# The package loads an MLflow zip by its flavour's own file, without mlflow (see sandbox.loaders).
_MLFLOW_FLAVOR_MODULES = {"sklearn": "sklearn", "onnx": "onnxruntime"}
_NOT_PACKAGES = {"builtins", "__main__", "__builtin__"}


def model_modules(*, fmt: str, details: Mapping, environment: Mapping) -> set[str]:
    """Top-level import names the model needs to load, from the artifact and its format."""
    modules = set(details.get("modules") or []) | _FORMAT_MODULES.get(fmt, set())
    if fmt == "mlflow_zip":
        flavors = details.get("flavors") or []
        modules |= {_MLFLOW_FLAVOR_MODULES[f] for f in flavors if f in _MLFLOW_FLAVOR_MODULES}
    captured = environment.get("modules")
    if isinstance(captured, Mapping):
        modules |= {str(m) for m in captured}
    return {m for m in modules if m and m not in sys.stdlib_module_names and m not in _NOT_PACKAGES}


def providers(environment: Mapping) -> dict[str, set[str]]:
    """Import name -> distributions providing it, from the client's capture and from this machine."""
    found: dict[str, set[str]] = {}
    for module, dists in importlib.metadata.packages_distributions().items():
        found.setdefault(module, set()).update(canonicalize_name(d) for d in dists)
    captured = environment.get("modules")
    if isinstance(captured, Mapping):
        for module, dists in captured.items():
            if isinstance(dists, list):
                found.setdefault(str(module), set()).update(canonicalize_name(str(d)) for d in dists)
    return found


def missing_distributions(
    *, modules: Iterable[str], locked: Iterable[str], provided_by: Mapping[str, set[str]]
) -> dict[str, list[str]]:
    """{module: distributions that would provide it} for each module no locked distribution provides."""
    names = {canonicalize_name(n) for n in locked}
    missing = {}
    for module in sorted(modules):
        candidates = set(provided_by.get(module, set())) | {canonicalize_name(module)}
        if not candidates & names:
            known = sorted(provided_by.get(module, set())) or [canonicalize_name(module)]
            missing[module] = known
    return missing


def check_lock_provides(
    report: Report, *, modules: set[str], locked: list[str], environment: Mapping
) -> None:
    """Add the check: fail, naming each missing distribution, when the lock lacks one."""
    if not modules:
        report.add(CHECK, "skip", "the model's format names no module (Python source is checked by loading)")
        return
    missing = missing_distributions(modules=modules, locked=locked, provided_by=providers(environment))
    if not missing:
        report.add(CHECK, "pass", f"every module the model imports is locked: {', '.join(sorted(modules))}")
        return
    named = "; ".join(f"{' or '.join(dists)} (for import {module})" for module, dists in missing.items())
    report.add(
        CHECK,
        "fail",
        f"requirements.lock is missing {named}: register the model from an environment where it is "
        "installed (the client captures it) or declare it pinned in the requirements",
    )
