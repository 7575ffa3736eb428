import json
import uuid
from datetime import UTC, datetime

import pytest

from apps.packaging.bundle.lock import build_lock
from apps.packaging.bundle.sbom import build_sbom, serial_number

SHA = "0123456789abcdef" * 4


@pytest.fixture(scope="module")
def lock():
    return build_lock(
        python="3.11.7",
        packages={"scikit-learn": "1.4.2", "numpy": "1.26.4"},
        declared="requests==2.31.0",
    )


def sbom(lock, **overrides):
    arguments = {"model_name": "credit-risk", "model_version": 3, "lock": lock, "artifact_sha256": SHA}
    return build_sbom(**(arguments | overrides))


def test_the_model_is_the_described_component_with_its_hash(lock):
    document = json.loads(sbom(lock))
    assert document["bomFormat"] == "CycloneDX"
    assert document["specVersion"] == "1.6"
    model = document["metadata"]["component"]
    assert model["type"] == "machine-learning-model"
    assert (model["name"], model["version"]) == ("credit-risk", "3")
    assert model["hashes"] == [{"alg": "SHA-256", "content": SHA}]


def test_every_locked_package_is_a_library_with_a_pypi_purl(lock):
    components = json.loads(sbom(lock))["components"]
    assert {(c["type"], c["name"], c["version"], c["purl"]) for c in components} == {
        ("library", "numpy", "1.26.4", "pkg:pypi/numpy@1.26.4"),
        ("library", "requests", "2.31.0", "pkg:pypi/requests@2.31.0"),
        ("library", "scikit-learn", "1.4.2", "pkg:pypi/scikit-learn@1.4.2"),
    }
    sources = {c["name"]: c["properties"][0]["value"] for c in components}
    assert sources == {"numpy": "captured", "requests": "declared", "scikit-learn": "captured"}


def test_the_model_depends_on_every_library(lock):
    document = json.loads(sbom(lock))
    model_ref = document["metadata"]["component"]["bom-ref"]
    depends = next(d for d in document["dependencies"] if d["ref"] == model_ref)
    assert sorted(depends["dependsOn"]) == sorted(c["bom-ref"] for c in document["components"])


def test_the_same_inputs_give_the_same_bytes(lock):
    assert sbom(lock) == sbom(lock)
    document = json.loads(sbom(lock))
    assert document["serialNumber"] == serial_number("credit-risk", 3, SHA).urn
    assert document["metadata"]["timestamp"].startswith("1970-01-01T00:00:00")


def test_the_serial_number_follows_the_model_version_and_artifact(lock):
    serials = {
        json.loads(sbom(lock, **change))["serialNumber"]
        for change in ({}, {"model_version": 4}, {"model_name": "other"}, {"artifact_sha256": "f" * 64})
    }
    assert len(serials) == 4
    assert all(uuid.UUID(s.removeprefix("urn:uuid:")).version == 5 for s in serials)


def test_a_given_timestamp_is_used(lock):
    moment = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert json.loads(sbom(lock, timestamp=moment))["metadata"]["timestamp"].startswith("2024-05-06T07:08:09")


def test_a_package_hash_is_carried_into_the_sbom():
    from apps.packaging.bundle.lock import Lock, LockEntry

    hashed = Lock("3.11.7", [LockEntry("numpy", "1.26.4", ["sha256:" + "ab" * 32])], [], [], "")
    (component,) = json.loads(sbom(hashed))["components"]
    assert component["hashes"] == [{"alg": "SHA-256", "content": "ab" * 32}]


def test_the_sbom_is_valid_against_the_cyclonedx_schema(lock):
    from cyclonedx.exception import MissingOptionalDependencyException
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    try:
        validator = JsonStrictValidator(SchemaVersion.V1_6)
        error = validator.validate_str(sbom(lock))
    except MissingOptionalDependencyException:
        pytest.skip("cyclonedx-python-lib's json-validation extra is not installed")
    assert error is None, error
    broken = json.loads(sbom(lock))
    broken["metadata"]["component"]["type"] = "not-a-type"
    assert validator.validate_str(json.dumps(broken)) is not None
