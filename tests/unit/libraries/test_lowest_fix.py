"""The recommended fix is the lowest final release outside every affected range that the model's
other requirements allow; pre-releases only on request. Checked against a brute force over the
versions the advisories name: on random advisories (hypothesis) and on the real database."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from apps.libraries.matching import AdvisoryIndex, Constraint

# ---- brute force: no step function, no shared helpers ------------------------------------------


def _final_after(v: Version) -> Version:
    """Smallest final release >= v among the two a pre-release can lead to."""
    if not v.is_prerelease:
        return v
    options = [Version(v.base_version)]
    if v.post is not None:
        options.append(Version(f"{v.base_version}.post{v.post}"))
    return min(o for o in options if o >= v and not o.is_prerelease)


def _in(v: Version, lo: Version | None, fixed: Version | None, last: Version | None) -> bool:
    if lo is not None and v < lo:
        return False
    if fixed is not None:
        return v < fixed
    if last is not None:
        return v <= last
    return True


def _affecting(v: Version, parsed: dict) -> set[str]:
    return {i for i, (ranges, versions) in parsed.items() if v in versions or any(_in(v, *r) for r in ranges)}


def _v(text: str | None) -> Version | None:
    return Version(text) if text else None


def brute_force(advisories: dict, installed: str, constraints, prereleases: bool) -> Version | None:
    """advisories: id -> (intervals as dicts, explicit versions) for one package."""
    parsed = {
        i: (
            [(_v(r.get("introduced")), _v(r.get("fixed")), _v(r.get("last_affected"))) for r in intervals],
            {Version(x) for x in versions},
        )
        for i, (intervals, versions) in advisories.items()
    }
    current = Version(installed)
    wanted = _affecting(current, parsed)
    if not wanted:
        return None
    named = {
        v for ranges, versions in parsed.values() for v in versions | {x for r in ranges for x in r} if v
    }
    universe = {_final_after(v) for v in named} | (named if prereleases else set())
    allowed = sorted(
        v
        for v in universe
        if v > current and all(c.specifier.contains(v, prereleases=True) for c in constraints)
    )
    first_fixing = None
    for v in allowed:
        hits = _affecting(v, parsed)
        if not hits:
            return v  # the lowest clean one
        if first_fixing is None and not (hits & wanted):
            first_fixing = v
    return first_fixing


def _index(advisories: dict, package: str = "demo") -> AdvisoryIndex:
    built = AdvisoryIndex()
    for advisory_id, (intervals, versions) in advisories.items():
        built.add(advisory_id, package, intervals, versions)
    return built.build()


# ---- the cases of the issue, on real advisories -------------------------------------------------


def test_a_dev0_fix_is_recommended_as_its_first_final_release(index):
    # PYSEC-2020-108: scikit-learn fixed in 0.24.dev0. pip installs no .dev0 unless asked.
    hit = index.match("scikit-learn", "0.23.2")
    assert "PYSEC-2020-108" in hit.advisories
    fix = index.lowest_fix("scikit-learn", "0.23.2", hit.advisories)
    assert fix.version is not None and not Version(fix.version).is_prerelease
    assert Version(fix.version) == Version("0.24"), fix.note
    assert "lowest final release" in fix.note


def test_an_rc_fix_is_recommended_as_its_final_release(shipped, index):
    # PYSEC-2020-15 alone: apache-airflow fixed in 1.10.11rc1.
    (advisory,) = [a for a, _ in shipped if a is not None and a.id == "PYSEC-2020-15"]
    alone = _index(
        {advisory.id: ([i.as_dict() for i in advisory.affected[0].intervals], [])}, "apache-airflow"
    )
    assert alone.lowest_fix("apache-airflow", "1.10.10", [advisory.id]).version == "1.10.11"
    # In the whole database 1.10.11 is still hit by other advisories: the fix moves past them all.
    hit = index.match("apache-airflow", "1.10.10")
    fix = index.lowest_fix("apache-airflow", "1.10.10", hit.advisories)
    assert fix.version is not None and index.match("apache-airflow", fix.version).advisories == ()


def test_pre_releases_only_when_asked(index):
    hit = index.match("scikit-learn", "0.23.2")
    fix = index.lowest_fix("scikit-learn", "0.23.2", hit.advisories, prereleases=True)
    assert Version(fix.version).is_prerelease and fix.version == "0.24.dev0"


def test_a_pre_release_installed_gets_a_final_fix_unless_asked():
    advisories = {"X-1": ([{"introduced": None, "fixed": "2.0rc2"}], [])}
    built = _index(advisories)
    assert built.lowest_fix("demo", "2.0rc1", ["X-1"]).version == "2.0"
    assert built.lowest_fix("demo", "2.0rc1", ["X-1"], prereleases=True).version == "2.0rc2"


def test_a_version_hit_by_another_advisory_is_passed_over_for_a_clean_one():
    advisories = {
        "A": ([{"introduced": None, "fixed": "1.1"}], []),
        "B": ([{"introduced": "1.1", "fixed": "1.2"}], []),  # does not affect the installed 1.0
    }
    built = _index(advisories)
    fix = built.lowest_fix("demo", "1.0", ["A"])
    assert fix.version == "1.2" and "outside every affected range" in fix.note
    capped = [Constraint("declared", SpecifierSet("<1.2"))]
    fix = built.lowest_fix("demo", "1.0", ["A"], capped)
    assert fix.version == "1.1" and "still affected by B" in fix.note


# ---- property: the index agrees with the brute force -------------------------------------------

_versions = st.builds(
    lambda major, minor, pre, dev, post: Version(
        f"{major}.{minor}"
        + (f"{pre[0]}{pre[1]}" if pre else "")
        + (f".post{post}" if post is not None else "")
        + (".dev0" if dev else "")
    ),
    st.integers(0, 3),
    st.integers(0, 3),
    st.none() | st.tuples(st.sampled_from(["a", "b", "rc"]), st.integers(1, 2)),
    st.booleans(),
    st.none() | st.just(1),
).map(str)

_intervals = st.builds(
    lambda lo, hi, kind: {
        "introduced": lo,
        "fixed": hi if kind == "fixed" else None,
        "last_affected": hi if kind == "last" else None,
    },
    st.none() | _versions,
    _versions,
    st.sampled_from(["fixed", "fixed", "last", "open"]),
).filter(
    lambda r: (
        not (r["introduced"] and (r["fixed"] or r["last_affected"]))
        or Version(r["introduced"]) < Version(r["fixed"] or r["last_affected"])
    )
)

_advisories = st.dictionaries(
    st.sampled_from(["A", "B", "C", "D"]),
    st.tuples(st.lists(_intervals, min_size=1, max_size=3), st.lists(_versions, max_size=2)),
    min_size=1,
)
_constraints = st.lists(
    st.builds(
        lambda op, v: Constraint("declared", SpecifierSet(f"{op}{v}")),
        st.sampled_from(["<", ">=", "!="]),
        _versions,
    ),
    max_size=2,
)


@settings(max_examples=400, deadline=None)
@given(_advisories, _versions, _constraints, st.booleans())
def test_the_index_agrees_with_a_brute_force(advisories, installed, constraints, prereleases):
    built = _index(advisories)
    wanted = built.match("demo", installed).advisories
    fix = built.lowest_fix("demo", installed, wanted, constraints, prereleases=prereleases)
    expected = brute_force(advisories, installed, constraints, prereleases)
    assert (None if fix.version is None else Version(fix.version)) == expected, fix.note
    if expected is not None and not prereleases:
        assert not expected.is_prerelease


def test_the_real_database_agrees_with_a_brute_force(shipped, index):
    """A seeded sample of (package, named final release) pairs from the PyPA database."""
    by_package: dict[str, dict] = {}
    for advisory, _ in shipped:
        if advisory is None or advisory.withdrawn is not None:
            continue
        for affected in advisory.affected:
            intervals, versions = by_package.setdefault(affected.name, {}).setdefault(advisory.id, ([], []))
            intervals.extend(i.as_dict() for i in affected.intervals)
            versions.extend(v for v in affected.versions if _valid(v))
    pins = sorted(
        (name, v)
        for name, advisories in by_package.items()
        for intervals, versions in advisories.values()
        for v in versions
        if not Version(v).is_prerelease
    )
    checked = recommended = 0
    for name, installed in random.Random(15).sample(pins, 400):
        advisories = by_package[name]
        wanted = index.match(name, installed).advisories
        fix = index.lowest_fix(name, installed, wanted)
        expected = brute_force(advisories, installed, [], False)
        assert (None if fix.version is None else Version(fix.version)) == expected, (
            name,
            installed,
            fix.note,
        )
        checked += 1
        recommended += fix.version is not None
    assert checked == 400 and recommended > 200


def _valid(text: str) -> bool:
    try:
        Version(text)
    except Exception:  # noqa: BLE001 - the database has a few non-PEP 440 strings
        return False
    return True
