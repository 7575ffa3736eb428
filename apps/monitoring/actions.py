"""People's decisions on an alert. Each is taken by a person, recorded (AlertAction + audit event)
with who and why; a reason is required for all but acknowledge.

    acknowledge          open → acknowledged: someone is looking at it
    resolve              → resolved
    request_retraining   → acknowledged; the owning team is notified
    rollback             the endpoint's previous primary is put back (deployments service) → resolved
    retire               the deployment is stopped (deployments service) → resolved
    rebaseline           the alert's window becomes the monitor's baseline, "the new normal" → resolved

Rollback and retire use the deployments services and so their rules: IT operators, or the owning
team outside environments that need approval."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts import access
from apps.accounts.roles import Role
from apps.core.audit import audit_record
from apps.deployments import services as deployments
from apps.monitoring.models import Alert, AlertAction, Monitor, ReferenceProfile
from apps.monitoring.notifications import notifications_queue
from apps.monitoring.windows import merged_window

ACTIONS = AlertAction.Kind.values
MIN_REASON = 5


def can_act_on_alert(user, alert: Alert) -> bool:
    """The model's team's data scientists, IT operators and admins; business owners only read."""
    model = alert.monitor.deployment.version.model
    return access.can_edit_model(user, model) or access.has_role(user, Role.IT_OPERATOR, Role.ADMIN)


def _rebaseline(user, alert: Alert) -> dict:
    run = alert.latest_run
    if run is None:
        raise ValidationError(
            {"action": "this alert has no check run whose window could become the baseline"}
        )
    monitor = Monitor.objects.select_for_update().get(pk=alert.monitor_id)
    reference = ReferenceProfile.objects.get(version_id=monitor.deployment.version_id)
    profile, rows = merged_window(
        deployment=monitor.deployment, start=run.window_start, end=run.window_end, reference=reference.profile
    )
    monitor.baseline_profile = profile
    monitor.baseline_window = {"start": run.window_start.isoformat(), "end": run.window_end.isoformat()}
    monitor.baseline_set_by, monitor.baseline_set_at = user, timezone.now()
    monitor.save(update_fields=["baseline_profile", "baseline_window", "baseline_set_by", "baseline_set_at"])
    return {"baseline_window": monitor.baseline_window, "rows": rows}


def _perform(user, alert: Alert, action: str, reason: str) -> tuple[str, dict]:
    """Do what the action does; the alert's new state and details to record."""
    deployment = alert.monitor.deployment
    if action == "acknowledge":
        if alert.state != Alert.State.OPEN:
            raise ValidationError(
                {"action": f"the alert is {alert.state}; only an open alert is acknowledged"}
            )
        return Alert.State.ACKNOWLEDGED, {}
    if action == "resolve":
        return Alert.State.RESOLVED, {}
    if action == "request_retraining":
        extra = {"requested_by": user.get_username(), "reason": reason}
        sent = notifications_queue(alert=alert, event="retraining.requested", extra=extra)
        return Alert.State.ACKNOWLEDGED, {"notified": len(sent)}
    if action == "rollback":
        restored = deployments.endpoint_rollback(user=user, endpoint=deployment.endpoint, reason=reason)
        return Alert.State.RESOLVED, {"restored_deployment": restored.pk, "version": restored.version.number}
    if action == "retire":
        retired = deployments.deployment_retire(user=user, deployment=deployment, reason=reason)
        return Alert.State.RESOLVED, {"retired_deployment": retired.pk}
    return Alert.State.RESOLVED, _rebaseline(user, alert)


@transaction.atomic
def alert_act(*, user, alert: Alert, action: str, reason: str = "") -> AlertAction:
    """Record a person's decision on ``alert`` and carry it out, all or nothing."""
    if action not in ACTIONS:
        raise ValidationError({"action": f"'{action}' is not one of {', '.join(ACTIONS)}"})
    alert = (
        Alert.objects.select_for_update()
        .select_related("monitor__deployment__version__model__team")
        .get(pk=alert.pk)
    )
    if not can_act_on_alert(user, alert):
        raise PermissionDenied("only the model's data scientists or IT may act on its alerts")
    reason = (reason or "").strip()
    if action != "acknowledge" and len(reason) < MIN_REASON:
        raise ValidationError({"reason": f"say why ({action.replace('_', ' ')} needs a reason)"})
    if alert.state == Alert.State.RESOLVED:
        raise ValidationError({"action": "the alert is resolved; a new finding opens a new alert"})
    state, details = _perform(user, alert, action, reason)
    alert.state = state
    alert.resolved_at = timezone.now() if state == Alert.State.RESOLVED else None
    alert.save(update_fields=["state", "resolved_at"])
    record = AlertAction.objects.create(
        alert=alert, action=action, actor=user, reason=reason, details=details
    )
    audit_record(
        actor=user,
        action=f"alert.{action}",
        obj=alert,
        team=alert.monitor.deployment.version.model.team,
        reason=reason,
        state=state,
        **details,
    )
    return record
