"""Notices reach people: each domain event gives the people who may see its object a notice in the
app (bell, /notices/, the API) and an e-mail as each chose; nobody else gets one, and nobody can
read or mark another's. Against the real database, with the access matrix's two-team world."""

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from apps.deployments.services import deployment_approve, deployment_reject
from apps.kpis.alerts import kpi_notifications_queue
from apps.libraries.notifications import findings_notify
from apps.libraries.patching.notify import patch_notify
from apps.monitoring.notifications import notifications_queue
from apps.monitoring.selectors import alerts_visible_to
from apps.notices.models import Notice, NoticePreference
from apps.notices.services import digests_send, notice_email, preference_save
from config.celery import app as celery_app
from tests.integration.access.world import build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    built = build_world()
    Notice.objects.all().delete()  # the matrix's sample notices: these tests count their own
    return built


@pytest.fixture
def eager(monkeypatch):
    """Tasks queued after the commit run at once, in this process (the e-mail is then in the outbox)."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def notices(user):
    return list(Notice.objects.filter(recipient=user))


def test_an_alert_on_team_a_model_reaches_team_a_only(world):
    alert = world.objects[("aurora", "alert")]
    notifications_queue(alert=alert, event="alert.opened")
    [notice] = notices(world.users["own"])
    assert notice.kind == "alert" and notice.event == "alert.opened"
    assert "income drifted on aurora-live" in notice.title
    assert notice.url == reverse("monitoring:alert-detail", args=[alert.pk])
    assert (notice.object_type, notice.object_id, notice.read_at) == ("alert", alert.pk, None)
    for role in ("other", "it", "owner", "admin"):
        assert notices(world.users[role]) == [], role


def test_the_bell_shows_the_unread_count_and_the_page_lists_them(world):
    own, other = world.users["own"], world.users["other"]
    notifications_queue(alert=world.objects[("aurora", "alert")], event="alert.opened")
    page = signed_in(own).get(reverse("dashboards:home"))
    assert b'data-testid="bell-count">1<' in page.content
    assert b'data-testid="bell-count"' not in signed_in(other).get(reverse("dashboards:home")).content
    listing = signed_in(own).get(reverse("notices:page"))
    assert listing.status_code == 200 and b"income drifted on aurora-live" in listing.content
    assert b'class="unread"' in listing.content
    assert b"income drifted" not in signed_in(other).get(reverse("notices:page")).content
    bell = signed_in(own).get(reverse("notices:bell"))
    assert b'data-testid="bell-count">1<' in bell.content


def test_mark_read_and_all_read_are_scoped_to_the_recipient(world):
    own, other = world.users["own"], world.users["other"]
    alert = world.objects[("aurora", "alert")]
    notifications_queue(alert=alert, event="alert.opened")
    notifications_queue(alert=alert, event="alert.escalated")
    first, second = Notice.objects.filter(recipient=own).order_by("id")

    # Someone else's notice is as absent as a missing one, on the page and in the API.
    assert signed_in(other).post(reverse("notices:read", args=[first.pk])).status_code == 404
    assert signed_in(world.users["admin"]).post(reverse("notices:read", args=[first.pk])).status_code == 404
    signed_in(other).post(reverse("notices:read-all"))
    first.refresh_from_db()
    assert first.read_at is None

    answer = signed_in(own).post(reverse("notices:read", args=[first.pk]), {"open": "1"})
    assert answer.status_code == 302 and answer["Location"] == first.url  # read, then to the alert
    first.refresh_from_db()
    assert first.read_at is not None
    assert b'data-testid="bell-count">1<' in signed_in(own).get(reverse("notices:page")).content

    signed_in(own).post(reverse("notices:read-all"))
    second.refresh_from_db()
    assert second.read_at is not None
    assert b'data-testid="bell-count"' not in signed_in(own).get(reverse("notices:page")).content


def test_the_api_lists_own_notices_and_marks_them_read(world, api_for):
    own, other = world.users["own"], world.users["other"]
    notifications_queue(alert=world.objects[("aurora", "alert")], event="alert.opened")
    [notice] = notices(own)
    listed = api_for(own).get("/api/v1/notices/?unread=1").json()
    assert [n["id"] for n in listed["results"]] == [notice.pk]
    assert api_for(other).get("/api/v1/notices/").json()["results"] == []
    assert api_for(other).post(f"/api/v1/notices/{notice.pk}/read/").status_code == 404
    answer = api_for(own).post(f"/api/v1/notices/{notice.pk}/read/")
    assert answer.status_code == 200 and answer.json()["read_at"]
    assert api_for(own).get("/api/v1/notices/?unread=1").json()["results"] == []


def test_a_kpi_alert_reaches_the_sponsoring_business_owner(world):
    kpi_alert = world.objects[("aurora", "kpi_alert")]
    kpi_notifications_queue(alert=kpi_alert, event="alert.opened")
    [notice] = notices(world.users["sponsor"])
    assert notice.kind == "kpi_alert" and "aurora approval rate" in notice.title
    assert notice.url == reverse("kpis:detail", args=[kpi_alert.kpi_id])
    assert [n.kind for n in notices(world.users["own"])] == ["kpi_alert"]  # the KPI's owner and team
    for role in ("other", "owner", "it", "admin"):
        assert notices(world.users[role]) == [], role
    # The sponsor opens it from the notices page.
    assert signed_in(world.users["sponsor"]).get(notice.url).status_code == 200


def test_a_patch_waiting_reaches_it_and_its_outcome_the_approver_and_team(world):
    finding = world.objects[("aurora", "library_finding")]
    assert findings_notify(finding_ids=[finding.pk]) == 1
    [waiting] = notices(world.users["it"])
    assert waiting.kind == "library" and waiting.title.startswith("patch waiting for IT")
    assert waiting.url == reverse("libraries:page")
    [told] = notices(world.users["own"])  # the model's team hears of it too, with its version's page
    assert told.kind == "library" and told.url == reverse(
        "registry:version-detail", args=[finding.version_id]
    )
    for role in ("other", "sponsor", "owner"):
        assert notices(world.users[role]) == [], role

    patch = world.objects[("aurora", "patch")]
    patch_notify(patch=patch, event="patch.failed")
    outcome = Notice.objects.get(recipient=world.users["it"], kind="outcome")
    assert "library patch failed" in outcome.title
    assert outcome.url == reverse("libraries:patch-detail", args=[patch.pk])
    assert [n.kind for n in notices(world.users["own"])] == ["library", "library"]
    assert notices(world.users["other"]) == [] and notices(world.users["sponsor"]) == []


def test_a_deployment_decision_reaches_its_requester(world):
    waiting = world.objects[("aurora", "deployment")]
    deployment_reject(user=world.users["it"], deployment=waiting, reason="not during the freeze")
    [notice] = notices(world.users["own"])
    assert notice.kind == "outcome" and "was rejected by it-operator" in notice.title
    assert notice.body == "not during the freeze"
    assert notices(world.users["it"]) == [] and notices(world.users["other"]) == []


def test_an_approval_waiting_reaches_it(world):
    from apps.deployments.models import Environment
    from apps.deployments.services import deployment_request, deployment_rollout_run

    Environment.objects.filter(name="staging").update(requires_approval=True)
    version = world.objects[("aurora", "version")]
    version.packages.update(validation_passed=True)
    deployment = deployment_request(user=world.users["own"], version=version, endpoint="aurora-new")
    [notice] = notices(world.users["it"])
    assert notice.kind == "approval" and "approval waiting" in notice.title
    assert (notice.object_type, notice.object_id) == ("deployment", deployment.pk)
    assert notices(world.users["own"]) == [] and notices(world.users["other"]) == []
    deployment_approve(user=world.users["it"], deployment=deployment)
    assert [n.title for n in notices(world.users["own"])] == [
        "your deployment of aurora-model v1 was approved by it-operator"
    ]
    # The matrix's package is no real archive: the rollout fails, and the requester is told.
    with pytest.raises((ValueError, OSError)):
        deployment_rollout_run(deployment=deployment, step=lambda *_: None)
    latest = Notice.objects.filter(recipient=world.users["own"]).first()
    assert latest.title == "your deployment of aurora-model v1 failed" and latest.body


def _mail_to(address):
    """The notice e-mails to ``address`` (team channels' deliveries are another path)."""
    return [m for m in mail.outbox if m.to == [address] and "Your notices and preferences" in m.body]


def test_email_follows_each_persons_preference(world, eager, django_capture_on_commit_callbacks):
    own = world.users["own"]
    own.email = "ds-aurora@example.test"
    own.save()
    alert = world.objects[("aurora", "alert")]

    with django_capture_on_commit_callbacks(execute=True):  # default: one e-mail at once
        notifications_queue(alert=alert, event="alert.opened")
    [sent] = _mail_to(own.email)
    assert "/monitoring/alerts/" in sent.body and "/notices/" in sent.body
    assert Notice.objects.get(recipient=own).emailed_at is not None

    preference_save(user=own, muted=[], email=NoticePreference.Email.NEVER)
    with django_capture_on_commit_callbacks(execute=True):
        notifications_queue(alert=alert, event="alert.escalated")
    assert len(_mail_to(own.email)) == 1 and Notice.objects.filter(recipient=own).count() == 2

    preference_save(user=own, muted=["alert"], email=NoticePreference.Email.IMMEDIATE)
    notifications_queue(alert=alert, event="alert.escalated")
    assert Notice.objects.filter(recipient=own).count() == 2  # a muted kind makes no notice

    preference_save(user=own, muted=[], email=NoticePreference.Email.DIGEST)
    Notice.objects.filter(recipient=own).update(emailed_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        notifications_queue(alert=alert, event="alert.escalated")
    assert len(_mail_to(own.email)) == 1  # nothing at once
    signed_in(own).post(reverse("notices:read", args=[Notice.objects.filter(recipient=own).last().pk]))
    assert digests_send() == 1
    [digest] = [m for m in mail.outbox if "daily digest" in m.subject]
    assert digest.to == [own.email] and "2 unread notice(s)" in digest.subject
    assert digests_send() == 0  # once a day


def test_a_team_without_channels_mails_each_member_once_and_never_against_their_choice(
    world, eager, django_capture_on_commit_callbacks
):
    from apps.monitoring.models import NotificationChannel, NotificationDelivery

    own = world.users["own"]
    own.email = "ds-aurora@example.test"
    own.save()
    alert = world.objects[("aurora", "alert")]
    NotificationChannel.objects.filter(team=alert.monitor.deployment.version.model.team).delete()

    with django_capture_on_commit_callbacks(execute=True):
        notifications_queue(alert=alert, event="alert.opened")
    assert [m.to for m in mail.outbox] == [[own.email]]  # the notice's e-mail, no channel's copy
    assert not NotificationDelivery.objects.filter(alert=alert).exists()

    preference_save(user=own, muted=[], email=NoticePreference.Email.NEVER)
    with django_capture_on_commit_callbacks(execute=True):
        notifications_queue(alert=alert, event="alert.escalated")
    assert len(mail.outbox) == 1  # "never" holds: nothing more reaches the address


def test_preferences_are_saved_from_the_page(world):
    own = world.users["own"]
    answer = signed_in(own).post(
        reverse("notices:preferences"), {"kinds": ["alert", "outcome"], "email": "digest"}
    )
    assert answer.status_code == 302
    pref = NoticePreference.objects.get(user=own)
    assert pref.email == "digest" and set(pref.muted) == {"kpi_alert", "library", "approval"}
    assert b'value="digest" checked' in signed_in(own).get(reverse("notices:page")).content


def test_the_mail_sink_shows_each_person_their_own_mail(world, settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    own, other = world.users["own"], world.users["other"]
    for user in (own, other):
        user.email = f"{user.username}@example.test"
        user.save()
    notifications_queue(alert=world.objects[("aurora", "alert")], event="alert.opened")
    [notice] = notices(own)
    assert notice_email(notice_id=notice.pk) is True
    assert notice_email(notice_id=notice.pk) is False  # once
    assert list((tmp_path / "mail").glob("*.log"))

    page = signed_in(own).get(reverse("notices:mail"))
    assert page.status_code == 200 and b"income drifted on aurora-live" in page.content
    assert b"/monitoring/alerts/" in page.content
    assert b"income drifted" not in signed_in(other).get(reverse("notices:mail")).content

    # Patch notices carry arrows: subjects and bodies beyond ASCII read back as written.
    from apps.notices.services import notices_send

    [patched] = notices_send(
        recipients=[own], kind="library", title="jinja2 2.11.2 → 2.11.3", body="über → ok"
    )
    notice_email(notice_id=patched.pk)
    page = signed_in(own).get(reverse("notices:mail")).content.decode()
    assert "jinja2 2.11.2 → 2.11.3" in page and "über → ok" in page
    assert b"mail sink" in signed_in(own).get(reverse("notices:page")).content


def test_the_demo_gives_everyone_an_address_and_each_team_a_mailbox(db):
    from apps.demo.seed import USERS, seed_users
    from apps.monitoring.models import NotificationChannel

    users = seed_users()
    assert {u.email for u in users.values()} == {f"{u.username}@example.test" for u in USERS}
    channel = NotificationChannel.objects.get(team=users["dana"].teams.get())
    assert channel.emails == ["credit-risk-team@example.test"]  # not the members: they get notices
    seed_users()  # again: nothing doubles
    assert NotificationChannel.objects.filter(team=users["dana"].teams.get()).count() == 1


def test_nobody_gets_a_notice_about_what_they_cannot_open(world):
    from apps.notices.services import notices_send

    alert = world.objects[("aurora", "alert")]
    everyone = list(world.users.values())
    sent = notices_send(recipients=everyone, kind="alert", title="t", obj=alert, visible=alerts_visible_to)
    assert {n.recipient.username for n in sent} == {"ds-aurora", "it-operator", "bo-sponsor", "admin"}


def test_the_bell_costs_one_query(world, django_assert_num_queries):
    from django.template.loader import render_to_string
    from django.test import RequestFactory

    from apps.notices.context_processors import unread_notices

    request = RequestFactory().get("/")
    request.user = world.users["own"]
    notifications_queue(alert=world.objects[("aurora", "alert")], event="alert.opened")
    context = unread_notices(request)
    with django_assert_num_queries(1):
        html = render_to_string("notices/_bell.html", context)
    assert 'data-testid="bell-count">1<' in html
