"""Validation tests: does the model still give the results we expect? No Django.

The sandbox (apps.packaging.sandbox) loads the model and predicts; these functions prepare what it
predicts on and judge its answers. A report is a list of checks, each pass / fail / skip / info,
with the numbers behind it.
"""

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from apps.packaging.metrics import METRICS

SAMPLE_ROWS = 500
NULL_ROWS = 20


@dataclass
class Check:
    name: str
    status: str  # pass, fail, skip or info
    detail: str
    value: float | None = None
    threshold: float | None = None


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    sample_rows: int = 0
    holdout_rows: int = 0

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.status != "fail" for c in self.checks)

    def add(self, *args, **kwargs) -> Check:
        check = Check(*args, **kwargs)
        self.checks.append(check)
        return check

    def as_dict(self) -> dict:
        return {
            "passed": self.passed,
            "sample_rows": self.sample_rows,
            "holdout_rows": self.holdout_rows,
            "checks": [asdict(c) for c in self.checks],
        }


def feature_names(schema: dict) -> list[str]:
    return [f["name"] for f in schema.get("features", [])]


def reference_sample(reference: pd.DataFrame, schema: dict, rows: int = SAMPLE_ROWS, seed: int = 0):
    """A fixed sample of the reference rows, features only, in schema order."""
    columns = feature_names(schema)
    n = min(rows, len(reference))
    return reference[columns].sample(n=n, random_state=seed).reset_index(drop=True)


def null_sample(sample: pd.DataFrame, schema: dict, rows: int = NULL_ROWS) -> pd.DataFrame | None:
    """Rows with a null in each nullable feature in turn: the schema says the model must cope."""
    nullable = [f["name"] for f in schema.get("features", []) if f.get("nullable")]
    if not nullable or sample.empty:
        return None
    out = sample.head(rows).copy().reset_index(drop=True)
    for i in range(len(out)):
        column = nullable[i % len(nullable)]
        out[column] = out[column].astype(object) if out[column].dtype.kind in "iub" else out[column]
        out.loc[i, column] = None
    return out


def _as_str(values) -> list[str]:
    return [str(v) for v in values]


def _numbers(values) -> np.ndarray:
    """Floats, with NaN where a value is not a number (a label where numbers were expected)."""
    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float)


def check_outputs(report: Report, response: dict, output_schema: dict, n: int) -> None:
    predictions = response.get("predictions") or []
    if len(predictions) != n:
        report.add("predicts on the reference sample", "fail", f"{len(predictions)} predictions for {n} rows")
        return
    report.add("predicts on the reference sample", "pass", f"{n} rows scored")
    outputs = {o["name"]: o for o in output_schema.get("outputs", [])}
    problems = []
    prediction = outputs.get("prediction")
    if prediction and prediction.get("type") == "categorical":
        unknown = sorted(set(_as_str(predictions)) - set(prediction.get("categories", [])))
        if unknown:
            problems.append(f"labels not in the output schema: {', '.join(unknown[:5])}")
    elif prediction and prediction.get("type") == "number":
        values = _numbers(predictions)
        if not np.all(np.isfinite(values)):
            odd = [str(p) for p, v in zip(predictions, values, strict=True) if not np.isfinite(v)]
            problems.append(
                f"the output schema says numbers, but {len(odd)} of {n} predictions are not finite numbers "
                f"(e.g. {', '.join(repr(o) for o in odd[:3])})"
            )
    probabilities = response.get("probabilities")
    if probabilities is not None:
        proba = np.asarray(probabilities, dtype=float)
        if proba.ndim != 2 or np.any(proba < -1e-9) or np.any(proba > 1 + 1e-9):
            problems.append("probabilities are not an n×k matrix of values in [0, 1]")
        elif not np.allclose(proba.sum(axis=1), 1.0, atol=1e-4):
            problems.append("probabilities of a row do not sum to 1")
        expected = outputs.get("probabilities", {}).get("classes")
        classes = response.get("classes")
        if expected and classes is not None and _as_str(classes) != list(expected):
            problems.append(f"classes {_as_str(classes)} differ from the output schema's {expected}")
    if not outputs:
        report.add("outputs match the output schema", "skip", "no output schema was registered")
    elif problems:
        report.add("outputs match the output schema", "fail", "; ".join(problems))
    else:
        report.add("outputs match the output schema", "pass", "labels, values and probabilities conform")


def check_holdout(
    report: Report, response: dict, labels: pd.Series, task_type: str, thresholds: dict, start: int
) -> None:
    """Metrics on the labelled holdout rows, which follow the reference sample in the predictions."""
    if not thresholds:
        report.add("holdout metric", "skip", "no metric threshold was declared")
        return
    predictions = np.asarray(response["predictions"][start:], dtype=object)
    proba = response.get("probabilities")
    proba = np.asarray(proba[start:], dtype=float) if proba is not None else None
    classes = response.get("classes")
    y_true = labels.to_numpy()
    if task_type != "regression":
        y_true, predictions = np.asarray(_as_str(y_true)), np.asarray(_as_str(predictions))
        classes = _as_str(classes) if classes is not None else sorted(set(y_true))
    else:
        y_true, predictions = _numbers(y_true), _numbers(predictions)
        labels_ok, predictions_ok = np.isfinite(y_true).all(), np.isfinite(predictions).all()
        if not (labels_ok and predictions_ok):
            detail = f"a regression needs numbers; some {'predictions' if labels_ok else 'labels'} are not"
            for name, bound in thresholds.items():
                report.add(f"holdout {name}", "fail", detail, threshold=bound)
            return
    for name, bound in thresholds.items():
        metric = METRICS[name]
        if metric.needs_probabilities and proba is None:
            report.add(f"holdout {name}", "fail", "the model gives no probabilities", threshold=bound)
            continue
        try:
            value = float(metric.compute(y_true, predictions, proba, classes))
        except ValueError as exc:
            report.add(f"holdout {name}", "fail", f"cannot be computed: {exc}", threshold=bound)
            continue
        ok = value >= bound if metric.higher_is_better else value <= bound
        sign = "≥" if metric.higher_is_better else "≤"
        report.add(
            f"holdout {name}",
            "pass" if ok else "fail",
            f"{name} = {value:.4f} on {len(y_true)} holdout rows; required {sign} {bound}",
            value=value,
            threshold=bound,
        )


def check_latency(report: Report, response: dict, budget_ms: float) -> None:
    latency = float(response.get("latency_ms_per_row") or 0.0)
    status = "pass" if latency <= budget_ms else "fail"
    report.add(
        "latency per row",
        status,
        f"{latency:.3f} ms per row on this machine; budget {budget_ms} ms",
        value=latency,
        threshold=budget_ms,
    )


def check_changed_predictions(
    report: Report, current: list, previous: list | None, why_not: str = ""
) -> None:
    if previous is None:
        report.add("changed predictions vs previous version", "skip", why_not or "no previous version")
        return
    a, b = np.asarray(_as_str(current)), np.asarray(_as_str(previous[: len(current)]))
    share = float(np.mean(a != b)) if len(a) else 0.0
    report.add(
        "changed predictions vs previous version",
        "info",
        f"{share:.1%} of {len(a)} reference rows get a different prediction",
        value=share,
    )


def decode_labels(response: dict, output_schema: dict) -> dict:
    """Native XGBoost and LightGBM files and many ONNX graphs only know class indices 0..k-1.
    When the output schema names k classes, index i means the i-th class (the order a
    LabelEncoder gives), so predictions are compared in the schema's own labels."""
    outputs = {o["name"]: o for o in output_schema.get("outputs", [])}
    categories = (outputs.get("prediction") or {}).get("categories")
    classes = response.get("classes")
    if not categories or classes is None or len(classes) != len(categories):
        return response
    if not all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        return response
    if sorted(classes) != list(range(len(categories))) or _as_str(classes) == list(categories):
        return response
    predictions = [_category(p, categories) for p in response["predictions"]]
    return {**response, "predictions": predictions, "classes": [categories[int(c)] for c in classes]}


def _category(value, categories: list):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    if number.is_integer() and 0 <= number < len(categories):
        return categories[int(number)]
    return value


def evaluate(
    *,
    response: dict,
    sample_rows: int,
    output_schema: dict,
    task_type: str,
    latency_budget_ms: float,
    holdout_labels: pd.Series | None = None,
    thresholds: dict | None = None,
    previous_predictions: list | None = None,
    previous_note: str = "",
) -> Report:
    """Judge one sandbox response. The response's predictions cover the reference sample first
    and then, when given, the holdout rows."""
    report = Report(
        sample_rows=sample_rows, holdout_rows=len(holdout_labels) if holdout_labels is not None else 0
    )
    if not response.get("ok"):
        stage = response.get("stage", "load")
        name = "loads" if stage in ("load", "request", "timeout", "crashed", "sandbox") else f"{stage} runs"
        report.add(name, "fail", response.get("error", "the sandbox gave no answer"))
        return report
    response = decode_labels(response, output_schema)
    report.add("loads", "pass", f"loaded in {response.get('load_seconds', 0):.2f} s ({response.get('kind')})")
    total = sample_rows + report.holdout_rows
    scored = len(response.get("predictions") or [])
    if scored != total:
        report.add("predicts on the reference sample", "fail", f"{scored} predictions for {total} rows")
        return report
    proba = response.get("probabilities")
    sample_only = {
        **response,
        "predictions": response["predictions"][:sample_rows],
        "probabilities": proba[:sample_rows] if proba is not None else None,
    }
    check_outputs(report, sample_only, output_schema, sample_rows)
    report.add(
        "same input gives the same output",
        "pass" if response.get("deterministic") else "fail",
        "two runs agree" if response.get("deterministic") else "two runs on the same rows disagree",
    )
    nulls = response.get("null_rows")
    if nulls is None:
        report.add("rows with allowed nulls", "skip", "no feature is nullable")
    else:
        report.add(
            "rows with allowed nulls",
            "pass" if nulls.get("ok") else "fail",
            f"{nulls.get('rows')} rows with nulls scored"
            if nulls.get("ok")
            else f"crashed: {nulls.get('error')}",
        )
    check_latency(report, response, latency_budget_ms)
    if holdout_labels is not None and report.holdout_rows:
        check_holdout(report, response, holdout_labels, task_type, thresholds or {}, sample_rows)
    elif thresholds:
        report.add("holdout metric", "fail", "metric thresholds were declared but no holdout data was given")
    else:
        report.add("holdout metric", "skip", "no holdout data was registered")
    check_changed_predictions(
        report, response["predictions"][:sample_rows], previous_predictions, previous_note
    )
    return report


def synthetic_sample(schema: dict, rows: int = 50, seed: int = 0) -> pd.DataFrame:
    """Rows drawn from the schema alone (ranges and categories), for versions registered without
    reference data: enough to prove the model loads and scores input of the declared shape."""
    rng = np.random.default_rng(seed)
    columns = {}
    for f in schema.get("features", []):
        kind = f.get("type")
        if kind in ("number", "integer"):
            lo, hi = float(f.get("min", 0.0)), float(f.get("max", 1.0))
            values = rng.uniform(lo, max(hi, lo), rows)
            columns[f["name"]] = np.round(values).astype(int) if kind == "integer" else values
        elif kind == "boolean":
            columns[f["name"]] = rng.integers(0, 2, rows).astype(bool)
        elif kind == "categorical" and f.get("categories"):
            columns[f["name"]] = rng.choice(f["categories"], rows)
        else:
            columns[f["name"]] = ["sample text"] * rows
    return pd.DataFrame(columns)
