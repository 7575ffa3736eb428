"""A model package as a reproducible .tar.gz with a manifest of SHA-256 digests, and its verification.

Reproducible means identical files give an identical archive, byte for byte: members are sorted and
carry no time, owner or host of their own, so the archive's digest identifies its contents.
"""

import gzip
import hashlib
import io
import json
import posixpath
import tarfile

MANIFEST = "manifest.json"
PACKAGE_FORMAT = "modelyard-package/1"
EXECUTABLES = frozenset({"serve.py", "batch.py"})
_CHUNK = 1024 * 1024


def build_archive(files: dict[str, bytes], *, root: str) -> tuple[bytes, dict]:
    """The .tar.gz bytes, every member under root/, with manifest.json added; and that manifest."""
    _check_root(root)
    for name in files:
        problem = _unsafe_name(name)
        if problem:
            raise ValueError(f"cannot package {name!r}: {problem}")
    if MANIFEST in files:
        raise ValueError(f"{MANIFEST} is written by the archive itself")
    manifest = {
        "files": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for name, data in sorted(files.items())
        },
        "format": PACKAGE_FORMAT,
    }
    members = {**files, MANIFEST: (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()}
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(members):
            data = members[name]
            info = _member(f"{root}/{name}", len(data), executable=name in EXECUTABLES)
            tar.addfile(info, io.BytesIO(data))
    compressed = io.BytesIO()
    # filename="" and mtime=0: gzip would otherwise record a name and the time of writing.
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0, compresslevel=9) as gz:
        gz.write(tar_bytes.getvalue())
    return compressed.getvalue(), manifest


def _member(path: str, size: int, *, executable: bool) -> tarfile.TarInfo:
    info = tarfile.TarInfo(path)
    info.size = size
    info.mtime = 0
    info.mode = 0o755 if executable else 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _check_root(root: str) -> None:
    if not root or "/" in root or "\\" in root or root in (".", ".."):
        raise ValueError(f"the archive root must be one plain folder name, not {root!r}")


def _unsafe_name(name: str) -> str | None:
    if not name or name.startswith("/") or "\\" in name or (len(name) > 1 and name[1] == ":"):
        return "an absolute or non-POSIX path"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "a path with '..', '.' or an empty part"
    return None


def verify_archive(data: bytes) -> list[str]:
    """Every way the archive differs from its own manifest, or is unsafe to unpack; [] if it verifies."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            return _verify(tar)
    except (tarfile.TarError, OSError, EOFError, gzip.BadGzipFile) as exc:
        return [f"not a readable .tar.gz: {exc}"]


def _verify(tar: tarfile.TarFile) -> list[str]:
    problems: list[str] = []
    digests: dict[str, tuple[str, int]] = {}
    manifest_bytes = None
    roots = set()
    for member in tar:
        name = member.name
        problem = _unsafe_member(member)
        if problem:
            problems.append(f"unsafe member {name!r}: {problem}")
            continue
        if member.isdir():
            continue
        root, _, relative = name.partition("/")
        roots.add(root)
        if not relative:
            problems.append(f"member {name!r} is not inside the package folder")
            continue
        if relative in digests or (relative == MANIFEST and manifest_bytes is not None):
            problems.append(f"{relative} appears more than once")
            continue
        stream = tar.extractfile(member)
        if relative == MANIFEST:
            manifest_bytes = stream.read()
        else:
            digests[relative] = _digest(stream)
    if len(roots) > 1:
        problems.append(f"members sit under several folders: {', '.join(sorted(roots))}")
    if manifest_bytes is None:
        return [*problems, f"missing {MANIFEST}"]
    listed = _manifest_files(manifest_bytes, problems)
    if listed is None:
        return problems
    for name in sorted(set(listed) - set(digests)):
        problems.append(f"missing file: {name}")
    for name in sorted(set(digests) - set(listed)):
        problems.append(f"extra file not in the manifest: {name}")
    for name in sorted(set(listed) & set(digests)):
        expected = listed[name] if isinstance(listed[name], dict) else {}
        sha256, size = digests[name]
        if expected.get("sha256") != sha256:
            problems.append(f"{name}: SHA-256 does not match the manifest")
        elif expected.get("size") != size:
            problems.append(f"{name}: size does not match the manifest")
    return problems


def _unsafe_member(member: tarfile.TarInfo) -> str | None:
    if member.issym() or member.islnk():
        return "a link"
    if not (member.isfile() or member.isdir()):
        return "not a regular file"
    name = member.name.rstrip("/") if member.isdir() else member.name
    if posixpath.isabs(name) or "\\" in name or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if ".." in name.split("/"):
        return "a path with '..'"
    return None


def _digest(stream) -> tuple[str, int]:
    sha256, size = hashlib.sha256(), 0
    while chunk := stream.read(_CHUNK):
        sha256.update(chunk)
        size += len(chunk)
    return sha256.hexdigest(), size


def _manifest_files(raw: bytes, problems: list[str]) -> dict | None:
    try:
        manifest = json.loads(raw)
    except ValueError:
        problems.append(f"{MANIFEST} is not valid JSON")
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        problems.append(f'{MANIFEST} has no "files" object')
        return None
    if manifest.get("format") != PACKAGE_FORMAT:
        problems.append(f"{MANIFEST} is not of format {PACKAGE_FORMAT}")
    return manifest["files"]
