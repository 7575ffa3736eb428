"""One FilterSet per model, shared by the list pages and the API."""

import django_filters

from apps.core.models import AuditEvent
from apps.registry.models import ModelVersion, RegisteredModel, Stage, TaskType


class RegisteredModelFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(field_name="name", lookup_expr="exact")
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")
    team = django_filters.CharFilter(field_name="team__slug", label="Team (slug)")
    task_type = django_filters.ChoiceFilter(choices=TaskType.choices)
    tag = django_filters.CharFilter(method="filter_tag", label="Tag")

    class Meta:
        model = RegisteredModel
        fields = ["name", "q", "team", "task_type", "tag"]

    def filter_tag(self, queryset, name, value):
        # JSON containment is not portable to SQLite; tags are few, so filter the ids in Python.
        ids = [pk for pk, tags in queryset.values_list("pk", "tags") if value in (tags or [])]
        return queryset.filter(pk__in=ids)


class ModelVersionFilter(django_filters.FilterSet):
    model = django_filters.NumberFilter(field_name="model_id")
    model_name = django_filters.CharFilter(field_name="model__name")
    team = django_filters.CharFilter(field_name="model__team__slug")
    stage = django_filters.ChoiceFilter(choices=Stage.choices)
    framework = django_filters.CharFilter()

    class Meta:
        model = ModelVersion
        fields = ["model", "model_name", "team", "stage", "framework", "number"]


class AuditEventFilter(django_filters.FilterSet):
    class Meta:
        model = AuditEvent
        fields = ["action", "object_type", "object_id"]
