"""Tell a model's owners (its team's notification channels, the ones monitoring alerts use) about
new library findings and patch outcomes. Deliveries are monitoring's NotificationDelivery rows
(no alert), so their attempts show beside the alerts'; ``libraries.notify`` sends them."""

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from apps.accounts import access
from apps.accounts.roles import Role
from apps.core.severity import SEVERITY_RANK
from apps.libraries.models import LibraryFinding
from apps.monitoring.notifications import channels_for, deliveries_queue
from apps.notices.models import Notice
from apps.notices.services import notices_send
from apps.registry.selectors import versions_visible_to

# A channel's minimum alert severity (low/medium/high) read against an advisory's severity.
_CHANNEL_FLOOR = {"low": 0, "medium": 2, "high": 3}


def library_notify(
    *, team, event: str, subject: str, text: str, data: dict, severity: str = "unknown"
) -> list:
    """One delivery per channel and means, sent by ``libraries.notify`` after the transaction commits."""
    from apps.libraries.tasks import notify

    payload = {"event": event, "subject": subject[:200], "text": text, **data}
    channels = [
        channel
        for channel in channels_for(team)
        if SEVERITY_RANK.get(severity, 0) >= _CHANNEL_FLOOR.get(channel.min_severity, 0)
    ]
    return deliveries_queue(channels=channels, event=event, payload=payload, task=notify)


def findings_notify(*, finding_ids: list[int]) -> int:
    """One message per model version listing its new findings; each finding is told once."""
    findings = (
        LibraryFinding.objects.filter(pk__in=finding_ids, notified_at__isnull=True, version__isnull=False)
        .select_related("version__model__team")
        .order_by("version_id", "package", "osv_id")
    )
    by_version: dict[int, list[LibraryFinding]] = {}
    for finding in findings:
        by_version.setdefault(finding.version_id, []).append(finding)
    with transaction.atomic():
        for items in by_version.values():
            version = items[0].version
            worst = max((f.severity for f in items), key=lambda s: SEVERITY_RANK.get(s, 0))
            lines = [
                f"- {f.package}=={f.installed_version}: {f.osv_id or 'unreadable version'}"
                f"{' (' + ', '.join(f.aliases) + ')' if f.aliases else ''}, {f.severity}"
                f"{', fixed in ' + f.fixed_version if f.fixed_version else ''}. {f.summary[:160]}"
                for f in items
            ]
            text = "\n".join(
                [
                    f"{len(items)} new library finding(s) in {version.model.name} v{version.number}:",
                    "",
                    *lines,
                    "",
                    "IT can approve a patch that upgrades the library and re-validates the model.",
                ]
            )
            subject = (
                f"[Modelyard] {len(items)} vulnerable librar{'y' if len(items) == 1 else 'ies'} "
                f"in {version.model.name} v{version.number}"
            )
            # A patch waits for IT's decision: each IT operator hears of it in the app.
            notices_send(
                recipients=access.users_with_role(Role.IT_OPERATOR),
                kind=Notice.Kind.LIBRARY,
                event="library.findings",
                title=f"patch waiting for IT: {subject.removeprefix('[Modelyard] ')} ({worst})",
                body=text,
                url=reverse("libraries:page"),
                obj=version,
                visible=versions_visible_to,
            )
            notices_send(  # and the model's team, in the app
                recipients=version.model.team.members.filter(is_active=True),
                kind=Notice.Kind.LIBRARY,
                event="library.findings",
                title=f"{subject.removeprefix('[Modelyard] ')} ({worst}): IT decides on a patch",
                body=text,
                url=reverse("registry:version-detail", args=[version.pk]),
                obj=version,
                visible=versions_visible_to,
            )
            library_notify(
                team=version.model.team,
                event="library.findings",
                subject=subject,
                text=text,
                severity=worst,
                data={
                    "model": version.model.name,
                    "version": version.number,
                    "findings": [
                        {
                            "id": f.pk,
                            "package": f.package,
                            "installed_version": f.installed_version,
                            "advisory": f.osv_id,
                            "aliases": f.aliases,
                            "severity": f.severity,
                            "fixed_version": f.fixed_version,
                        }
                        for f in items
                    ],
                },
            )
        return LibraryFinding.objects.filter(pk__in=[f.pk for f in findings]).update(
            notified_at=timezone.now()
        )
