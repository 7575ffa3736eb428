"""The serving scaffold of a model package. The scripts are the same for every model (real files in
templates/, linted and tested as they are); what differs per model goes into package.json, which
serve.py and batch.py read at start."""

import json
import re
import string
from collections.abc import Iterable
from pathlib import Path

from packaging.version import InvalidVersion, Version

from apps.packaging.bundle.lock import Lock

TEMPLATES = Path(__file__).resolve().parent / "templates"
SCRIPTS = ("serve.py", "batch.py", "scoring.py", "schema_check.py")
# What the scripts themselves import; pyarrow is for batch.py's Parquet files.
RUNTIME_PACKAGES = ("pandas", "numpy", "pyarrow")
DEFAULT_PYTHON = "3.11"  # when the lock does not say which Python the model was trained with


def render_scaffold(
    *,
    model_name: str,
    version_number: int,
    artifact_filename: str,
    fmt: str,
    mlflow_root: str = "",
    input_schema: dict,
    output_schema: dict,
    trusted_types: Iterable[str] = (),
    lock: Lock | None = None,
) -> dict[str, str]:
    """File name -> text: the scripts, package.json, schema.json, Dockerfile, and requirements.lock
    when a lock is given (without one the image installs only the scripts' own packages)."""
    files = {name: (TEMPLATES / name).read_text(encoding="utf-8") for name in SCRIPTS}
    package = package_values(
        model_name=model_name,
        version_number=version_number,
        artifact_filename=artifact_filename,
        fmt=fmt,
        mlflow_root=mlflow_root,
        input_schema=input_schema,
        output_schema=output_schema,
        trusted_types=trusted_types,
    )
    files["package.json"] = _json(package)
    files["schema.json"] = _json({key: package[key] for key in ("input_schema", "output_schema")})
    files["Dockerfile"] = render_dockerfile(model_name=model_name, version_number=version_number, lock=lock)
    if lock is not None:
        files["requirements.lock"] = lock.text
    return files


def package_values(
    *,
    model_name: str,
    version_number: int,
    artifact_filename: str,
    fmt: str,
    mlflow_root: str,
    input_schema: dict,
    output_schema: dict,
    trusted_types: Iterable[str],
) -> dict:
    """package.json: the values serve.py and batch.py read at start."""
    return {
        "model_name": model_name,
        "model_version": int(version_number),
        "artifact_filename": artifact_filename,
        "format": fmt,
        "mlflow_root": mlflow_root or "",
        "trusted_types": list(trusted_types or ()),
        "input_schema": input_schema or {},
        "output_schema": output_schema or {},
    }


def render_dockerfile(*, model_name: str, version_number: int, lock: Lock | None) -> str:
    missing = [p for p in RUNTIME_PACKAGES if lock is None or lock.version_of(p) is None]
    if lock is None:
        install = f"RUN pip install --no-cache-dir {' '.join(missing)}"
    else:
        # One pip run, so the scripts' packages are resolved against the locked versions.
        install = "COPY requirements.lock ./\nRUN pip install --no-cache-dir -r requirements.lock"
        install += "".join(f" {p}" for p in missing)
    template = string.Template((TEMPLATES / "Dockerfile.template").read_text(encoding="utf-8"))
    return template.substitute(
        model_name=" ".join(str(model_name).split()),  # one line: it sits in a comment
        model_version=int(version_number),
        image=f"{_image_name(model_name)}:v{int(version_number)}",
        python=_python_minor(lock.python if lock else ""),
        install=install,
    )


def _image_name(model_name: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", str(model_name).lower()).strip("-._") or "model"


def _python_minor(python: str) -> str:
    try:
        version = Version(python)
    except (InvalidVersion, TypeError):
        return DEFAULT_PYTHON
    return f"{version.major}.{version.minor}"


def _json(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
