import logging

from celery import shared_task

from apps.sla.retention import sla_prune

log = logging.getLogger(__name__)


@shared_task(name="sla.prune")
def prune() -> None:
    deleted = sla_prune()
    log.info("service-level data pruned: %s", deleted)
