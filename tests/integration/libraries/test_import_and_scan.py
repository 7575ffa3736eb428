"""Import of the shipped advisories and scans of real model versions' locks, on the real database."""

import io

import pytest
from django.core import mail
from django.core.management import call_command

from apps.accounts.roles import Role
from apps.core.models import AuditEvent
from apps.libraries.imports import advisories_import_path
from apps.libraries.models import Advisory, ImportRun, LibraryFinding
from apps.libraries.scans import library_scan
from apps.monitoring.models import NotificationChannel, NotificationDelivery
from tests.integration.libraries.conftest import advisory
from tests.shared_data import require
from tests.unit.libraries.conftest import ADVISORIES

pytestmark = pytest.mark.django_db

KNOWN = {
    "django": ("3.2.0", 25, "3.2.25"),
    "requests": ("2.25.1", 1, "2.31.0"),
    "urllib3": ("1.26.4", 3, "1.26.18"),
    "pyyaml": ("5.3", 2, "5.4"),
    "jinja2": ("2.11.2", 1, "2.11.3"),
    "mlflow": ("2.8.0", 4, "2.10.1"),
    "numpy": ("1.21.0", 0, ""),
}


def test_shipped_advisories_flag_the_known_answers_and_reimport_is_a_no_op(make_user, locked_version):
    require(ADVISORIES)
    out = io.StringIO()
    call_command("import_advisories", str(ADVISORIES), "--no-scan", stdout=out, stderr=io.StringIO())
    run = ImportRun.objects.get()
    assert (run.files_seen, run.created, run.withdrawn, run.skipped) == (2661, 2651, 10, 0)
    assert {p["level"] for p in run.problems} == {"warning"} and len(run.problems) == 2
    assert Advisory.objects.count() == 2651 and not Advisory.objects.filter(osv_id="PYSEC-2023-73").exists()
    assert Advisory.objects.exclude(cvss_score=None).count() > 150
    assert "2651 new" in out.getvalue()

    dana = make_user("dana", role=Role.DATA_SCIENTIST)
    dana.email = "dana@example.org"
    dana.save()
    # Team channels are shared mailboxes set up for the team; people get their own notices.
    NotificationChannel.objects.create(
        team=dana.teams.get(), name="team mailbox", emails=["dana@example.org"]
    )
    version = locked_version(dana, {name: pin for name, (pin, _, _) in KNOWN.items()})
    summary = library_scan()
    assert (summary.versions, summary.created) == (1, 36)
    for name, (pin, count, fixed) in KNOWN.items():
        found = LibraryFinding.objects.filter(version=version, package=name)
        assert found.count() == count, name
        assert {f.fixed_version for f in found} <= {fixed}, name
        assert all(f.installed_version == pin and f.status == "open" for f in found)
    requests_finding = LibraryFinding.objects.get(package="requests")
    assert requests_finding.osv_id == "PYSEC-2023-74" and requests_finding.aliases
    # The owners are told once, in one message for the version.
    assert NotificationDelivery.objects.filter(event="library.findings").count() == 1
    assert LibraryFinding.objects.filter(notified_at=None).count() == 0

    again = advisories_import_path(path=str(ADVISORIES), scan=False)
    assert (again.created, again.updated, again.unchanged, again.withdrawn) == (0, 0, 2651, 10)
    assert library_scan().created == 0
    assert NotificationDelivery.objects.filter(event="library.findings").count() == 1
    assert AuditEvent.objects.filter(action="advisories.imported").count() == 2


def test_modified_advisories_update_and_withdrawn_ones_drop_out(make_user, locked_version, write_advisories):
    dana = make_user("dana")
    version = locked_version(dana, {"demo-lib": "1.0", "other": "2.0"})
    folder = write_advisories(advisory("TEST-0001", "demo-lib", "1.1"), advisory("TEST-0002", "other", "2.1"))
    first = advisories_import_path(path=folder, scan=False)
    assert (first.created, first.updated) == (2, 0)
    library_scan()
    finding = LibraryFinding.objects.get(version=version, osv_id="TEST-0001")
    assert (finding.fixed_version, finding.severity) == ("1.1", "high")

    # An older copy is ignored; a newer one replaces the advisory and the next scan updates the finding.
    write_advisories(advisory("TEST-0001", "demo-lib", "1.0.5", modified="2023-01-01T00:00:00Z"))
    assert advisories_import_path(path=folder, scan=False).unchanged == 2
    write_advisories(advisory("TEST-0001", "demo-lib", "1.2", modified="2024-06-01T00:00:00Z"))
    second = advisories_import_path(path=folder, scan=False)
    assert (second.created, second.updated, second.unchanged) == (0, 1, 1)
    library_scan()
    finding.refresh_from_db()
    assert finding.fixed_version == "1.2"

    write_advisories(
        advisory(
            "TEST-0002", "other", "2.1", modified="2024-07-01T00:00:00Z", withdrawn="2024-07-01T00:00:00Z"
        )
    )
    third = advisories_import_path(path=folder, scan=False)
    assert third.withdrawn == 1 and not Advisory.objects.filter(osv_id="TEST-0002").exists()
    library_scan()
    gone = LibraryFinding.objects.get(osv_id="TEST-0002")
    assert gone.status == "resolved" and gone.resolved_at is not None


def test_malformed_advisories_are_reported_by_file_and_field_and_skipped(write_advisories):
    bad_events = advisory("TEST-0003", "x", "1.0")
    bad_events["affected"][0]["ranges"][0]["events"] = [{"introduced": "0", "fixed": "1.0"}]
    folder = write_advisories(
        advisory("TEST-0001", "demo-lib", "1.1"),
        {**advisory("TEST-0002", "x", "1.0"), "modified": "last tuesday"},
        bad_events,
        raw={
            "broken.yaml": "id: [unclosed",
            "TEST-0004.yaml": "id: TEST-0004\nmodified: 2024-01-01T00:00:00Z\n",
        },
    )
    run = advisories_import_path(path=folder, scan=False)
    assert run.status == "succeeded" and (run.created, run.skipped) == (1, 4)
    where = {(p["file"], p["field"]) for p in run.problems}
    assert where == {
        ("TEST-0002.json", "modified"),
        ("TEST-0003.json", "affected[0].ranges[0].events[0]"),
        ("broken.yaml", "(file)"),
        ("TEST-0004.yaml", "affected"),
    }
    assert list(Advisory.objects.values_list("osv_id", flat=True)) == ["TEST-0001"]


def test_an_unreadable_archive_fails_the_run_with_its_reason(tmp_path):
    run = advisories_import_path(path=str(tmp_path / "missing.zip"), scan=False)
    assert run.status == "failed" and "no such directory or archive" in run.error


def test_an_unparsable_lock_version_is_a_finding_of_its_own(make_user, locked_version, write_advisories):
    dana = make_user("dana")
    version = locked_version(dana, {"demo-lib": "1.0-custom-build", "fine": "1.0"})
    advisories_import_path(path=write_advisories(advisory("TEST-0001", "demo-lib", "1.1")), scan=False)
    summary = library_scan()
    finding = LibraryFinding.objects.get(version=version)
    assert summary.created == 1
    assert (finding.kind, finding.package, finding.installed_version) == (
        "unparsable_version",
        "demo-lib",
        "1.0-custom-build",
    )
    assert "not a PEP 440 version" in finding.summary


def test_the_fix_respects_the_declared_requirements(make_user, locked_version, write_advisories):
    dana = make_user("dana")
    two = advisory("TEST-0002", "demo-lib", "1.3")
    folder = write_advisories(advisory("TEST-0001", "demo-lib", "1.1"), two)
    advisories_import_path(path=folder, scan=False)
    version = locked_version(dana, {"demo-lib": "1.0"}, requirements="demo-lib==1.0\ndemo-lib!=1.3\n")
    library_scan()
    findings = LibraryFinding.objects.filter(version=version)
    assert findings.count() == 2
    # 1.3 fixes both but is excluded by a declared requirement and no higher fix is known.
    assert {f.fixed_version for f in findings} == {""}
    assert "declared !=1.3" in findings[0].fix_note


def test_the_team_mailbox_gets_the_findings_through_the_task(make_user, locked_version, write_advisories):
    dana = make_user("dana")
    dana.email = "dana@example.org"
    dana.save()
    # Team channels are shared mailboxes set up for the team; people get their own notices.
    NotificationChannel.objects.create(
        team=dana.teams.get(), name="team mailbox", emails=["dana@example.org"]
    )
    locked_version(dana, {"demo-lib": "1.0"})
    advisories_import_path(path=write_advisories(advisory("TEST-0001", "demo-lib", "1.1")), scan=False)
    library_scan()
    from apps.monitoring.notifications import notification_send

    delivery = NotificationDelivery.objects.get(event="library.findings")
    notification_send(delivery=delivery)
    assert mail.outbox[-1].to == ["dana@example.org"]
    assert "demo-lib==1.0: TEST-0001" in mail.outbox[-1].body and "fixed in 1.1" in mail.outbox[-1].body
