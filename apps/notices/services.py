"""Writes: create notices for the people who may see the object, mark them read, keep preferences,
and send them by e-mail (at once or in a daily digest) as each person chose."""

from collections.abc import Callable, Iterable
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps.notices.models import Notice, NoticePreference


def preference_of(user) -> NoticePreference:
    """The user's preference, unsaved defaults (every kind, e-mail at once) when they set none."""
    pref = NoticePreference.objects.filter(user=user).first()
    return pref if pref is not None else NoticePreference(user=user)


def notices_send(
    *,
    recipients: Iterable,
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    obj=None,
    event: str = "",
    visible: Callable[[object], QuerySet] | None = None,
    exclude=None,
) -> list[Notice]:
    """One notice per recipient (each once, active users only), skipping those who muted the kind
    and, when ``visible`` is given (an ``apps.accounts.access`` helper: user → queryset), those who
    could not see ``obj``. Immediate e-mails go after the transaction commits."""
    seen, notices = set(), []
    for user in recipients:
        if user is None or user.pk in seen or not user.is_active or (exclude and user.pk == exclude.pk):
            continue
        seen.add(user.pk)
        if visible is not None and obj is not None and not visible(user).filter(pk=obj.pk).exists():
            continue  # never a notice about something its recipient could not open
        pref = preference_of(user)
        if not pref.wants(kind):
            continue
        notice = Notice.objects.create(
            recipient=user,
            kind=kind,
            event=event[:64],
            title=title[:200],
            body=body,
            url=url[:500],
            object_type=obj._meta.model_name if obj is not None else "",  # as the audit trail names it
            object_id=obj.pk if obj is not None else None,
        )
        notices.append(notice)
        if pref.email == NoticePreference.Email.IMMEDIATE and user.email:
            from apps.notices.tasks import email_notice

            transaction.on_commit(lambda pk=notice.pk: email_notice.delay(pk))
    return notices


def notice_mark_read(*, user, notice_id: int) -> int:
    """Mark one of the user's own notices read; another's is not found (0)."""
    return Notice.objects.filter(pk=notice_id, recipient=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def notices_mark_all_read(*, user) -> int:
    return Notice.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())


def preference_save(*, user, muted: Iterable[str], email: str) -> NoticePreference:
    kinds = set(Notice.Kind.values)
    if email not in NoticePreference.Email.values:
        email = NoticePreference.Email.IMMEDIATE
    pref, _ = NoticePreference.objects.update_or_create(
        user=user, defaults={"muted": sorted(set(muted) & kinds), "email": email}
    )
    return pref


def _absolute(url: str) -> str:
    return settings.MODELYARD_BASE_URL.rstrip("/") + url if url.startswith("/") else url


def notice_email(*, notice_id: int) -> bool:
    """Send one notice to its recipient's address, once (a notice already e-mailed is left alone)."""
    with transaction.atomic():
        notice = (
            Notice.objects.select_for_update()
            .select_related("recipient")
            .filter(pk=notice_id, emailed_at__isnull=True)
            .first()
        )
        if notice is None or not notice.recipient.email:
            return False
        lines = [notice.body, ""] if notice.body else []
        if notice.url:
            lines.append(f"Open it: {_absolute(notice.url)}")
        lines.append(f"Your notices and preferences: {_absolute('/notices/')}")
        send_mail(
            f"[Modelyard] {notice.title}"[:200],
            "\n".join(lines),
            settings.DEFAULT_FROM_EMAIL,
            [notice.recipient.email],
        )
        notice.emailed_at = timezone.now()
        notice.save(update_fields=["emailed_at"])
    return True


def digests_send(*, now=None) -> int:
    """One e-mail per person who chose the daily digest and has unread notices not yet e-mailed,
    at most once a day. Returns how many digests were sent."""
    now = now or timezone.now()
    sent = 0
    prefs = NoticePreference.objects.filter(email=NoticePreference.Email.DIGEST).select_related("user")
    for pref in prefs:
        user = pref.user
        if not user.email or not user.is_active:
            continue
        if pref.last_digest_at and now - pref.last_digest_at < timedelta(hours=23):
            continue
        with transaction.atomic():
            notices = list(
                Notice.objects.select_for_update().filter(
                    recipient=user, read_at__isnull=True, emailed_at__isnull=True
                )
            )
            if not notices:
                continue
            lines = [f"{len(notices)} unread notice(s) since your last digest:", ""]
            for n in notices:
                lines.append(f"- {n.created_at:%Y-%m-%d %H:%M} UTC · {n.title}")
                if n.url:
                    lines.append(f"  {_absolute(n.url)}")
            lines += ["", f"Your notices and preferences: {_absolute('/notices/')}"]
            send_mail(
                f"[Modelyard] daily digest: {len(notices)} unread notice(s)",
                "\n".join(lines),
                settings.DEFAULT_FROM_EMAIL,
                [user.email],
            )
            Notice.objects.filter(pk__in=[n.pk for n in notices]).update(emailed_at=now)
            pref.last_digest_at = now
            pref.save(update_fields=["last_digest_at"])
            sent += 1
    return sent
