from django import forms

from apps.accounts import access
from apps.accounts.roles import Role
from apps.registry.models import Stage, TaskType
from apps.registry.names import ALLOWED, model_name_validator


class RegisterVersionForm(forms.Form):
    model = forms.CharField(
        max_length=100,
        label="Model name",
        validators=[model_name_validator],
        help_text=f"a new name creates the model; {ALLOWED}",
    )
    team = forms.ModelChoiceField(queryset=None, empty_label=None)
    task_type = forms.ChoiceField(choices=TaskType.choices, label="Task")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    artifact = forms.FileField(help_text="pickle, joblib, skops, ONNX, XGBoost, LightGBM, MLflow zip or .py")
    reference = forms.FileField(required=False, help_text="training data, CSV or Parquet")
    target = forms.CharField(required=False, help_text="the label column in the reference data, if any")
    requirements = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="one pinned library per line (scikit-learn==1.5.2): a file uploaded here brings no "
        "environment, so pin every library the model imports, or register it with the modelyard "
        "client, which reads them from your environment",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        teams = access.teams_visible_to(user)
        self.fields["team"].queryset = (
            teams if access.has_role(user, Role.ADMIN) else teams.filter(members=user)
        )


class StageForm(forms.Form):
    stage = forms.ChoiceField(choices=Stage.choices)
    reason = forms.CharField(max_length=500, required=False)
