"""Monitors: created when a deployment goes live, edited by the owning team's data scientists.

The other use cases live beside this module, one file each: references.py (reference profiles),
windows.py (hourly window profiles), runs.py (check runs), alerts.py, notifications.py and
actions.py (people's decisions)."""

import copy
import logging

from django.core.exceptions import PermissionDenied
from django.db import transaction

from apps.accounts import access
from apps.core.audit import audit_record
from apps.deployments.models import Deployment
from apps.monitoring.config import config_merge, config_validate
from apps.monitoring.models import Monitor
from apps.monitoring.templates import template_for

log = logging.getLogger(__name__)

MONITORED_ROLES = (Deployment.Role.PRIMARY, Deployment.Role.CANARY)


def monitor_for_live_deployment(*, deployment: Deployment) -> Monitor | None:
    """The monitor of a live primary or canary deployment, created from its model type's template
    the first time (and the version's reference profile queued). Anything else: None."""
    if deployment.status != Deployment.Status.LIVE or deployment.role not in MONITORED_ROLES:
        return None
    existing = Monitor.objects.filter(deployment=deployment).first()
    if existing is not None:
        return existing
    from apps.monitoring.references import reference_profile_enqueue

    task_type = deployment.version.model.task_type
    template = template_for(task_type)
    with transaction.atomic():
        monitor, created = Monitor.objects.get_or_create(
            deployment=deployment,
            defaults={"template": template, "config": copy.deepcopy(template.config)},
        )
        if created:
            audit_record(
                actor=None,
                action="monitor.created",
                obj=monitor,
                team=deployment.version.model.team,
                template=template.name,
            )
            reference_profile_enqueue(version=deployment.version)
    return monitor


def monitors_sync() -> int:
    """Create the monitors missing for live deployments (a safety net for rows written without
    signals, e.g. by raw SQL or fixtures). The number created."""
    missing = Deployment.objects.filter(status=Deployment.Status.LIVE, role__in=MONITORED_ROLES).filter(
        monitor__isnull=True
    )
    created = 0
    for deployment in missing.select_related("version__model"):
        created += monitor_for_live_deployment(deployment=deployment) is not None
    return created


def can_edit_monitor(user, monitor: Monitor) -> bool:
    """The model's team's data scientists (and admins) tune its monitors."""
    return access.can_edit_model(user, monitor.deployment.version.model)


@transaction.atomic
def monitor_update(
    *, user, monitor: Monitor, config: dict | None = None, enabled: bool | None = None
) -> Monitor:
    """Change a monitor's config (top-level keys replaced) and/or switch it on or off. Audited."""
    if not can_edit_monitor(user, monitor):
        raise PermissionDenied("only the model's data scientists may change its monitor")
    monitor = (
        Monitor.objects.select_for_update().select_related("deployment__version__model").get(pk=monitor.pk)
    )
    before = copy.deepcopy(monitor.config)
    if config is not None:
        merged = config_merge(monitor.config, config)
        monitor.config = config_validate(merged, feature_names=monitor.deployment.version.feature_names)
    if enabled is not None:
        monitor.enabled = bool(enabled)
    monitor.save(update_fields=["config", "enabled", "updated_at"])
    changed = {k: monitor.config.get(k) for k in monitor.config if before.get(k) != monitor.config.get(k)}
    audit_record(
        actor=user,
        action="monitor.updated",
        obj=monitor,
        team=monitor.deployment.version.model.team,
        changed=changed,
        enabled=monitor.enabled,
    )
    return monitor
