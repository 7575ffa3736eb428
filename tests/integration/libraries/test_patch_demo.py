"""The demo's library story on first run: credit-letters pins jinja2==2.11.2, the shipped PyPA
advisories are imported during the seed, and the IT library page shows the finding, ready to approve."""

import pytest

from apps.demo.libraries_demo import MODEL, seed_libraries
from apps.demo.seed import data_dir, seed_users
from apps.libraries.models import LibraryFinding
from tests.shared_data import require

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_demo_seed_flags_the_model_that_pins_a_vulnerable_jinja2(celery_worker, client):
    require(data_dir() / "advisories")
    users = seed_users()
    seed_libraries(users)

    finding = LibraryFinding.objects.select_related("version__model").get(version__model__name=MODEL)
    assert (finding.package, finding.installed_version, finding.fixed_version) == (
        "jinja2",
        "2.11.2",
        "2.11.3",
    )
    assert finding.status == "open" and finding.osv_id and "CVE-2020-28493" in finding.aliases

    client.force_login(users["ivan"])
    page = client.get("/it/libraries/").content.decode()
    assert f"{MODEL} v1" in page and "jinja2==2.11.2" in page and 'name="finding"' in page
    home = client.get("/").content.decode()
    assert "IT: libraries" in home

    seed_libraries(users)  # a second seed changes nothing
    assert LibraryFinding.objects.filter(version__model__name=MODEL).count() == 1
