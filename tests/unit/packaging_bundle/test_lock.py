import importlib.metadata
import json

import pytest

from apps.packaging.bundle.lock import CAPTURED, DECLARED, LockEntry, build_lock

SKLEARN = importlib.metadata.version("scikit-learn")


def lock(packages=None, declared="", python="3.11.7"):
    return build_lock(python=python, packages=packages or {}, declared=declared)


def test_pins_every_captured_package_under_its_normalised_name():
    result = lock({"Scikit_Learn": "1.4.2", "numpy": "1.26.4", "zope.interface": "6.0"})
    assert [(e.name, e.version, e.source) for e in result.entries] == [
        ("numpy", "1.26.4", CAPTURED),
        ("scikit-learn", "1.4.2", CAPTURED),
        ("zope-interface", "6.0", CAPTURED),
    ]
    lines = [line for line in result.text.splitlines() if not line.startswith("#")]
    assert lines == ["numpy==1.26.4", "scikit-learn==1.4.2", "zope-interface==6.0"]
    assert result.text.startswith("# requirements.lock for Python 3.11.7\n")


def test_a_declared_requirement_the_captured_version_breaks_is_a_problem():
    result = lock({"scikit-learn": "1.4.2"}, "scikit-learn>=1.5\n")
    assert result.problems == ["scikit-learn>=1.5 is declared but 1.4.2 was captured"]
    assert result.version_of("Scikit_Learn") == "1.4.2"  # the captured version still wins


def test_a_satisfied_declared_requirement_is_no_problem():
    assert lock({"pandas": "2.2.1"}, "pandas>=2.2,<3  # the frame API\n").problems == []


def test_a_declared_exact_pin_not_captured_is_locked_as_declared():
    result = lock({"numpy": "1.26.4"}, "requests==2.31.0\n")
    assert LockEntry("requests", "2.31.0", [], DECLARED) in result.entries
    assert "requests==2.31.0  # declared, not captured" in result.text.splitlines()
    assert result.problems == []


def test_a_declared_range_not_captured_cannot_be_pinned():
    result = lock({}, "requests>=2\nflask==3.*\n")
    assert result.problems == [
        "declared but not captured, cannot pin: requests>=2",
        "declared but not captured, cannot pin: flask==3.*",
    ]
    assert result.entries == []


def test_two_declared_pins_of_one_package_conflict():
    result = lock({}, "requests==2.31.0\nRequests==2.32.0\n")
    assert result.problems == ["requests is declared at two versions: 2.31.0 and 2.32.0"]


def test_pip_options_and_invalid_lines_are_reported_by_line_and_skipped():
    declared = "\n".join(
        [
            "# a comment",
            "",
            "-r base.txt",
            "--index-url https://example.invalid/simple",
            "numpy>=1 \\",
            "  ,<3",
            "this is not a requirement!",
            "pandas==2.2.1 --hash=sha256:00",
        ]
    )
    result = lock({"numpy": "1.26.4", "pandas": "2.2.1"}, declared)
    assert result.problems == [
        "line 3: pip option -r is not supported here, skipped",
        "line 4: pip option --index-url is not supported here, skipped",
        "line 7: not a valid requirement: this is not a requirement!",
        "line 8: options after the requirement are ignored",
    ]


def test_markers_are_evaluated_for_the_captured_python():
    declared = 'tomli==2.0.1; python_version < "3.11"\n'
    on_311 = lock({}, declared, python="3.11.7")
    assert on_311.entries == [] and on_311.problems == []
    assert on_311.notes == [
        'line 1: tomli==2.0.1; python_version < "3.11" does not apply on Linux with Python 3.11.7'
    ]
    on_310 = lock({}, declared, python="3.10.4")
    assert [e.name for e in on_310.entries] == ["tomli"]
    windows_only = lock({}, 'pywin32==306; sys_platform == "win32"\nfoo==1; extra == "x"\n')
    assert windows_only.entries == []
    assert windows_only.problems == ["line 2: the marker of foo cannot be evaluated, skipped"]


def test_an_exact_pin_that_is_no_version_cannot_be_pinned():
    assert lock({}, "foo===not.a-version!").problems == [
        "declared but not captured, cannot pin: foo===not.a-version!"
    ]


def test_a_missing_python_version_is_a_problem():
    assert any("no valid Python version" in p for p in lock({}, "", python="").problems)


def test_the_same_input_gives_the_same_text():
    packages = {"numpy": "1.26.4", "scikit-learn": SKLEARN, "pandas": "2.2.1", "joblib": "1.4.2"}
    first = lock(packages, "scikit-learn\nrequests==2.31.0\n")
    second = lock(dict(reversed(list(packages.items()))), "scikit-learn\nrequests==2.31.0\n")
    assert first.text == second.text
    assert first.entries == second.entries


def test_a_conflict_between_locked_packages_is_found_from_installed_metadata():
    result = lock({"scikit-learn": SKLEARN, "numpy": "0.1"})
    conflicts = [p for p in result.problems if p.startswith(f"scikit-learn=={SKLEARN} requires numpy")]
    assert len(conflicts) == 1, result.problems
    assert conflicts[0].endswith("but numpy==0.1 is locked")
    # numpy 0.1 is not installed here, so its own dependencies are not read, and this says so
    assert "dependencies of numpy==0.1 not checked: not installed here" in result.notes


def test_dependencies_of_a_version_not_installed_here_are_not_checked():
    result = lock({"scikit-learn": "0.20.0", "numpy": "0.1"})
    assert not any("requires" in p for p in result.problems)
    assert "dependencies of scikit-learn==0.20.0 not checked: not installed here" in result.notes


def test_an_unlocked_dependency_is_noted():
    result = lock({"scikit-learn": SKLEARN})
    assert any(n.startswith(f"scikit-learn=={SKLEARN} requires numpy") for n in result.notes)


def test_dependencies_of_requested_extras_are_checked():
    version = importlib.metadata.version("cyclonedx-python-lib")
    packages = {"cyclonedx-python-lib": version, "referencing": "0.0.1"}
    without_extra = lock(packages)
    assert not any("referencing" in p for p in without_extra.problems)
    with_extra = lock(packages, "cyclonedx-python-lib[json-validation]")
    assert any(
        p.startswith(f"cyclonedx-python-lib=={version} requires referencing")
        and p.endswith("0.0.1 is locked")
        for p in with_extra.problems
    ), with_extra.problems


def test_a_package_that_does_not_support_the_python_version_is_a_problem():
    result = lock({"scikit-learn": SKLEARN}, python="3.8.10")
    assert any(p.startswith(f"scikit-learn=={SKLEARN} requires Python") for p in result.problems)


@pytest.fixture
def installed_from_archive(tmp_path, monkeypatch):
    """A distribution installed from a wheel file, as pip records it: direct_url.json with the hash."""

    def install(name, version, archive_info):
        dist_info = tmp_path / f"{name}-{version}.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        direct_url = {
            "url": f"file:///wheels/{name}-{version}-py3-none-any.whl",
            "archive_info": archive_info,
        }
        (dist_info / "direct_url.json").write_text(json.dumps(direct_url))

    monkeypatch.syspath_prepend(str(tmp_path))
    return install


def test_hashes_are_included_where_pip_recorded_them(installed_from_archive):
    digest = "ab" * 32
    installed_from_archive("hashedpkg", "1.0", {"hashes": {"sha256": digest}})
    installed_from_archive("legacypkg", "2.0", {"hash": f"sha256={'cd' * 32}"})
    result = lock({"hashedpkg": "1.0", "legacypkg": "2.0"})
    assert result.entries[0].hashes == [f"sha256:{digest}"]
    assert result.entries[1].hashes == [f"sha256:{'cd' * 32}"]
    assert f"hashedpkg==1.0 \\\n    --hash=sha256:{digest}\n" in result.text
    assert result.problems == []


def test_hashes_for_only_some_packages_are_a_problem(installed_from_archive):
    installed_from_archive("hashedpkg", "1.0", {"hashes": {"sha256": "ab" * 32}})
    result = lock({"hashedpkg": "1.0", "otherpkg": "1.0"})
    assert result.entries[1].hashes == []
    assert any(p.startswith("only 1 of 2 locked packages have a hash") for p in result.problems)


def test_no_hash_when_the_installed_version_differs(installed_from_archive):
    installed_from_archive("hashedpkg", "1.0", {"hashes": {"sha256": "ab" * 32}})
    assert lock({"hashedpkg": "1.1"}).entries[0].hashes == []
