"""One FilterSet per model, shared by the pages and the API."""

import django_filters
from django.db.models import Q

from apps.core.severity import Severity
from apps.libraries.models import Advisory, LibraryFinding, LibraryRule


class AdvisoryFilter(django_filters.FilterSet):
    package = django_filters.CharFilter(field_name="affected__name", method="by_package")
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices)
    q = django_filters.CharFilter(method="search", label="id, alias or summary contains")

    class Meta:
        model = Advisory
        fields = ["package", "severity", "q"]

    def by_package(self, queryset, name, value):
        from packaging.utils import canonicalize_name

        return queryset.filter(affected__name=canonicalize_name(value)).distinct()

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(osv_id__icontains=value) | Q(summary__icontains=value) | Q(aliases__icontains=value)
        )


class LibraryFindingFilter(django_filters.FilterSet):
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices)
    status = django_filters.MultipleChoiceFilter(choices=LibraryFinding.Status.choices)
    kind = django_filters.ChoiceFilter(choices=LibraryFinding.Kind.choices)
    source = django_filters.ChoiceFilter(choices=LibraryFinding.Source.choices)
    package = django_filters.CharFilter(method="by_package")
    advisory = django_filters.CharFilter(field_name="osv_id")
    team = django_filters.CharFilter(method="by_team", label="team id or name")
    model = django_filters.CharFilter(method="by_model", label="model id or name")
    version = django_filters.NumberFilter(field_name="version_id")
    report = django_filters.NumberFilter(field_name="report_id")

    class Meta:
        model = LibraryFinding
        fields = ["severity", "status", "kind", "source", "package", "advisory", "team", "model", "version"]

    def by_package(self, queryset, name, value):
        from packaging.utils import canonicalize_name

        return queryset.filter(package=canonicalize_name(value))

    def by_team(self, queryset, name, value):
        field = "id" if value.isdigit() else "name__iexact"
        return queryset.filter(
            Q(**{f"version__model__team__{field}": value}) | Q(**{f"report__team__{field}": value})
        )

    def by_model(self, queryset, name, value):
        field = "version__model_id" if value.isdigit() else "version__model__name"
        return queryset.filter(**{field: value})


class LibraryRuleFilter(django_filters.FilterSet):
    rule = django_filters.ChoiceFilter(choices=LibraryRule.Rule.choices)
    package = django_filters.CharFilter()

    class Meta:
        model = LibraryRule
        fields = ["rule", "package"]
