"""One FilterSet per model, shared by the pages and the API."""

import django_filters

from apps.monitoring.models import Alert, CheckRun, Finding, Monitor


class MonitorFilter(django_filters.FilterSet):
    deployment = django_filters.NumberFilter(field_name="deployment_id")
    endpoint = django_filters.CharFilter(field_name="deployment__endpoint__name")
    environment = django_filters.CharFilter(field_name="deployment__endpoint__environment__name")
    model = django_filters.NumberFilter(field_name="deployment__version__model_id")
    enabled = django_filters.BooleanFilter()

    class Meta:
        model = Monitor
        fields = ["deployment", "endpoint", "environment", "model", "enabled"]


class CheckRunFilter(django_filters.FilterSet):
    monitor = django_filters.NumberFilter(field_name="monitor_id")
    status = django_filters.ChoiceFilter(choices=CheckRun.Status.choices)
    window = django_filters.CharFilter()
    trigger = django_filters.ChoiceFilter(choices=CheckRun.Trigger.choices)

    class Meta:
        model = CheckRun
        fields = ["monitor", "status", "window", "trigger"]


class FindingFilter(django_filters.FilterSet):
    run = django_filters.NumberFilter(field_name="run_id")
    flagged = django_filters.BooleanFilter()
    check = django_filters.CharFilter(field_name="check_name")
    feature = django_filters.CharFilter()

    class Meta:
        model = Finding
        fields = ["run", "flagged", "check", "feature"]


class AlertFilter(django_filters.FilterSet):
    monitor = django_filters.NumberFilter(field_name="monitor_id")
    model = django_filters.NumberFilter(field_name="monitor__deployment__version__model_id")
    state = django_filters.ChoiceFilter(choices=Alert.State.choices)
    severity = django_filters.ChoiceFilter(choices=Alert.Severity.choices)
    check = django_filters.CharFilter(field_name="check_name")
    feature = django_filters.CharFilter()

    class Meta:
        model = Alert
        fields = ["monitor", "model", "state", "severity", "check", "feature"]
