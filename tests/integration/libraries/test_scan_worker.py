"""An IT import through the API queues a scan that a real Celery worker runs: the finding appears
and the model's team gets its message."""

import io
import json
import zipfile

import pytest

from apps.accounts.roles import Role
from apps.libraries.models import LibraryFinding
from apps.monitoring.models import NotificationChannel, NotificationDelivery
from tests.conftest import named_file, wait_for
from tests.integration.libraries.conftest import advisory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_an_import_scans_every_lock_in_the_worker(celery_worker, make_user, api_for, locked_version):
    dana = make_user("dana")
    dana.email = "dana@example.org"
    dana.save()
    # Team channels are shared mailboxes set up for the team; people get their own notices.
    NotificationChannel.objects.create(
        team=dana.teams.get(), name="team mailbox", emails=["dana@example.org"]
    )
    ivan = make_user("ivan", role=Role.IT_OPERATOR, team=None)
    version = locked_version(dana, {"demo-lib": "1.0", "numpy": "1.26.4"})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("TEST-0001.json", json.dumps(advisory("TEST-0001", "demo-lib", "1.1")))
    response = api_for(ivan).post(
        "/api/v1/advisories/import/", {"archive": named_file("a.zip", buffer.getvalue())}, format="multipart"
    )
    assert response.status_code == 201
    finding = wait_for(lambda: LibraryFinding.objects.filter(version=version).first(), timeout=60)
    assert (finding.package, finding.osv_id, finding.fixed_version) == ("demo-lib", "TEST-0001", "1.1")
    delivery = wait_for(
        lambda: NotificationDelivery.objects.filter(event="library.findings", status="sent").first(),
        timeout=60,
    )
    assert delivery.payload["findings"][0]["advisory"] == "TEST-0001"


def test_a_new_package_is_scanned_against_earlier_advisories(celery_worker, make_user, locked_version):
    from apps.libraries.imports import advisories_import

    dana = make_user("dana")
    document = json.dumps(advisory("TEST-0002", "demo-lib", "1.1")).encode()
    # Imported without the import's own scan: only the new package's hook can find the version.
    advisories_import(sources=[("TEST-0002.json", document)], source="test", scan=False)
    version = locked_version(dana, {"demo-lib": "1.0"})
    finding = wait_for(lambda: LibraryFinding.objects.filter(version=version).first(), timeout=60)
    assert (finding.osv_id, finding.fixed_version) == ("TEST-0002", "1.1")
