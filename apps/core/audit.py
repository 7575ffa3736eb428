from apps.core.models import AuditEvent


def audit_record(*, actor, action: str, obj, team=None, **details) -> AuditEvent:
    """Append one audit event. Called by every service that changes state."""
    actor = actor if actor is not None and actor.is_authenticated else None
    return AuditEvent.objects.create(
        actor=actor,
        actor_name=actor.get_username() if actor is not None else "",
        action=action,
        object_type=obj._meta.model_name,
        object_id=obj.pk,
        object_repr=str(obj)[:200],
        team=team,
        details=details,
    )
