"""Thin Celery tasks over the KPI roll-up (queue ``monitoring``; schedule in config/celery.py).
Both are idempotent: a roll-up recomputes whole windows from the source rows."""

from celery import shared_task
from django.db import OperationalError

from apps.kpis.models import KpiDefinition
from apps.kpis.rollup import kpi_rollup, kpis_rollup_all


@shared_task(name="kpis.rollup", soft_time_limit=50, time_limit=58)
def rollup() -> int:
    """Every minute: the windows of every KPI touched by new predictions or outcomes."""
    return kpis_rollup_all()


@shared_task(
    name="kpis.rollup_one",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=600,
    time_limit=660,
)
def rollup_one(kpi_id: int) -> int:
    """One KPI now (a new or changed definition), not waiting for the beat."""
    kpi = KpiDefinition.objects.select_related("model__team", "owner").filter(pk=kpi_id).first()
    return 0 if kpi is None else len(kpi_rollup(kpi=kpi))
