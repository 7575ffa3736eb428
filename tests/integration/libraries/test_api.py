"""The library API: who sees which findings, filters, CSV export, IT-only writes, pip-audit."""

import io
import json
import zipfile

import pytest

from apps.accounts.roles import Role
from apps.libraries.imports import advisories_import_path
from apps.libraries.models import LibraryFinding, LibraryRule
from apps.libraries.scans import library_scan
from tests.conftest import named_file
from tests.integration.libraries.conftest import advisory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(make_user, locked_version, write_advisories):
    dana = make_user("dana")
    mark = make_user("mark", team="Customer Insights")
    ivan = make_user("ivan", role=Role.IT_OPERATOR, team=None)
    credit = locked_version(dana, {"demo-lib": "1.0", "other": "2.0"}, name="credit")
    churn = locked_version(mark, {"demo-lib": "1.0"}, name="churn")
    folder = write_advisories(advisory("TEST-0001", "demo-lib", "1.1"), advisory("TEST-0002", "other", "2.1"))
    advisories_import_path(path=folder, scan=False)
    library_scan(notify=False)
    return dana, mark, ivan, credit, churn


def test_data_scientists_see_their_teams_findings_and_it_sees_all(world, api_for):
    dana, mark, ivan, credit, churn = world
    mine = api_for(dana).get("/api/v1/library-findings/").json()["results"]
    assert {(f["model"], f["package"]) for f in mine} == {("credit", "demo-lib"), ("credit", "other")}
    assert {f["team"] for f in mine} == {"Credit Risk"}
    theirs = api_for(mark).get("/api/v1/library-findings/").json()["results"]
    assert {(f["model"], f["package"]) for f in theirs} == {("churn", "demo-lib")}
    other_team = LibraryFinding.objects.get(version=churn)
    assert api_for(dana).get(f"/api/v1/library-findings/{other_team.pk}/").status_code == 404
    everything = api_for(ivan).get("/api/v1/library-findings/").json()
    assert everything["count"] == 3
    filtered = api_for(ivan).get("/api/v1/library-findings/?package=Demo_Lib&team=Customer Insights").json()
    assert [(f["model"], f["advisory"], f["fixed_version"]) for f in filtered["results"]] == [
        ("churn", "TEST-0001", "1.1")
    ]
    assert api_for(ivan).get("/api/v1/library-findings/?severity=low").json()["count"] == 0
    assert api_for(ivan).get("/api/v1/library-findings/?status=open&model=credit").json()["count"] == 2


def test_csv_export_follows_the_filters_and_the_scope(world, api_for):
    dana, _mark, ivan, *_ = world
    response = api_for(ivan).get("/api/v1/library-findings/export/?package=demo-lib")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().strip().splitlines()
    assert lines[0].startswith("team,model,version,package,installed_version,advisory")
    assert len(lines) == 3
    mine = api_for(dana).get("/api/v1/library-findings/export/").content.decode().strip().splitlines()
    assert len(mine) == 3 and all(",credit," in line for line in mine[1:])


def test_advisories_are_read_by_all_and_imported_by_it_only(world, api_for):
    dana, _mark, ivan, *_ = world
    assert api_for(dana).get("/api/v1/advisories/?package=demo-lib").json()["count"] == 1
    detail = api_for(dana).get("/api/v1/advisories/TEST-0001/").json()
    assert detail["severity"] == "high" and detail["affected"][0]["name"] == "demo-lib"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("vulns/TEST-0003.json", json.dumps(advisory("TEST-0003", "third", "3.0")))
        archive.writestr("vulns/bad.json", "{")
    upload = {"archive": named_file("advisories.zip", buffer.getvalue())}
    assert api_for(dana).post("/api/v1/advisories/import/", upload, format="multipart").status_code == 403
    upload = {"archive": named_file("advisories.zip", buffer.getvalue())}
    created = api_for(ivan).post("/api/v1/advisories/import/", upload, format="multipart")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["created"], body["skipped"]) == (1, 1)
    assert body["problems"][0]["file"] == "vulns/bad.json" and body["problems"][0]["field"] == "(file)"
    wrong = {"archive": named_file("advisories.rar", b"x")}
    refused = api_for(ivan).post("/api/v1/advisories/import/", wrong, format="multipart")
    assert refused.status_code == 400 and "expected a .zip or .tar.gz" in refused.json()["detail"]
    assert api_for(dana).get("/api/v1/advisory-imports/").json()["count"] == 0
    runs = api_for(ivan).get("/api/v1/advisory-imports/").json()["results"]
    assert [r["status"] for r in runs] == ["failed", "succeeded", "succeeded"]  # newest first


def test_policy_rules_are_written_by_it_and_errors_name_the_field(world, api_for):
    dana, _mark, ivan, *_ = world
    rule = {"package": "PyYAML", "rule": "minimum", "minimum_version": "5.4", "reason": "CVE-2020-14343"}
    assert api_for(dana).post("/api/v1/library-rules/", rule, format="json").status_code == 403
    created = api_for(ivan).post("/api/v1/library-rules/", rule, format="json")
    assert created.status_code == 201 and created.json()["package"] == "pyyaml"
    bad = api_for(ivan).patch(
        f"/api/v1/library-rules/{created.json()['id']}/", {"minimum_version": "x.y"}, format="json"
    )
    assert bad.status_code == 400 and "minimum_version" in bad.json()
    changed = api_for(ivan).patch(
        f"/api/v1/library-rules/{created.json()['id']}/", {"rule": "blocked"}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["rule"] == "blocked"
    assert api_for(dana).get("/api/v1/library-rules/").json()["count"] == 1
    team = dana.teams.get()
    grant = {
        "rule": created.json()["id"],
        "team": team.pk,
        "expires_at": "2999-01-01T00:00:00Z",
        "reason": "legacy",
    }
    assert api_for(dana).post("/api/v1/library-exceptions/", grant, format="json").status_code == 403
    assert api_for(ivan).post("/api/v1/library-exceptions/", grant, format="json").status_code == 201
    assert api_for(dana).get("/api/v1/library-exceptions/").json()["count"] == 1
    assert api_for(ivan).delete(f"/api/v1/library-rules/{created.json()['id']}/").status_code == 204
    assert not LibraryRule.objects.exists()


PIP_AUDIT = {
    "dependencies": [
        {
            "name": "Demo-Lib",
            "version": "1.0",
            "vulns": [{"id": "TEST-0001", "fix_versions": ["1.2", "1.1"], "aliases": []}],
        },
        {"name": "numpy", "version": "1.26.4", "vulns": []},
        {"name": "private", "skip_reason": "not on PyPI"},
    ],
    "fixes": [],
}


def test_pip_audit_reports_become_findings(world, api_for):
    dana, mark, ivan, credit, _churn = world
    content = json.dumps(PIP_AUDIT).encode()
    upload = {"report": named_file("audit.json", content), "version": credit.pk}
    created = api_for(dana).post("/api/v1/pip-audit-reports/", upload, format="multipart")
    assert created.status_code == 201, created.json()
    report_id = created.json()["id"]
    finding = LibraryFinding.objects.get(report_id=report_id)
    assert (finding.version, finding.package, finding.fixed_version, finding.severity) == (
        credit,
        "demo-lib",
        "1.1",
        "high",
    )
    # mark cannot attach a report to dana's version, nor see hers; a version that is gone is named.
    upload = {"report": named_file("audit.json", content), "version": credit.pk}
    refused = api_for(mark).post("/api/v1/pip-audit-reports/", upload, format="multipart")
    assert refused.status_code == 400 and "version" in refused.json()
    assert api_for(mark).get(f"/api/v1/pip-audit-reports/{report_id}/").status_code == 404
    standalone = api_for(ivan).post(
        "/api/v1/pip-audit-reports/", {"report": named_file("a.json", content)}, format="multipart"
    )
    assert standalone.status_code == 201 and standalone.json()["version"] is None
    broken = api_for(ivan).post(
        "/api/v1/pip-audit-reports/",
        {"report": named_file("a.json", json.dumps({"dependencies": [{"version": "1"}]}).encode())},
        format="multipart",
    )
    assert broken.status_code == 400 and "dependencies[0].name" in broken.json()["detail"]
