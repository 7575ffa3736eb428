"""The OSV reader on the PyPA database as shipped, on malformed documents and on archives."""

import io
import json
import tarfile
import zipfile
from datetime import UTC, datetime

import pytest

from apps.libraries import osv

GOOD = {
    "id": "TEST-1",
    "modified": "2024-01-02T03:04:05.123456789Z",
    "aliases": ["CVE-2024-0001"],
    "details": "bad thing",
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "Demo_Lib"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"fixed": "1.1"}, {"introduced": "0"}]}],
            "versions": ["1.0"],
        }
    ],
}


def test_the_shipped_database_reads_as_its_readme_counts(shipped):
    advisories = [a for a, _ in shipped if a is not None]
    assert len(shipped) == 2661 and len(advisories) == 2661
    assert len({a.id for a in advisories}) == 2661
    assert sum(a.withdrawn is not None for a in advisories) == 10
    assert sum(bool(a.vectors) for a in advisories) == 202
    assert all(v.startswith("CVSS:3") for a in advisories for v in a.vectors)
    assert len({a.affected[0].name for a in advisories if a.affected}) == 664
    last_affected = [i for a in advisories for af in a.affected for i in af.intervals if i.last_affected]
    assert [(i.introduced, i.last_affected) for i in last_affected] == [(None, "1.11.0")]
    open_ended = [
        i
        for a in advisories
        for af in a.affected
        for i in af.intervals
        if not i.fixed and not i.last_affected
    ]
    # 175 ranges without a fix, plus the 2 whose `fixed` is not PEP 440 and so has no usable fix.
    assert len(open_ended) == 177
    warnings = [p for _, problems in shipped for p in problems]
    assert {(p.file, p.field, p.level) for p in warnings} == {
        ("binderhub/PYSEC-2021-371.yaml", "affected[0].ranges[1].events[1].fixed", "warning"),
        ("steam/PYSEC-2019-125.yaml", "affected[0].ranges[0].events[1].fixed", "warning"),
    }
    assert all(a.modified.tzinfo is not None for a in advisories)  # unquoted YAML timestamps too


def test_unsorted_events_are_walked_in_version_order():
    advisory, problems = osv.parse(GOOD, file="t.json")
    assert problems == []
    assert advisory.affected[0].name == "demo-lib"
    assert advisory.affected[0].intervals == [osv.Interval(None, fixed="1.1")]
    assert advisory.modified == datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": None}, "id"),
        ({"modified": "yesterday"}, "modified"),
        ({"modified": None}, "modified"),
        ({"affected": []}, "affected"),
        ({"aliases": "CVE-1"}, "aliases"),
        ({"affected": [{"package": {"ecosystem": "PyPI"}}]}, "affected[0].package.name"),
        (
            {
                "affected": [
                    {"package": {"ecosystem": "PyPI", "name": "x"}, "ranges": [{"type": "ECOSYSTEM"}]}
                ]
            },
            "affected[0].ranges[0].events",
        ),
        (
            {
                "affected": [
                    {
                        "package": {"ecosystem": "PyPI", "name": "x"},
                        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0", "fixed": "1"}]}],
                    }
                ]
            },
            "affected[0].ranges[0].events[0]",
        ),
        ({"severity": [{"type": "CVSS_V3"}]}, "severity[0]"),
    ],
)
def test_a_malformed_advisory_is_refused_naming_the_field(change, field):
    advisory, problems = osv.parse({**GOOD, **change}, file="bad.json")
    assert advisory is None
    assert [(p.file, p.field, p.level) for p in problems] == [("bad.json", field, "error")]


def test_files_that_are_not_json_or_yaml_are_reported_not_raised():
    assert osv.load("x.json", b"{nope")[1][0].field == "(file)"
    assert osv.load("x.yaml", b"a: [")[1][0].message.startswith("not valid YAML")
    assert osv.load("x.yaml", b"\xff\xfe")[1][0].message.startswith("not UTF-8")
    assert osv.load("x.yaml", b"- just\n- a list\n")[1][0].field == "(document)"


def test_archives_are_read_without_extracting(tmp_path):
    payload = json.dumps(GOOD).encode()
    zipped = tmp_path / "a.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("vulns/demo/TEST-1.json", payload)
        archive.writestr("../evil.json", payload)
        archive.writestr("README.md", b"not an advisory")
    tarred = tmp_path / "a.tar.gz"
    with tarfile.open(tarred, "w:gz") as archive:
        info = tarfile.TarInfo("vulns/demo/TEST-1.json")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    assert [n for n, _ in osv.read_sources(zipped)] == ["vulns/demo/TEST-1.json"]
    assert [n for n, _ in osv.read_sources(tarred)] == ["vulns/demo/TEST-1.json"]
    with pytest.raises(ValueError, match="expected a directory"):
        list(osv.read_sources(tmp_path / "a.txt" if (tmp_path / "a.txt").write_text("x") else None))
