"""The demo's data (tests/integration/kpis/test_pages_demo.py: monitoring history with alerts and
explanations, KPIs with a canary), plus what the other pages need to draw everything they can:
service-level minutes for the SLA charts, a vulnerable library in the deployed models, an admin,
and a job still running so its progress widget polls."""

import json

import pytest

from apps.accounts.roles import Role
from apps.jobs.services import job_enqueue, job_start, job_step
from apps.libraries.imports import advisories_import_path
from apps.libraries.scans import library_scan
from apps.registry.services import version_profile_compute
from tests.integration.kpis.test_pages_demo import PASSWORD, demo  # noqa: F401
from tests.integration.libraries.conftest import advisory
from tests.integration.sla.conftest import store_minutes

__all__ = ["PASSWORD", "demo", "site"]


@pytest.fixture
def site(demo, make_user, tmp_path):  # noqa: F811
    deployment = demo["deployment"]
    store_minutes(deployment.endpoint, minutes=30)
    make_user("root", Role.ADMIN, team=None, password=PASSWORD)

    # The deployed version's lock holds an old joblib, which an advisory says is vulnerable.
    build = deployment.version.packages.latest("created_at")
    build.lock_entries = [{"name": "joblib", "version": "1.0", "source": "captured"}]
    build.save(update_fields=["lock_entries"])
    folder = tmp_path / "advisories"
    folder.mkdir()
    (folder / "TEST-0001.json").write_text(json.dumps(advisory("TEST-0001", "joblib", "1.2")))
    advisories_import_path(path=str(folder), scan=False)
    library_scan(notify=False)

    version = deployment.version  # its profile is drawn; a new profiling job is still running
    version_profile_compute(version=version)
    job = job_enqueue(
        kind="registry.profile_reference",
        subject_type="version",
        subject_id=version.pk,
        idempotency_key=f"headers-site:{version.pk}",
        send=lambda job_id: None,  # no worker: the job stays where the test puts it
        team=version.model.team,
    )
    job_start(job_id=job.pk)
    job.refresh_from_db()
    job_step(job, progress=40, message="profiling the reference data")
    return {**demo, "running_job": job}
