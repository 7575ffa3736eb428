from pathlib import Path

import pytest

from apps.libraries import osv
from apps.libraries.matching import AdvisoryIndex
from tests.shared_data import require

ADVISORIES = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "advisories" / "vulns"


@pytest.fixture(scope="session")
def shipped() -> list[tuple[osv.Advisory | None, list[osv.Problem]]]:
    require(ADVISORIES)
    return [osv.load(name, content) for name, content in osv.read_sources(ADVISORIES)]


@pytest.fixture(scope="session")
def index(shipped) -> AdvisoryIndex:
    built = AdvisoryIndex()
    for advisory, _ in shipped:
        if advisory is not None and advisory.withdrawn is None:
            for affected in advisory.affected:
                built.add(advisory.id, affected.name, affected.intervals, affected.versions)
    return built.build()
