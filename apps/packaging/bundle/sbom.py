"""A CycloneDX software bill of materials for a model package: the model, and every locked package."""

import uuid
from datetime import UTC, datetime

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from apps.packaging.bundle.lock import Lock

# 1.6 rather than the newest 1.7: it has the machine-learning-model type and far wider tool support.
SPEC_VERSION = "1.6"
# Fixed, not "now": the same package must give the same bytes (SOURCE_DATE_EPOCH=0 convention).
DEFAULT_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)
_SERIAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://modelyard.invalid/sbom")


def build_sbom(
    *,
    model_name: str,
    model_version: int,
    lock: Lock,
    artifact_sha256: str,
    timestamp: datetime | None = None,
) -> str:
    bom = Bom(serial_number=serial_number(model_name, model_version, artifact_sha256))
    bom.metadata.timestamp = _utc(timestamp or DEFAULT_TIMESTAMP)
    model = Component(
        type=ComponentType.MACHINE_LEARNING_MODEL,
        name=model_name,
        version=str(model_version),
        bom_ref=f"model:{model_name}@{model_version}",
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=artifact_sha256.lower())],
    )
    bom.metadata.component = model
    libraries = [_library(entry) for entry in lock.entries]
    bom.components.update(libraries)
    bom.register_dependency(model, libraries)
    return JsonV1Dot6(bom).output_as_string(indent=2) + "\n"


def serial_number(model_name: str, model_version: int, artifact_sha256: str) -> uuid.UUID:
    return uuid.uuid5(_SERIAL_NAMESPACE, f"{model_name}\n{model_version}\n{artifact_sha256.lower()}")


def _library(entry) -> Component:
    purl = PackageURL(type="pypi", name=entry.name, version=entry.version)
    return Component(
        type=ComponentType.LIBRARY,
        name=entry.name,
        version=entry.version,
        purl=purl,
        bom_ref=purl.to_string(),
        hashes=[_hash(h) for h in entry.hashes if h.startswith("sha256:")],
        properties=[Property(name="modelyard:lock-source", value=entry.source)],
    )


def _hash(lock_hash: str) -> HashType:
    return HashType(alg=HashAlgorithm.SHA_256, content=lock_hash.removeprefix("sha256:"))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
