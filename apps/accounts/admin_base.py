"""The two kinds of admin page Modelyard has. The admin is no side door around the services:

- ``ReadOnlyAdmin`` (in ``apps.core.admin``): rows that services write (with their checks and
  audit events) are only shown;
  nobody adds, changes or deletes them here, superusers included.
- ``AuditedAdmin``: settings that only the admin edits (no service writes them): every add, change
  and delete made here is an audit event naming each field with its value before and after.
"""

import datetime

from django.contrib import admin


def _audit(**kwargs) -> None:
    from apps.core.audit import audit_record

    audit_record(**kwargs)


def _plain(value):
    """A field's value as JSON can hold it."""
    if value is None or isinstance(value, (bool, int, float, str, list, dict)):
        return value
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)


class AuditedAdmin(admin.ModelAdmin):
    """Edited here, and only here: each add, change and delete is an audit event."""

    secret_fields: tuple[str, ...] = ("password",)  # named when they change, never with their values

    def audit_team(self, obj):
        """The team an event about ``obj`` belongs to, so that team's people see it."""
        from apps.accounts.models import Team

        team = getattr(obj, "team", None)
        return team if isinstance(team, Team) else None

    def _values(self, obj, names) -> dict:
        values = {}
        for name in names:
            field = obj._meta.get_field(name)
            if field.many_to_many:
                values[name] = sorted(str(related) for related in getattr(obj, name).all()) if obj.pk else []
            elif field.is_relation:
                related = getattr(obj, name)
                values[name] = str(related) if related is not None else None
            else:
                values[name] = _plain(field.value_from_object(obj))
        return values

    def _shown(self, values: dict) -> dict:
        return {k: "(secret)" if k in self.secret_fields else v for k, v in values.items()}

    def _state(self, obj) -> dict:
        """Every stored value of ``obj`` (but the primary key and auto-updated times), as shown."""
        opts = obj._meta
        names = [
            f.name for f in opts.concrete_fields if not f.primary_key and not getattr(f, "auto_now", False)
        ]
        return self._values(obj, names + [f.name for f in opts.many_to_many])

    def save_model(self, request, obj, form, change):
        if change and not form.has_changed():
            return  # nothing to store, nothing to record
        if change:
            form._audit_before = self._state(type(obj).objects.get(pk=obj.pk))
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        before = getattr(form, "_audit_before", None)
        if change and before is None:
            return  # nothing was saved
        obj = form.instance
        after = self._state(type(obj).objects.get(pk=obj.pk))
        if change:
            was, now = self._shown(before), self._shown(after)
            changed = {k: {"from": was[k], "to": now[k]} for k in after if before.get(k) != after[k]}
            if changed:
                _audit(
                    actor=request.user,
                    action="admin.changed",
                    obj=obj,
                    team=self.audit_team(obj),
                    changed=changed,
                )
        else:
            _audit(
                actor=request.user,
                action="admin.added",
                obj=obj,
                team=self.audit_team(obj),
                fields=self._shown(after),
            )

    def _audit_deletion(self, request, obj) -> None:
        _audit(
            actor=request.user,
            action="admin.deleted",
            obj=obj,
            team=self.audit_team(obj),
            fields=self._shown(self._state(obj)),
        )

    def delete_model(self, request, obj):
        self._audit_deletion(request, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self._audit_deletion(request, obj)
        super().delete_queryset(request, queryset)
