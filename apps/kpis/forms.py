"""The KPI form: what a KPI measures in the words of apps/kpis/definitions.py, one box per part
(condition, subset, value or value by outcome, segment filters one per line), so a business owner
never writes JSON. The checks are the service's (kpi_validate); its errors, keyed by a field's path
(``params.condition``, ``segments[1]``), are put back on the box they concern."""

import json

from django import forms

from apps.accounts import limits
from apps.kpis.models import KpiDefinition

# The service's error paths → the form's fields.
_PATHS = {
    "params.condition": "condition",
    "params.among": "among",
    "params.value": "value",
    "params.otherwise": "by_outcome",
    "params": "condition",
    "deployment_ids": "endpoint",
}
HELP = {
    "condition": 'share: which predictions count, e.g. prediction == "good"; rate among: the rate\'s '
    'condition, e.g. outcome == "bad"',
    "among": 'rate among a subset only: the subset, e.g. prediction == "good"',
    "value": "mean or sum: a value per prediction, e.g. 0.1 * inputs.Amount",
    "by_outcome": "mean or sum, instead of a value: one line per outcome, e.g. good: 0.1 * inputs.Amount",
    "segments": "optional: conditions every counted prediction meets, one per line, "
    'e.g. inputs.Home == "rent"',
}


class KpiForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    model = forms.ModelChoiceField(queryset=None, help_text="the models you may define KPIs for")
    endpoint = forms.CharField(max_length=200, initial="credit-risk")
    environment = forms.CharField(max_length=50, initial="production")
    kind = forms.ChoiceField(choices=KpiDefinition.Kind.choices)
    condition = forms.CharField(required=False, help_text=HELP["condition"])
    among = forms.CharField(required=False, help_text=HELP["among"])
    value = forms.CharField(required=False, help_text=HELP["value"])
    by_outcome = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text=HELP["by_outcome"]
    )
    segments = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text=HELP["segments"]
    )
    window = forms.ChoiceField(choices=KpiDefinition.Window.choices)
    unit = forms.ChoiceField(choices=KpiDefinition.Unit.choices)
    currency = forms.CharField(max_length=8, required=False)
    decimals = forms.IntegerField(min_value=0, max_value=6, initial=1)
    target = forms.FloatField(required=False, help_text="for percent KPIs as a fraction: 0.8 is 80%")
    band_low = forms.FloatField(required=False)
    band_high = forms.FloatField(required=False)

    def __init__(self, *args, models=None, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].queryset = models
        if editing:
            self.fields["model"].disabled = True

    def clean_by_outcome(self) -> dict | None:
        text = self.cleaned_data.get("by_outcome", "").strip()
        if not text:
            return None
        if text.startswith("{"):
            try:
                mapping = limits.json_loads(text)
            except json.JSONDecodeError as exc:
                raise forms.ValidationError(f"not valid JSON: {exc.msg} at character {exc.pos}") from exc
            except limits.TooDeep as exc:
                raise forms.ValidationError(str(exc)) from exc
            return mapping
        mapping = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            outcome, sep, value = line.partition(":")
            if not sep or not outcome.strip() or not value.strip():
                raise forms.ValidationError(
                    f"line {number}: write 'outcome: value', e.g. bad: -inputs.Amount"
                )
            mapping[outcome.strip()] = value.strip()
        return mapping

    def clean_segments(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data.get("segments", "").splitlines() if line.strip()]

    def definition(self) -> dict:
        """The service's keyword arguments (model excluded)."""
        data = self.cleaned_data
        kind = data["kind"]
        if kind == "share":
            params = {"condition": data["condition"]}
        elif kind == "rate_among":
            params = {"among": data["among"], "condition": data["condition"]}
        elif data.get("by_outcome"):
            params = {"by_outcome": data["by_outcome"]}
        else:
            params = {"value": data["value"]}
        return {
            "name": data["name"],
            "description": data["description"],
            "endpoint": data["endpoint"],
            "environment": data["environment"],
            "kind": kind,
            "params": params,
            "segments": data["segments"],
            "window": data["window"],
            "unit": data["unit"],
            "currency": data["currency"],
            "decimals": data["decimals"],
            "target": data["target"],
            "band_low": data["band_low"],
            "band_high": data["band_high"],
        }

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        """Put each of the service's errors on the field it names (``segments[1]`` on segments,
        ``params.by_outcome.bad`` on by_outcome), keeping the path in the message."""
        for path, messages in errors.items():
            if path in self.fields:
                field = path
            elif path.startswith("segments"):
                field = "segments"
            elif path.startswith("deployment_ids"):
                field = "endpoint"
            elif path.startswith("params.by_outcome"):
                field = "by_outcome"
            else:
                field = _PATHS.get(path)
            for message in messages:
                text = message if field == path else f"{path}: {message}"
                self.add_error(field, text)


def initial_for(kpi: KpiDefinition) -> dict:
    params = kpi.params or {}
    mapping = params.get("by_outcome") or {}
    return {
        "name": kpi.name,
        "description": kpi.description,
        "model": kpi.model_id,
        "endpoint": kpi.endpoint,
        "environment": kpi.environment,
        "kind": kpi.kind,
        "condition": params.get("condition", ""),
        "among": params.get("among", ""),
        "value": params.get("value", ""),
        "by_outcome": "\n".join(f"{k}: {v}" for k, v in mapping.items()),
        "segments": "\n".join(kpi.segments or []),
        "window": kpi.window,
        "unit": kpi.unit,
        "currency": kpi.currency,
        "decimals": kpi.decimals,
        "target": kpi.target,
        "band_low": kpi.band_low,
        "band_high": kpi.band_high,
    }
