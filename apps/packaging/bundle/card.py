"""A model card in Markdown for a model package: what the model is for, who owns it, what it takes and
gives, how it was checked, and how to run it. Every field may be missing; the card says so."""

import json
import re

from apps.packaging.bundle.lock import DECLARED, Lock

NOT_GIVEN = "_not given_"
_MAX_CATEGORIES_SHOWN = 12
_MAX_PACKAGES_SHOWN = 60


def render_model_card(*, model: dict, version: dict, validation: dict | None, lock: Lock) -> str:
    model, version = model or {}, version or {}
    sections = [
        _title(model, version),
        _intended_use(model, version),
        _facts(model, version),
        _inputs(version.get("input_schema") or {}),
        _outputs(version.get("output_schema") or {}),
        _metrics(version.get("metrics") or {}),
        _validation(validation),
        _environment(lock),
        _how_to_run(model, version),
    ]
    return "\n\n".join(sections) + "\n"


def _title(model: dict, version: dict) -> str:
    name = _inline(model.get("name") or "unnamed model")
    return f"# Model card: {name}, version {version.get('number', '?')}"


def _intended_use(model: dict, version: dict) -> str:
    lines = ["## Intended use", "", _paragraph(model.get("description")) or "_No description was given._"]
    if version.get("description"):
        lines += ["", f"This version: {_paragraph(version['description'])}"]
    return "\n".join(lines)


def _facts(model: dict, version: dict) -> str:
    safe = version.get("safe_format")
    safety = {
        True: "yes: loading it cannot run code",
        False: "no: loading it can run arbitrary code, so load it only from a trusted registry",
    }.get(safe, "unknown")
    rows = [
        ("Owner team", _label(model.get("team"))),
        ("Business owner", _label(model.get("business_owner"))),
        ("Task", _humanize(model.get("task_type"))),
        ("Framework", _inline(version.get("framework"))),
        ("Format", _inline(version.get("format"))),
        ("Safe format", safety),
        ("Artifact", _inline(version.get("artifact_filename"))),
        ("Artifact SHA-256", _code(version.get("artifact_sha256"))),
        ("Stage", _humanize(version.get("stage"))),
        ("Code commit", _code(version.get("code_commit"))),
        ("Training data", _inline(version.get("data_uri"))),
        ("Target column", _inline(version.get("target_column"))),
        ("Registered", _inline(version.get("created_at"))),
    ]
    return "## Overview\n\n" + _table(["Field", "Value"], rows)


def _inputs(schema: dict) -> str:
    features = [f for f in schema.get("features") or [] if isinstance(f, dict)]
    if not features:
        return "## Inputs\n\nNo input schema was recorded."
    rows = [
        (
            _code(f.get("name")),
            _inline(f.get("type")),
            "yes" if f.get("nullable") else "no",
            _allowed(f),
        )
        for f in features
    ]
    return "## Inputs\n\n" + _table(["Feature", "Type", "Nullable", "Allowed values"], rows)


def _outputs(schema: dict) -> str:
    outputs = [o for o in schema.get("outputs") or [] if isinstance(o, dict)]
    if not outputs:
        return "## Outputs\n\nNo output schema was recorded."
    rows = [
        (_code(o.get("name")), _inline(o.get("type")), _values(o.get("categories") or o.get("classes")))
        for o in outputs
    ]
    return "## Outputs\n\n" + _table(["Output", "Type", "Values"], rows)


def _metrics(metrics: dict) -> str:
    if not isinstance(metrics, dict) or not metrics:
        return "## Training metrics\n\nNo training metrics were recorded."
    rows = [(_inline(name), _number(value)) for name, value in sorted(metrics.items())]
    return "## Training metrics\n\n" + _table(["Metric", "Value"], rows)


def _validation(validation: dict | None) -> str:
    if not validation:
        return "## Validation\n\nThis version has not been validated."
    checks = validation.get("checks") or []
    if isinstance(checks, dict):  # {name: {status, detail}} as well as [{name, status, detail}]
        checks = [{"name": n, **(c if isinstance(c, dict) else {"status": c})} for n, c in checks.items()]
    lines = ["## Validation", ""]
    overall = validation.get("status") or {True: "passed", False: "failed"}.get(validation.get("passed"))
    if overall:
        lines += [f"Overall: **{_inline(overall)}**{_rows_checked(validation)}", ""]
    rows = [
        (_inline(c.get("name")), _inline(c.get("status")), _inline(c.get("detail") or c.get("message")))
        for c in checks
        if isinstance(c, dict)
    ]
    lines.append(_table(["Check", "Status", "Detail"], rows) if rows else "No checks were recorded.")
    return "\n".join(lines)


def _rows_checked(validation: dict) -> str:
    counts = [
        f"{validation[key]} {label} rows"
        for key, label in (("sample_rows", "reference"), ("holdout_rows", "holdout"))
        if validation.get(key)
    ]
    return f", on {' and '.join(counts)}" if counts else ""


def _environment(lock: Lock) -> str:
    declared = sum(1 for e in lock.entries if e.source == DECLARED)
    lines = [
        "## Environment",
        "",
        f"Python {_inline(lock.python) if lock.python else 'version unknown'}; "
        f"{_count(len(lock.entries), 'pinned package')} in `requirements.lock`"
        + (f" ({declared} pinned from the declared requirements only)" if declared else "")
        + ".",
    ]
    shown = lock.entries[:_MAX_PACKAGES_SHOWN]
    if shown:
        lines += ["", ", ".join(f"`{e.name}=={e.version}`" for e in shown)]
        if len(lock.entries) > len(shown):
            lines[-1] += f" and {len(lock.entries) - len(shown)} more"
    if lock.problems:
        lines += ["", "Problems with the lock:", ""] + [f"- {_inline(p)}" for p in lock.problems]
    return "\n".join(lines)


def _how_to_run(model: dict, version: dict) -> str:
    image = re.sub(r"[^a-z0-9._-]+", "-", str(model.get("name") or "model").lower()).strip("-._") or "model"
    tag = f"{image}:v{version.get('number', 0)}"
    example = _shell_quoted(json.dumps({"records": [_example_record(version.get("input_schema") or {})]}))
    return "\n".join(
        [
            "## How to run",
            "",
            "With Docker:",
            "",
            "```sh",
            f"docker build -t {tag} .",
            f"docker run --rm -p 8080:8080 {tag}",
            "```",
            "",
            "Or with Python, after `pip install -r requirements.lock pandas numpy pyarrow`:",
            "",
            "```sh",
            "python serve.py                       # HOST, PORT (8080), MODEL_DIR, MAX_BODY_BYTES",
            "python batch.py input.csv scored.csv  # or .parquet",
            "# Values outside the schema's range are scored; to refuse them for some features:",
            "REFUSE_OUTSIDE_RANGE=Age,Home python serve.py",
            "python batch.py --refuse-outside-range Age,Home input.csv scored.csv",
            "```",
            "",
            "Then:",
            "",
            "```sh",
            "curl localhost:8080/health",
            f"curl -X POST localhost:8080/predict -H 'Content-Type: application/json' -d '{example}'",
            "```",
        ]
    )


def _example_record(schema: dict) -> dict:
    """A record built from the schema alone (its first category, its minimum), to show the shape."""
    examples = {
        "number": lambda f: f.get("min", 0.0),
        "integer": lambda f: f.get("min", 0),
        "boolean": lambda f: True,
        "categorical": lambda f: (f.get("categories") or ["a"])[0],
        "text": lambda f: "some text",
        "datetime": lambda f: "2024-01-01T00:00:00",
    }
    return {
        str(f["name"]): examples.get(f.get("type"), lambda f: None)(f)
        for f in schema.get("features") or []
        if isinstance(f, dict) and "name" in f
    }


def _allowed(feature: dict) -> str:
    if feature.get("categories"):
        return _values(feature["categories"])
    low, high = feature.get("min"), feature.get("max")
    if low is None and high is None:
        return "any"
    return f"{_number(low) if low is not None else '…'} to {_number(high) if high is not None else '…'}"


def _values(values) -> str:
    if not values:
        return ""
    shown = ", ".join(_inline(v) for v in list(values)[:_MAX_CATEGORIES_SHOWN])
    more = len(values) - _MAX_CATEGORIES_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def _table(header: list[str], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) if cell != "" else " " for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _label(value) -> str:
    """A team or person given as a name or as a dict of a serializer's fields."""
    if isinstance(value, dict):
        for key in ("name", "full_name", "display_name", "username", "email", "slug"):
            if value.get(key):
                return _inline(value[key])
        return NOT_GIVEN
    return _inline(value)


def _humanize(code) -> str:
    return _inline(str(code).replace("_", " ").capitalize()) if code else NOT_GIVEN


def _number(value) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _inline(value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _code(value) -> str:
    return f"`{str(value).replace('`', '')}`" if value else NOT_GIVEN


def _inline(value) -> str:
    """Text for one table cell or line: no line breaks, and '|' cannot end the cell."""
    if value is None or value == "":
        return NOT_GIVEN
    return " ".join(str(value).split()).replace("|", "\\|")


def _paragraph(value) -> str:
    return str(value).strip() if value else ""


def _shell_quoted(text: str) -> str:
    return text.replace("'", "'\\''")
