"""Tell the owning team how a library patch ended, through the library app's notifications (the
team's channels that monitoring alerts use: e-mail and/or webhook, one delivery row each)."""

from django.urls import reverse

from apps.core.severity import SEVERITY_RANK
from apps.libraries.models import PatchRequest
from apps.libraries.notifications import library_notify
from apps.notices.models import Notice
from apps.notices.services import notices_send
from apps.registry.selectors import versions_visible_to


def patch_payload(patch: PatchRequest, event: str) -> dict:
    version, resulting = patch.version, patch.resulting_version
    parity = (patch.differences or {}).get("parity") or {}
    return {
        "event": event,
        "patch": {
            "id": patch.pk,
            "model": version.model.name if version else None,
            "version": version.number if version else None,
            "package": patch.package,
            "from_version": patch.from_version,
            "target_version": patch.target_version,
            "status": patch.status,
            "patched_version": resulting.number if resulting else None,
            "approved_by": patch.approved_by.username if patch.approved_by else None,
            "error": patch.error,
            "parity": {k: parity.get(k) for k in ("passed", "rows", "agreement", "max_delta", "reasons")},
            "advisories": sorted({f.osv_id for f in patch.findings.all() if f.osv_id}),
            "url": reverse("libraries:patch-detail", args=[patch.pk]),
        },
    }


def _subject(payload: dict) -> str:
    p = payload["patch"]
    what = f"{p['package']} {p['from_version']} → {p['target_version']} in {p['model']} v{p['version']}"
    if p["status"] == PatchRequest.Status.READY:
        return f"[Modelyard] patched version v{p['patched_version']} ready: {what}"[:200]
    return f"[Modelyard] library patch failed: {what}"[:200]


def _body(payload: dict) -> str:
    p = payload["patch"]
    lines = [
        f"IT ({p['approved_by']}) approved upgrading {p['package']} from {p['from_version']} to "
        f"{p['target_version']} in {p['model']} v{p['version']} "
        f"(advisories: {', '.join(p['advisories']) or '—'}).",
        "",
    ]
    if p["status"] == PatchRequest.Status.READY:
        lines.append(
            f"v{p['patched_version']} was built in an isolated environment with the patched lock, packaged, "
            f"validated and gives the same predictions on the reference sample ({p['parity']['rows']} rows). "
            "It is offered for deployment through the normal approval."
        )
    else:
        lines.append(f"The patch failed: {p['error']}")
    lines += ["", f"Details: {p['url']}"]
    return "\n".join(lines)


def patch_notify(*, patch: PatchRequest, event: str) -> list:
    if patch.version is None:
        return []
    payload = patch_payload(patch, event)
    title, url = _subject(payload).removeprefix("[Modelyard] "), payload["patch"]["url"]
    common = {"event": event, "title": title, "body": _body(payload), "url": url, "obj": patch.version}
    # The IT operator who approved it hears how their request ended; the model's team what it got.
    notices_send(
        recipients=[patch.approved_by], kind=Notice.Kind.OUTCOME, visible=versions_visible_to, **common
    )
    notices_send(
        recipients=patch.version.model.team.members.filter(is_active=True),
        kind=Notice.Kind.LIBRARY,
        visible=versions_visible_to,
        exclude=patch.approved_by,
        **common,
    )
    worst = max(
        (f.severity for f in patch.findings.all()), key=lambda s: SEVERITY_RANK.get(s, 0), default="unknown"
    )
    return library_notify(
        team=patch.version.model.team,
        event=event,
        subject=_subject(payload),
        text=_body(payload),
        data=payload,
        severity=worst,
    )
