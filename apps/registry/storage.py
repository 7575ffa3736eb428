"""Artifacts and reference data go through Django's storage API, addressed by content hash."""

import hashlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.core.files.storage import default_storage


@dataclass(frozen=True)
class StoredFile:
    path: str
    sha256: str
    size: int
    created: bool  # False when identical content was already stored


def sha256_of(fileobj) -> tuple[str, int]:
    fileobj.seek(0)
    digest = hashlib.sha256()
    size = 0
    for chunk in iter(lambda: fileobj.read(1024 * 1024), b""):
        digest.update(chunk)
        size += len(chunk)
    fileobj.seek(0)
    return digest.hexdigest(), size


def store_by_hash(fileobj, *, kind: str, filename: str) -> StoredFile:
    sha, size = sha256_of(fileobj)
    suffix = "".join(PurePosixPath(filename).suffixes[-2:])[:20]
    path = f"{kind}/sha256/{sha[:2]}/{sha}{suffix}"
    if default_storage.exists(path):
        return StoredFile(path, sha, size, created=False)
    saved = default_storage.save(path, fileobj)
    fileobj.seek(0)
    return StoredFile(saved, sha, size, created=True)


def discard(stored: list[StoredFile]) -> None:
    """Remove files this request wrote, when the registration they belonged to failed."""
    for item in stored:
        if item.created:
            default_storage.delete(item.path)
