import gzip
import hashlib
import io
import json
import tarfile

import pytest

from apps.packaging.bundle.archive import PACKAGE_FORMAT, build_archive, verify_archive

FILES = {
    "serve.py": b"print('serve')\n",
    "batch.py": b"print('batch')\n",
    "model.joblib": bytes(range(256)) * 40,
    "docs/card.md": b"# card\n",
}


def members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: m for m in tar.getmembers()}


def raw_archive(entries: list[tuple[str, bytes | None, bytes]]) -> bytes:
    """A .tar.gz written by hand: (name, content or None, link target) for tampered archives."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content, target in entries:
            info = tarfile.TarInfo(name)
            if content is None:
                info.type, info.linkname = tarfile.SYMTYPE, target.decode()
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def repacked(data: bytes, change) -> bytes:
    """The archive's members as (name, content, b"") after change(list) has edited them."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        entries = [(m.name, tar.extractfile(m).read(), b"") for m in tar.getmembers()]
    change(entries)
    return raw_archive(entries)


def test_identical_files_give_an_identical_archive():
    first, manifest = build_archive(FILES, root="credit-v3")
    second, _ = build_archive(dict(reversed(list(FILES.items()))), root="credit-v3")
    assert first == second
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()
    assert manifest["format"] == PACKAGE_FORMAT
    assert manifest["files"]["serve.py"] == {
        "sha256": hashlib.sha256(FILES["serve.py"]).hexdigest(),
        "size": 15,
    }


def test_members_are_sorted_under_the_root_and_carry_no_time_or_owner():
    data, _ = build_archive(FILES, root="credit-v3")
    found = members(data)
    assert list(found) == sorted(f"credit-v3/{n}" for n in [*FILES, "manifest.json"])
    for name, info in found.items():
        assert (info.mtime, info.uid, info.gid, info.uname, info.gname) == (0, 0, 0, "", "")
        executable = name in ("credit-v3/serve.py", "credit-v3/batch.py")
        assert info.mode == (0o755 if executable else 0o644), name


def test_the_gzip_header_has_no_time_and_no_file_name():
    data, _ = build_archive(FILES, root="pkg")
    assert data[:2] == b"\x1f\x8b"
    assert data[3] & 0x08 == 0  # FNAME flag
    assert data[4:8] == b"\x00\x00\x00\x00"  # MTIME
    assert gzip.decompress(data)  # and it is a valid gzip stream


def test_the_manifest_in_the_archive_is_the_one_returned():
    data, manifest = build_archive(FILES, root="pkg")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        assert json.load(tar.extractfile("pkg/manifest.json")) == manifest


def test_a_built_archive_verifies():
    assert verify_archive(build_archive(FILES, root="pkg")[0]) == []


def test_a_tampered_file_is_caught():
    data, _ = build_archive(FILES, root="pkg")

    def tamper(entries):
        index = next(i for i, e in enumerate(entries) if e[0] == "pkg/model.joblib")
        entries[index] = ("pkg/model.joblib", b"evil" + entries[index][1][4:], b"")

    assert verify_archive(repacked(data, tamper)) == ["model.joblib: SHA-256 does not match the manifest"]


def test_a_missing_and_an_extra_file_are_caught():
    data, _ = build_archive(FILES, root="pkg")

    def swap(entries):
        entries[:] = [e for e in entries if e[0] != "pkg/docs/card.md"]
        entries.append(("pkg/extra.py", b"x", b""))

    assert verify_archive(repacked(data, swap)) == [
        "missing file: docs/card.md",
        "extra file not in the manifest: extra.py",
    ]


@pytest.mark.parametrize(
    ("name", "content", "target", "problem"),
    [
        ("pkg/../escape.py", b"x", b"", "unsafe member 'pkg/../escape.py': a path with '..'"),
        ("/etc/cron.d/job", b"x", b"", "unsafe member '/etc/cron.d/job': an absolute path"),
        ("pkg/link", None, b"/etc/passwd", "unsafe member 'pkg/link': a link"),
    ],
)
def test_unsafe_members_are_caught(name, content, target, problem):
    data, _ = build_archive(FILES, root="pkg")
    assert problem in verify_archive(repacked(data, lambda entries: entries.append((name, content, target))))


def test_an_archive_without_a_manifest_or_not_an_archive_fails():
    assert verify_archive(raw_archive([("pkg/a.py", b"x", b"")])) == ["missing manifest.json"]
    assert verify_archive(b"not a tarball")[0].startswith("not a readable .tar.gz")


def test_unsafe_names_and_roots_are_refused_when_building():
    for name in ("../x", "/abs", "a/../b", "a//b", "manifest.json", "C:/x"):
        with pytest.raises(ValueError):
            build_archive({name: b""}, root="pkg")
    for root in ("", "a/b", ".."):
        with pytest.raises(ValueError):
            build_archive({"a": b""}, root=root)
