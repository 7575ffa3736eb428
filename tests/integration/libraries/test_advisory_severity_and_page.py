"""Severity when an advisory gives no vector (stated by its database, or by an alias), the
advisory's own page with team-scoped findings, and pre-release fixes recommended as final releases
(all on real PyPA advisories)."""

import json
from pathlib import Path

import pytest

from apps.accounts.roles import Role
from apps.libraries.imports import advisories_import
from apps.libraries.models import Advisory, LibraryFinding
from apps.libraries.scans import library_scan
from tests.shared_data import require

pytestmark = pytest.mark.django_db

VULNS = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "advisories" / "vulns"


def _real(path: str) -> tuple[str, bytes]:
    return path, require(VULNS / path).read_bytes()


def _ghsa_for_jinja2() -> tuple[str, bytes]:
    """GitHub's record of CVE-2020-28493 in the OSV format it publishes, its severity stated in
    ``database_specific`` (its CVSS vector left out, as many GHSA records have none)."""
    document = {
        "id": "GHSA-g3rq-g295-4j3m",
        "modified": "2024-09-25T19:40:39Z",
        "published": "2021-03-19T21:28:05Z",
        "aliases": ["CVE-2020-28493"],
        "summary": "Regular Expression Denial of Service (ReDoS) in Jinja2",
        "details": "This affects the package jinja2 from 0.0.0 and before 2.11.3. The ReDoS ...",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "jinja2"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.11.3"}]}],
            }
        ],
        "references": [{"type": "ADVISORY", "url": "https://nvd.nist.gov/vuln/detail/CVE-2020-28493"}],
        "database_specific": {"cwe_ids": ["CWE-400"], "github_reviewed": True, "severity": "MODERATE"},
    }
    return "GHSA-g3rq-g295-4j3m.json", json.dumps(document).encode()


@pytest.fixture
def jinja(make_user, locked_version):
    dana = make_user("dana")
    mark = make_user("mark", team="Customer Insights")
    ivan = make_user("ivan", Role.IT_OPERATOR, team=None)
    letters = locked_version(dana, {"jinja2": "2.11.2"}, name="letters")
    reviews = locked_version(mark, {"jinja2": "2.11.2"}, name="reviews")
    advisories_import(sources=[_real("jinja2/PYSEC-2021-66.yaml")], source="test", scan=False)
    return {"dana": dana, "mark": mark, "ivan": ivan, "letters": letters, "reviews": reviews}


def test_a_severity_the_database_states_is_used_and_marked(jinja):
    pysec = Advisory.objects.get(osv_id="PYSEC-2021-66")
    assert (pysec.severity, pysec.severity_source) == ("unknown", "none")  # no vector, no statement
    advisories_import(sources=[_ghsa_for_jinja2()], source="test", scan=False)
    ghsa = Advisory.objects.get(osv_id="GHSA-g3rq-g295-4j3m")
    assert (ghsa.severity, ghsa.severity_source) == ("medium", "database")
    assert ghsa.severity_detail == "database_specific.severity: MODERATE"
    # CVE-2020-28493 as PyPA records it takes the severity of its GHSA alias, imported later.
    pysec.refresh_from_db()
    assert (pysec.severity, pysec.severity_source) == ("medium", "alias")
    assert pysec.severity_detail == "GHSA-g3rq-g295-4j3m (stated by the database)"


def test_findings_and_the_api_say_where_the_severity_comes_from(jinja, api_for):
    advisories_import(sources=[_ghsa_for_jinja2()], source="test", scan=False)
    library_scan(notify=False)
    found = api_for(jinja["dana"]).get("/api/v1/library-findings/?advisory=PYSEC-2021-66").json()["results"]
    assert [(f["severity"], f["severity_source"]) for f in found] == [("medium", "alias")]
    detail = api_for(jinja["dana"]).get("/api/v1/advisories/GHSA-g3rq-g295-4j3m/").json()
    assert (detail["severity"], detail["severity_source"]) == ("medium", "database")
    assert detail["severity_detail"] == "database_specific.severity: MODERATE"


def test_the_advisory_page_shows_its_text_and_only_the_users_models(jinja, client):
    library_scan(notify=False)
    url = "/it/libraries/advisories/PYSEC-2021-66/"
    client.force_login(jinja["dana"])
    page = client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "The ReDoS vulnerability" in text and "CVE-2020-28493" in text
    assert "&lt; 2.11.3 (fixed in 2.11.3)" in text and "https://github.com/pallets/jinja/pull/1343" in text
    assert "letters v1" in text and "reviews" not in text  # mark's model is another team's
    assert 'data-testid="advisory-severity-source">not given' in text
    client.force_login(jinja["ivan"])
    text = client.get(url).content.decode()
    assert "letters v1" in text and "reviews v1" in text
    listing = client.get("/it/libraries/").content.decode()
    assert f'href="{url}"' in listing


@pytest.mark.parametrize("bad", ["NOPE-1", "PYSEC-2021-66x", "%27%22%3E%3Cscript%3E", "a" * 300])
def test_an_unknown_advisory_is_a_404(jinja, client, bad):
    client.force_login(jinja["dana"])
    assert client.get(f"/it/libraries/advisories/{bad}/").status_code == 404


def test_a_dev0_fix_is_recommended_as_a_final_release_unless_the_model_asks(make_user, locked_version):
    dana = make_user("dana")
    final = locked_version(dana, {"scikit-learn": "0.23.2"}, name="svm")
    asks = locked_version(dana, {"scikit-learn": "0.23.2"}, name="svm-pre", requirements="--pre\n")
    advisories_import(sources=[_real("scikit-learn/PYSEC-2020-108.yaml")], source="test", scan=False)
    library_scan(notify=False)
    fixes = {
        f.version.model.name: f.fixed_version
        for f in LibraryFinding.objects.filter(osv_id="PYSEC-2020-108").select_related("version__model")
    }
    assert fixes == {"svm": "0.24", "svm-pre": "0.24.dev0"}
    assert final.pk != asks.pk
