"""PEP 440 matching on the real advisory data: the README's known answers, exactly."""

import pytest
from packaging.specifiers import SpecifierSet

from apps.libraries.matching import AdvisoryIndex, Constraint

KNOWN = [
    ("django", "3.2.0", 25, "3.2.25"),
    ("requests", "2.25.1", 1, "2.31.0"),
    ("urllib3", "1.26.4", 3, "1.26.18"),
    ("pyyaml", "5.3", 2, "5.4"),
    ("jinja2", "2.11.2", 1, "2.11.3"),
    ("mlflow", "2.8.0", 4, "2.10.1"),
    ("numpy", "1.21.0", 0, None),
]


@pytest.mark.parametrize(("package", "version", "count", "fix"), KNOWN)
def test_known_answers(index, package, version, count, fix):
    hit = index.match(package, version)
    assert len(hit.advisories) == count
    assert index.lowest_fix(package, version, hit.advisories).version == fix


def test_requests_is_the_one_advisory_the_readme_names(index):
    assert index.match("requests", "2.25.1").advisories == ("PYSEC-2023-74",)


def test_names_are_normalised_and_the_fix_itself_is_clean(index):
    assert len(index.match("PyYAML", "5.3").advisories) == 2
    assert index.match("django", "3.2.25").advisories == ()


def test_local_versions_match_as_their_public_version(index):
    hit = index.match("urllib3", "1.26.4+ubuntu1")
    assert len(hit.advisories) == 3 and "local label +ubuntu1" in hit.note


def test_pre_releases_are_ordered_as_pep_440_says(index):
    # 2.11.3 fixes PYSEC-2021-66; its release candidate comes before it, so it is still affected.
    assert index.match("jinja2", "2.11.3rc1").advisories == ("PYSEC-2021-66",)
    assert index.match("jinja2", "2.11.3.post1").advisories == ()


def test_last_affected_includes_that_version(index):
    assert index.match("py", "1.11.0").advisories == ("PYSEC-2022-42969",)
    assert index.match("py", "1.11.1").advisories == ()
    assert "no fix is known" in index.lowest_fix("py", "1.11.0", ["PYSEC-2022-42969"]).note


def test_an_unparsable_version_is_a_hit_of_its_own(index):
    hit = index.match("django", "3.2-final-ish")
    assert hit.invalid_version and hit.advisories == ()
    assert index.scan([("django", "3.2-final-ish"), ("numpy", "1.21.0")]) == [hit]


def test_explicit_version_lists_count_without_ranges():
    built = AdvisoryIndex()
    built.add("X-1", "demo", [], ["1.0", "1.2"])
    built.build()
    assert built.match("demo", "1.0.0").advisories == ("X-1",)  # 1.0.0 == 1.0 in PEP 440
    assert built.match("demo", "1.1").advisories == ()


def test_the_lowest_fix_respects_the_other_requirements(index):
    ids = index.match("django", "3.2.0").advisories
    capped = [Constraint("some-plugin==1.0 requires", SpecifierSet("<3.2.20"))]
    fix = index.lowest_fix("django", "3.2.0", ids, capped)
    assert fix.version is None and "some-plugin==1.0 requires <3.2.20" in fix.note
    newer = [Constraint("declared", SpecifierSet(">=4.2"))]
    fix = index.lowest_fix("django", "3.2.0", ids, newer)
    assert fix.version is not None and fix.version.startswith("4.2.")
    assert "3.2.25 would too but the requirements refuse it" in fix.note


def test_a_thousand_lookups_of_one_pin_are_cached(index):
    assert index.match("django", "3.2.0") is index.match("django", "3.2.0")
