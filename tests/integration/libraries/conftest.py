"""Model versions with a lock (a successful package build row holding it), registered the way a
data scientist does, and small advisory folders written per test."""

import json
import uuid

import pytest

from apps.packaging.models import PackageBuild
from tests import model_zoo
from tests.conftest import register_credit_version


@pytest.fixture
def locked_version(credit_frame):
    frame = model_zoo.training_frame(credit_frame, rows=200)
    filename, content = model_zoo.python_source(frame)

    def make(user, packages: dict[str, str], name: str = "credit", requirements: str = ""):
        version = register_credit_version(
            user, filename, content, frame, name=name, requirements=requirements
        )
        PackageBuild.objects.create(
            version=version,
            inputs_digest=uuid.uuid4().hex,
            status=PackageBuild.Status.SUCCEEDED,
            validation_passed=True,
            lock_entries=[{"name": n, "version": v, "source": "captured"} for n, v in packages.items()],
        )
        return version

    return make


def advisory(osv_id: str, package: str, fixed: str, modified: str = "2024-01-01T00:00:00Z", **extra) -> dict:
    return {
        "id": osv_id,
        "modified": modified,
        "aliases": [f"CVE-2099-{osv_id[-4:]}"],
        "summary": f"{package} before {fixed} does bad things",
        "details": "details",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": package},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
            }
        ],
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}],
        **extra,
    }


@pytest.fixture
def write_advisories(tmp_path):
    folder = tmp_path / "vulns"

    def write(*documents: dict, raw: dict[str, str] | None = None):
        folder.mkdir(exist_ok=True)
        for document in documents:
            (folder / f"{document['id']}.json").write_text(json.dumps(document))
        for name, text in (raw or {}).items():
            (folder / name).write_text(text)
        return folder

    return write
