"""Reads of the jobs app that depend on who asks."""

from django.db.models import QuerySet

from apps.accounts import access
from apps.jobs.models import Job


def jobs_visible_to(user) -> QuerySet:
    """Jobs of the user's teams (all for IT and admins), and the ones they asked for themselves."""
    qs = Job.objects.all()
    if access.sees_every_model(user):
        return qs
    return access.restrict(qs, user) | qs.filter(requested_by=user)
