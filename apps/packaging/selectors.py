"""Reads of the packaging app that depend on who asks."""

from django.db.models import QuerySet

from apps.packaging.models import PackageBuild
from apps.registry.selectors import versions_visible_to


def packages_visible_to(user) -> QuerySet:
    """Package builds of the model versions the user may see."""
    return PackageBuild.objects.filter(version__in=versions_visible_to(user).values("id"))
