"""The patch flow's pure parts: rewriting pins, naming conflicts, and prediction parity."""

import pytest

from apps.libraries.patching import lockpatch, parity


def test_exact_pins_move_and_ranges_are_checked():
    patched = lockpatch.patch_inputs(
        environment={"python": "3.11.7", "packages": {"Jinja2": "2.11.2", "numpy": "1.26.4"}},
        requirements="scikit-learn\njinja2[i18n]==2.11.2 ; python_version >= '3.8'\n# a comment\n",
        package="jinja2",
        target="2.11.3",
    )
    assert patched.environment["packages"] == {"Jinja2": "2.11.3", "numpy": "1.26.4"}
    assert patched.requirements.splitlines()[1] == 'jinja2[i18n]==2.11.3; python_version >= "3.8"'
    assert patched.requirements.endswith("# a comment\n")
    assert patched.found_in == ["captured environment", "declared line 2"] and patched.conflicts == []

    blocked = lockpatch.patch_inputs(
        environment={}, requirements="jinja2>=2.10,<2.11.3\n", package="Jinja2", target="2.11.3"
    )
    assert blocked.conflicts == [
        "the declared requirement 'jinja2>=2.10,<2.11.3' (line 1) excludes jinja2==2.11.3"
    ]
    assert lockpatch.patch_inputs(environment={}, requirements="", package="x", target="1").found_in == []


def test_requirements_of_other_packages_are_checked_where_their_markers_hold():
    requirers = [
        ("flask==1.1.4", "Jinja2<3.0,>=2.10.1"),
        ("pandas==3.1.1", 'jinja2>=3.1.6; extra == "output-formatting"'),
        ("old-report==0.1", "jinja2<2.11"),
        ("numpy==2.0", "something-else"),
    ]
    assert lockpatch.requirement_conflicts(package="jinja2", target="2.11.3", requirers=requirers) == [
        "old-report==0.1 requires jinja2<2.11 but the patch pins jinja2==2.11.3"
    ]


def test_identical_answers_pass():
    answer = {
        "kind": "classifier",
        "classes": ["bad", "good"],
        "predictions": ["good", "bad"] * 100,
        "probabilities": [[0.2, 0.8], [0.7, 0.3]] * 100,
    }
    report = parity.compare(answer, dict(answer))
    assert report.passed and report.agreement == 1.0 and report.max_delta == 0.0 and report.changed_rows == 0


def test_a_probability_beyond_the_tolerance_fails_and_names_the_row():
    before = {
        "kind": "classifier",
        "classes": [0, 1],
        "predictions": [1, 0, 1],
        "probabilities": [[0.1, 0.9], [0.8, 0.2], [0.4, 0.6]],
    }
    after = {**before, "probabilities": [[0.1, 0.9], [0.8, 0.2], [0.40001, 0.59999]]}
    report = parity.compare(before, after)
    assert not report.passed and report.max_delta_row == 2
    assert report.max_delta == pytest.approx(1e-5)
    assert report.reasons == [
        "the largest probability change is 1e-05 (row 2), more than the tolerance 1e-06"
    ]
    assert report.changes == [{"row": 2, "before": 1, "after": 1, "delta": pytest.approx(1e-5)}]
    assert parity.compare(before, after, parity.Tolerance(max_delta=1e-4)).passed


def test_changed_labels_are_counted_against_the_agreement_floor():
    before = {"kind": "classifier", "predictions": ["good"] * 1000}
    one = {"kind": "classifier", "predictions": ["bad"] + ["good"] * 999}
    assert parity.compare(before, one).passed  # 99.9% agree, no probabilities to compare
    ten = {"kind": "classifier", "predictions": ["bad"] * 10 + ["good"] * 990}
    report = parity.compare(before, ten)
    assert not report.passed and report.label_changes == {"good → bad": 10}
    assert report.reasons == [
        "10 of 1000 rows changed their label (agreement 99.00%, at least 99.50% required)"
    ]


def test_regressors_compare_values_and_shapes_must_match():
    before = {"kind": "regressor", "predictions": [1.0, 2.0, None]}
    assert parity.compare(before, {"kind": "regressor", "predictions": [1.0, 2.0, None]}).passed
    moved = parity.compare(before, {"kind": "regressor", "predictions": [1.0, 2.5, None]})
    assert not moved.passed and moved.max_delta == 0.5 and moved.changed_rows == 1
    short = parity.compare(before, {"kind": "regressor", "predictions": [1.0]})
    assert not short.passed and short.reasons == ["the versions gave 3 and 1 predictions for the same rows"]
