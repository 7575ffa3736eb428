"""The audit trail is append-only in the database itself, not only in Python: raw SQL, queryset
updates and deletes are refused by a trigger, each event keeps the name of who acted, and a user
who acted cannot be deleted (their events would lose them)."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from apps.accounts.roles import Role
from apps.core.audit import audit_record
from apps.core.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(make_user):
    dana = make_user("dana")
    return audit_record(actor=dana, action="model.created", obj=dana.teams.get(), team=dana.teams.get())


def _refused(sql: str, params=()):
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, params)


def test_raw_sql_cannot_rewrite_or_remove_an_audit_event(event):
    _refused("UPDATE registry_auditevent SET action = 'something.else' WHERE id = %s", [event.pk])
    _refused("UPDATE registry_auditevent SET actor_id = NULL")
    _refused("DELETE FROM registry_auditevent WHERE id = %s", [event.pk])
    _refused("DELETE FROM registry_auditevent")
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.action, stored.actor_name, stored.actor_id) == ("model.created", "dana", event.actor_id)


def test_queryset_update_and_delete_are_refused_too(event):
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="something.else")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "model.created"
    # New events are still written.
    audit_record(actor=None, action="team.created", obj=event)
    assert AuditEvent.objects.count() >= 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE is PostgreSQL's")
def test_truncate_is_refused_on_postgresql(event):
    with connection.cursor() as cursor:  # run the deferred key checks, which TRUNCATE would wait for
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    _refused("TRUNCATE registry_auditevent CASCADE")  # CASCADE: past the keys that point at it
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_the_event_keeps_the_actors_name(make_user):
    ivan = make_user("ivan", Role.IT_OPERATOR, team=None)
    mine = audit_record(actor=ivan, action="package.validation_overridden", obj=ivan)
    system = audit_record(actor=None, action="package.failed", obj=ivan)
    assert AuditEvent.objects.get(pk=mine.pk).actor_name == "ivan"
    assert AuditEvent.objects.get(pk=system.pk).actor_name == ""
    ivan.username = "ivan.renamed"
    ivan.save()
    assert AuditEvent.objects.get(pk=mine.pk).actor_name == "ivan"


def test_a_user_who_acted_cannot_be_deleted_and_their_events_keep_them(event, make_user, client):
    dana = event.actor
    with pytest.raises(ProtectedError), transaction.atomic():
        dana.delete()
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.actor_id, stored.actor_name) == (dana.pk, "dana")

    # The admin says why, and what to do instead.
    client.force_login(make_user("root", Role.ADMIN, team=None))
    page = client.post(f"/admin/auth/user/{dana.pk}/delete/", {"post": "yes"}, follow=True)
    assert get_user_model().objects.filter(pk=dana.pk).exists()
    assert "deactivate" in page.content.decode().lower()

    # Someone who never acted can still be removed.
    nobody = make_user("nobody", team=None)
    client.post(f"/admin/auth/user/{nobody.pk}/delete/", {"post": "yes"})
    assert not get_user_model().objects.filter(pk=nobody.pk).exists()


def test_the_api_and_pages_show_the_name_kept_on_the_event(make_user, api_for):
    dana = make_user("dana")
    audit_record(actor=dana, action="model.created", obj=dana.teams.get(), team=dana.teams.get())
    events = api_for(make_user("ivan", Role.IT_OPERATOR, team=None)).get("/api/v1/audit-events/").json()
    assert {e["actor"] for e in events["results"] if e["action"] == "model.created"} == {"dana"}


@pytest.mark.django_db(transaction=True)
def test_flush_empties_the_trail_and_leaves_it_append_only(make_user):
    """``manage.py flush`` (which transactional tests run between tests) still empties the table,
    and the trail is append-only again afterwards."""
    dana = make_user("dana")
    audit_record(actor=dana, action="model.created", obj=dana)
    call_command("flush", interactive=False, verbosity=0)
    assert not AuditEvent.objects.exists()
    again = audit_record(actor=None, action="team.created", obj=make_user("erin").teams.get())
    _refused("DELETE FROM registry_auditevent WHERE id = %s", [again.pk])
