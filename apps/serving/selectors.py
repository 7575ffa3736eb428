"""Reads of the prediction log shared by the apps above serving (monitoring, KPIs)."""

from django.db.models import OuterRef, QuerySet

from apps.accounts import access
from apps.accounts.roles import Role
from apps.serving.models import BatchJob, Outcome


def batch_jobs_visible_to(user) -> QuerySet:
    """Batch jobs: every one for IT and admins, their teams' for data scientists, none otherwise."""
    if not access.sees_every_model(user) and not access.has_role(user, Role.DATA_SCIENTIST):
        return BatchJob.objects.none()
    return access.restrict(BatchJob.objects.all(), user)


def outcome_of_prediction() -> QuerySet:
    """The outcome of the outer Prediction row (at most one: the table's unique key): same endpoint,
    environment, request id and row. Use inside ``Exists`` or ``Subquery`` over predictions."""
    return Outcome.objects.filter(
        endpoint=OuterRef("endpoint"),
        environment=OuterRef("environment"),
        request_id=OuterRef("request_id"),
        row=OuterRef("row"),
    )
