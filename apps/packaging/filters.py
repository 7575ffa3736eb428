import django_filters

from apps.packaging.models import PackageBuild


class PackageBuildFilter(django_filters.FilterSet):
    # A number, not a choice: an unknown or invisible version gives an empty list, not a 400.
    version = django_filters.NumberFilter(field_name="version_id")

    class Meta:
        model = PackageBuild
        fields = ["version", "status", "validation_passed"]
