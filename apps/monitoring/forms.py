"""Forms of the monitoring pages: a person's action on an alert, and a monitor's settings.

The forms only shape input; the rules (a reason for all but acknowledge, valid configs) are the
platform's (apps.monitoring.actions, apps.monitoring.config), whose errors are put back on the
form's fields."""

from django import forms
from django.core.exceptions import ValidationError

from apps.monitoring.config import BASELINES, CORRECTIONS, EFFECTS, TESTS, WINDOWS
from apps.monitoring.models import AlertAction

# The floors a monitor can set per check (feature floors go with the per-feature overrides).
FLOOR_CHECKS = (
    "drift",
    "prediction_drift",
    "score_drift",
    "class_share",
    "null_rate",
    "zero_rate",
    "out_of_range",
    "unseen_categories",
    "type_errors",
)


class AlertActionForm(forms.Form):
    action = forms.ChoiceField(choices=AlertAction.Kind.choices, widget=forms.HiddenInput)
    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 50}),
        help_text="who reads the history later needs to know why (not needed to acknowledge)",
    )

    def add_service_error(self, exc: ValidationError) -> None:
        """The service's errors on this form: 'reason' on its field, anything else above it."""
        errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
        for field, messages in errors.items():
            if field == "reason":
                self.add_error("reason", messages)
            else:
                self.add_error(None, [f"{field}: {m}" if field else m for m in messages])


def _field_name(feature: str, part: str) -> str:
    return f"override__{part}__{feature}"


class MonitorSettingsForm(forms.Form):
    """Every setting a data scientist tunes, with a test/effect/floor override row per feature."""

    enabled = forms.BooleanField(required=False, help_text="off: no scheduled check runs")
    windows = forms.MultipleChoiceField(
        choices=[(w, w) for w in WINDOWS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="which windows each scheduled run checks",
    )
    baseline = forms.ChoiceField(
        choices=[(b, b) for b in BASELINES],
        help_text="the version's reference data, or the window before the one checked",
    )
    q = forms.FloatField(
        label="q",
        help_text="false-discovery rate (BH) or family-wise level (Bonferroni) of one run",
    )
    correction = forms.ChoiceField(choices=[(c, c) for c in CORRECTIONS])
    schedule_minutes = forms.IntegerField(label="run every (minutes)")
    min_rows = forms.IntegerField(label="minimum predictions per window")

    def __init__(self, *args, features: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.features = features
        for check in FLOOR_CHECKS:
            self.fields[f"floor__{check}"] = forms.FloatField(
                required=False, label=check.replace("_", " "), widget=forms.NumberInput(attrs={"step": "any"})
            )
        blank = [("", "default")]
        for feature in features:
            self.fields[_field_name(feature, "test")] = forms.ChoiceField(
                required=False, choices=blank + [(t, t) for t in TESTS], label=f"{feature} test"
            )
            self.fields[_field_name(feature, "effect")] = forms.ChoiceField(
                required=False, choices=blank + [(e, e) for e in EFFECTS], label=f"{feature} effect"
            )
            self.fields[_field_name(feature, "floor")] = forms.FloatField(
                required=False, label=f"{feature} floor", widget=forms.NumberInput(attrs={"step": "any"})
            )

    @classmethod
    def initial_from(cls, config: dict, enabled: bool) -> dict:
        initial = {key: config.get(key) for key in ("windows", "baseline", "q", "correction")}
        initial.update(
            enabled=enabled,
            schedule_minutes=config.get("schedule_minutes"),
            min_rows=config.get("min_rows"),
        )
        for check, value in (config.get("floors") or {}).items():
            initial[f"floor__{check}"] = value
        for feature, override in (config.get("overrides") or {}).items():
            for part, value in override.items():
                initial[_field_name(feature, part)] = value
        return initial

    def floor_fields(self):
        return [self[f"floor__{check}"] for check in FLOOR_CHECKS]

    def override_rows(self):
        return [
            (feature, [self[_field_name(feature, p)] for p in ("test", "effect", "floor")])
            for feature in self.features
        ]

    def config_changes(self) -> dict:
        """The cleaned form as the top-level config keys it sets (the platform validates them)."""
        data = self.cleaned_data
        floors = {c: data[f"floor__{c}"] for c in FLOOR_CHECKS if data.get(f"floor__{c}") is not None}
        overrides = {}
        for feature in self.features:
            override = {
                part: data[_field_name(feature, part)]
                for part in ("test", "effect", "floor")
                if data.get(_field_name(feature, part)) not in (None, "")
            }
            if override:
                overrides[feature] = override
        return {
            "windows": data["windows"],
            "baseline": data["baseline"],
            "q": data["q"],
            "correction": data["correction"],
            "schedule_minutes": data["schedule_minutes"],
            "min_rows": data["min_rows"],
            "floors": floors,
            "overrides": overrides,
        }

    def add_config_errors(self, exc: ValidationError) -> None:
        """config.<key>[.<feature>] errors from apps.monitoring.config onto the matching fields."""
        errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
        for key, messages in errors.items():
            parts = (key or "").split(".")
            name = parts[1] if len(parts) > 1 and parts[0] == "config" else None
            if name == "overrides" and len(parts) > 2:
                field = _field_name(".".join(parts[2:]), "test")
                self.add_error(field if field in self.fields else None, messages)
            elif name == "floors":
                self.add_error(None, [f"floors: {m}" for m in messages])
            elif name in self.fields:
                self.add_error(name, messages)
            else:
                self.add_error(None, [f"{key}: {m}" if key else m for m in messages])
