"""What a KPI definition says, checked and compiled (no Django).

``params`` per kind (every text is an expression of apps/kpis/expressions.py):

    share        {"condition": 'prediction == "good"'}
                 the share of predictions meeting the condition (approval rate)
    rate_among   {"among": 'prediction == "good"', "condition": 'outcome == "bad"'}
                 the share meeting ``condition`` among those meeting ``among`` (default rate among
                 approved)
    mean, sum    {"value": "inputs.Amount * 0.1"}
                 or {"by_outcome": {"good": "0.1 * inputs.Amount", "bad": "-inputs.Amount"},
                     "otherwise": "0"}            (otherwise is optional)
                 a value per prediction, averaged or added up (expected profit)

``segments`` is a list of conditions every counted prediction must meet (``inputs.Home == "rent"``).
A KPI that reads ``outcome`` (or values by outcome) counts only predictions whose outcome arrived.

Errors are a dict from the field's path (``params.condition``, ``segments[1]``) to a sentence."""

from dataclasses import dataclass, field

from apps.kpis.expressions import Expression, ExpressionError, Row, label, parse

KINDS = ("share", "rate_among", "mean", "sum")
PARAMS = {
    "share": {"condition"},
    "rate_among": {"among", "condition"},
    "mean": {"value", "by_outcome", "otherwise"},
    "sum": {"value", "by_outcome", "otherwise"},
}
EXAMPLES = {
    "share": '{"condition": "prediction == \\"good\\""}',
    "rate_among": '{"among": "prediction == \\"good\\"", "condition": "outcome == \\"bad\\""}',
    "mean": '{"value": "inputs.Amount"} or '
    '{"by_outcome": {"good": "0.1 * inputs.Amount", "bad": "-inputs.Amount"}}',
}
EXAMPLES["sum"] = EXAMPLES["mean"]


class DefinitionError(ValueError):
    """Field path → message, for the API's field errors."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class CompiledKpi:
    kind: str
    segments: tuple[Expression, ...] = ()
    condition: Expression | None = None
    among: Expression | None = None
    value: Expression | None = None
    by_outcome: dict = field(default_factory=dict)  # outcome label → Expression
    otherwise: Expression | None = None

    def expressions(self) -> dict[str, Expression]:
        """Every expression by the path a message names it with."""
        found = {f"segments[{i}]": e for i, e in enumerate(self.segments)}
        for name in ("condition", "among", "value", "otherwise"):
            if getattr(self, name) is not None:
                found[f"params.{name}"] = getattr(self, name)
        found |= {f"params.by_outcome.{k}": e for k, e in self.by_outcome.items()}
        return found

    @property
    def needs_outcome(self) -> bool:
        return bool(self.by_outcome) or any(e.needs_outcome for e in self.expressions().values())

    def value_of(self, row: Row) -> float | None:
        """mean/sum: the row's value, None when it cannot be valued."""
        if self.value is not None:
            return self.value.number(row)
        chosen = self.by_outcome.get(str(label(row.outcome)), self.otherwise)
        return None if chosen is None else chosen.number(row)


def _expression(errors: dict, path: str, text) -> Expression | None:
    if not isinstance(text, str):
        errors[path] = 'must be an expression (text), e.g. prediction == "good"'
        return None
    try:
        return parse(text)
    except ExpressionError as exc:
        errors[path] = str(exc)
        return None


def compile_kpi(kind: str, params, segments) -> CompiledKpi:
    """Parse a definition's expressions; DefinitionError names every problem by its path."""
    if kind not in KINDS:
        raise DefinitionError({"kind": f"'{kind}' is not one of {', '.join(KINDS)}"})
    errors: dict[str, str] = {}
    if not isinstance(params, dict):
        raise DefinitionError({"params": f"must be an object, e.g. {EXAMPLES[kind]}"})
    unknown = sorted(set(params) - PARAMS[kind])
    if unknown:
        errors["params"] = f"{', '.join(unknown)} not used by a {kind} KPI; expected e.g. {EXAMPLES[kind]}"
    if segments is None:
        segments = []
    if not isinstance(segments, list):
        errors["segments"] = 'must be a list of conditions, e.g. ["inputs.Home == \\"rent\\""]'
        segments = []
    compiled_segments = tuple(
        e for i, text in enumerate(segments) if (e := _expression(errors, f"segments[{i}]", text))
    )
    values: dict = {"kind": kind, "segments": compiled_segments}
    required = {"share": ["condition"], "rate_among": ["among", "condition"]}.get(kind, [])
    for name in required:
        if name not in params:
            errors[f"params.{name}"] = f"a {kind} KPI needs it; e.g. {EXAMPLES[kind]}"
        else:
            values[name] = _expression(errors, f"params.{name}", params[name])
    if kind in ("mean", "sum"):
        _compile_value(errors, params, values)
    if errors:
        raise DefinitionError(errors)
    return CompiledKpi(**values)


def _compile_value(errors: dict, params: dict, values: dict) -> None:
    has_value, has_mapping = "value" in params, "by_outcome" in params
    if has_value == has_mapping:
        errors["params.value"] = f"give either value or by_outcome, e.g. {EXAMPLES['mean']}"
        return
    if has_value:
        values["value"] = _expression(errors, "params.value", params["value"])
        if "otherwise" in params:
            errors["params.otherwise"] = "only used with by_outcome"
        return
    mapping = params["by_outcome"]
    if not isinstance(mapping, dict) or not mapping:
        errors["params.by_outcome"] = 'must map outcomes to values, e.g. {"good": "0.1 * inputs.Amount"}'
        return
    values["by_outcome"] = {
        str(label(k)): e
        for k, text in mapping.items()
        if (e := _expression(errors, f"params.by_outcome.{k}", text))
    }
    if params.get("otherwise") is not None:
        values["otherwise"] = _expression(errors, "params.otherwise", params["otherwise"])


def check_fields(compiled: CompiledKpi, *, features: set[str], has_scores: bool) -> dict[str, str]:
    """Fields the model does not have: ``inputs.X`` not in its input schema, ``score`` for a model
    that gives no probabilities. Path → message naming the field."""
    errors: dict[str, str] = {}
    for path, expression in compiled.expressions().items():
        problems = []
        for name in sorted(expression.fields):
            if name.startswith("inputs.") and name[len("inputs.") :] not in features:
                known = ", ".join(sorted(features)[:30])
                problems.append(f"'{name}': the model has no input field '{name[7:]}' (it has {known})")
            elif name == "score" and not has_scores:
                problems.append("'score': the model gives no class probabilities to take a score from")
        if problems:
            errors[path] = "; ".join(problems)
    return errors
