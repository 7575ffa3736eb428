"""Reads of the prediction log shared by the apps above serving (monitoring, KPIs)."""

from django.db.models import OuterRef, QuerySet

from apps.serving.models import Outcome


def outcome_of_prediction() -> QuerySet:
    """The outcome of the outer Prediction row (at most one: the table's unique key): same endpoint,
    environment, request id and row. Use inside ``Exists`` or ``Subquery`` over predictions."""
    return Outcome.objects.filter(
        endpoint=OuterRef("endpoint"),
        environment=OuterRef("environment"),
        request_id=OuterRef("request_id"),
        row=OuterRef("row"),
    )
