"""Bulk approval and the library pages, without a worker (the patch jobs stay queued): one patch per
affected version, refusals with their reasons, the page's filters, CSV and scoping."""

import csv
import io

import pytest
from django.core.exceptions import ValidationError

from apps.accounts.roles import Role
from apps.jobs.models import Job
from apps.libraries.imports import advisories_import
from apps.libraries.models import LibraryFinding, PatchRequest
from apps.libraries.patching.services import patch_approve_all
from apps.libraries.scans import library_scan
from tests.integration.libraries.conftest import advisory

pytestmark = pytest.mark.django_db

PAGE = "/it/libraries/"


@pytest.fixture
def flagged(make_user, locked_version):
    import json

    dana = make_user("dana")
    mark = make_user("mark", team="Customer Insights")
    ivan = make_user("ivan", Role.IT_OPERATOR, team=None)
    bea = make_user("bea", Role.BUSINESS_OWNER, team=None)
    a = locked_version(dana, {"jinja2": "2.11.2", "numpy": "1.26.4"}, name="letters")
    b = locked_version(dana, {"jinja2": "2.11.2"}, name="letters-eu")
    c = locked_version(mark, {"jinja2": "2.11.2", "pyyaml": "5.3"}, name="reviews")
    documents = [advisory("TEST-0001", "jinja2", "2.11.3"), advisory("TEST-0002", "pyyaml", "5.4")]
    advisories_import(
        sources=[(f"{d['id']}.json", json.dumps(d).encode()) for d in documents], source="test", scan=False
    )
    library_scan(version_ids=[a.pk, b.pk, c.pk], notify=False)
    assert LibraryFinding.objects.count() == 4
    return {"dana": dana, "mark": mark, "ivan": ivan, "bea": bea, "a": a, "b": b, "c": c}


def test_approving_for_every_affected_version_makes_one_patch_each(flagged):
    patches = patch_approve_all(user=flagged["ivan"], package="Jinja2")

    assert sorted(p.version_id for p in patches) == sorted(flagged[k].pk for k in "abc")
    assert {p.batch for p in patches} == {patches[0].batch} and patches[0].batch is not None
    assert {(p.scope, p.from_version, p.target_version, p.status) for p in patches} == {
        ("all", "2.11.2", "2.11.3", "approved")
    }
    jobs = Job.objects.filter(kind="libraries.patch")
    assert sorted(jobs.values_list("subject_id", flat=True)) == sorted(p.pk for p in patches)
    assert set(LibraryFinding.objects.filter(package="jinja2").values_list("status", flat=True)) == {
        "approved"
    }
    assert LibraryFinding.objects.get(package="pyyaml").status == "open"

    with pytest.raises(ValidationError, match="no model version has an open finding for jinja2"):
        patch_approve_all(user=flagged["ivan"], package="jinja2")


def test_it_page_filters_exports_and_bulk_approves(client, flagged, django_assert_max_num_queries):
    client.force_login(flagged["ivan"])
    with django_assert_max_num_queries(30):
        page = client.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('data-testid="finding-row"') == 4
    assert "TEST-0001" in html and "2.11.3" in html and 'name="finding"' in html

    only_yaml = client.get(PAGE, {"package": "pyyaml"}).content.decode()
    assert only_yaml.count('data-testid="finding-row"') == 1 and "reviews v1" in only_yaml
    by_team = client.get(PAGE, {"team": "credit-risk", "status": "open"}).content.decode()
    assert by_team.count('data-testid="finding-row"') == 2

    export = client.get("/it/libraries/findings.csv", {"package": "jinja2"})
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert export["Content-Type"].startswith("text/csv") and len(rows) == 3
    assert {(r["package"], r["installed_version"], r["fixed_version"], r["status"]) for r in rows} == {
        ("jinja2", "2.11.2", "2.11.3", "open")
    }

    # Bulk approval of two rows: one patch per version and library; the same rows again are refused.
    chosen = LibraryFinding.objects.filter(version__in=[flagged["a"], flagged["c"]], package="jinja2")
    ids = [str(f.pk) for f in chosen]
    answer = client.post("/it/libraries/approve/", {"finding": ids}, follow=True)
    assert "Approved 2 patch(es)" in answer.content.decode()
    assert PatchRequest.objects.filter(scope="one").count() == 2
    again = client.post("/it/libraries/approve/", {"finding": ids}, follow=True).content.decode()
    assert "Not approved: jinja2 2.11.2 → 2.11.3 in letters v1 was already approved by ivan" in again
    assert PatchRequest.objects.count() == 2

    patch = PatchRequest.objects.filter(version=flagged["a"]).get()
    detail = client.get(f"/it/libraries/patches/{patch.pk}/").content.decode()
    assert "jinja2" in detail and 'data-testid="job-progress"' in detail and "approved" in detail


def test_data_scientists_see_their_teams_findings_read_only(client, flagged):
    patch_approve_all(user=flagged["ivan"], package="pyyaml")
    patch = PatchRequest.objects.get()

    client.force_login(flagged["dana"])
    html = client.get(PAGE).content.decode()
    assert html.count('data-testid="finding-row"') == 2 and "reviews" not in html
    assert 'name="finding"' not in html and "Import advisories" not in html
    refused = client.post("/it/libraries/approve/", {"finding": [flagged["a"].library_findings.get().pk]})
    assert refused.status_code == 302 and PatchRequest.objects.count() == 1
    assert client.get(f"/it/libraries/patches/{patch.pk}/").status_code == 404  # mark's team's patch

    client.force_login(flagged["mark"])
    html = client.get(PAGE).content.decode()
    assert html.count('data-testid="finding-row"') == 2 and "letters" not in html
    assert client.get(f"/it/libraries/patches/{patch.pk}/").status_code == 200

    client.force_login(flagged["bea"])
    assert client.get(PAGE).status_code == 404


def test_refusals_name_what_was_wrong(client, flagged):
    from apps.libraries.patching.services import patch_approve

    with pytest.raises(ValidationError, match="letters v1 has no finding for pandas"):
        patch_approve(user=flagged["ivan"], version_id=flagged["a"].pk, package="pandas")
    with pytest.raises(ValidationError, match="'not a version' is not a valid version"):
        patch_approve(
            user=flagged["ivan"], version_id=flagged["a"].pk, package="jinja2", target_version="not a version"
        )
    with pytest.raises(ValidationError, match="2.11.1 is not an upgrade of the installed 2.11.2"):
        patch_approve(
            user=flagged["ivan"], version_id=flagged["a"].pk, package="jinja2", target_version="2.11.1"
        )

    gone = flagged["b"].library_findings.get().pk
    flagged["b"].delete()
    client.force_login(flagged["ivan"])
    answer = client.post("/it/libraries/approve/", {"finding": [gone]}, follow=True).content.decode()
    assert f"finding #{gone} no longer exists" in answer
    assert not PatchRequest.objects.exists()
