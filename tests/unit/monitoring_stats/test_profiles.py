"""Reference and window profiles: compact, exact where they must be, and mergeable."""

import json

import numpy as np
import pandas as pd
import pytest

from apps.monitoring.stats import profiles


def specs_of(frame):
    kinds = {"f": "number", "i": "integer", "O": "categorical", "b": "boolean"}
    return [{"name": c, "type": kinds[frame[c].dtype.kind], "nullable": True} for c in frame.columns]


def test_a_reference_of_25_features_at_a_million_rows_is_a_few_megabytes():
    rng = np.random.default_rng(0)
    rows = 1_000_000
    data = {f"x{i}": rng.lognormal(size=rows) for i in range(20)}
    levels = np.array([f"level-{i}" for i in range(300)], dtype=object)  # more than max_categories
    data |= {f"c{i}": levels[rng.integers(0, 300, rows)] for i in range(5)}
    frame = pd.DataFrame(data)
    profile = profiles.build_reference_profile(frame, specs_of(frame))
    size = len(json.dumps(profile))
    print(f"\nreference profile of 25 features x 1M rows: {size / 1e6:.2f} MB of JSON")
    assert size < 3_000_000
    x0 = profile["features"]["x0"]
    assert sum(x0["counts"]) == rows and len(x0["edges"]) == 101 and len(x0["sample"]) == 2000
    assert x0["mean"] == pytest.approx(frame["x0"].mean()) and x0["std"] == pytest.approx(frame["x0"].std())
    c0 = profile["features"]["c0"]
    assert len(c0["categories"]) == 201 and sum(c0["categories"].values()) == rows  # 200 + "__other__"


def window_frame(rng, rows):
    x = rng.normal(size=rows)
    x[rng.random(rows) < 0.05] = np.nan
    x[rng.random(rows) < 0.05] = 0.0
    c = np.array(["a", "b", "c", "new"], dtype=object)[rng.choice(4, size=rows, p=[0.5, 0.3, 0.15, 0.05])]
    return pd.DataFrame({"x": x, "c": c})


@pytest.fixture(scope="module")
def reference():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=5000), "c": rng.choice(["a", "b", "c"], size=5000)})
    return profiles.build_reference_profile(
        frame, [{"name": "x", "type": "number"}, {"name": "c", "type": "categorical"}]
    )


def test_window_counts_nulls_zeros_unseen_and_outer_bins(reference):
    frame = pd.DataFrame(
        {"x": [np.nan, 0.0, -100.0, 100.0, 0.5, "oops"], "c": ["a", None, "zz", "b", "a", "a"]}
    )
    window = profiles.profile_window(frame, reference)
    x, c = window["features"]["x"], window["features"]["c"]
    assert (x["count"], x["nulls"], x["zeros"], x["type_errors"], x["out_of_range"]) == (4, 1, 1, 1, 2)
    assert len(x["counts"]) == len(x["edges"]) + 1 and x["counts"][0] == 1 and x["counts"][-1] == 1
    assert c["categories"] == {"a": 3, "zz": 1, "b": 1} and c["unseen"] == 1 and c["nulls"] == 1
    missing = profiles.profile_window(frame[["c"]], reference)["features"]["x"]
    assert missing["nulls"] == 6 and missing["count"] == 0  # a missing column is all null


def test_merge_is_exact_on_counts_and_moments_and_associative(reference):
    rng = np.random.default_rng(2)
    frames = [window_frame(rng, rows) for rows in (300, 4000, 2500)]
    a, b, c = (profiles.profile_window(f, reference, seed=i) for i, f in enumerate(frames))
    left = profiles.merge_profiles(profiles.merge_profiles(a, b), c)
    right = profiles.merge_profiles(a, profiles.merge_profiles(b, c))
    whole = profiles.profile_window(pd.concat(frames, ignore_index=True), reference)
    for merged in (left, right):
        for name in ("x", "c"):
            m, w = merged["features"][name], whole["features"][name]
            for key in (
                "count",
                "nulls",
                "zeros",
                "type_errors",
                "out_of_range",
                "counts",
                "categories",
                "unseen",
            ):
                assert m.get(key) == w.get(key), (name, key)
        mx, wx = merged["features"]["x"], whole["features"]["x"]
        assert (mx["min"], mx["max"]) == (wx["min"], wx["max"])
        assert mx["mean"] == pytest.approx(wx["mean"]) and mx["m2"] == pytest.approx(wx["m2"])
        assert len(mx["sample"]) == 2000
    identity = profiles.merge_profiles(profiles.empty_window(reference), a)
    assert identity["features"]["x"]["counts"] == a["features"]["x"]["counts"]
    assert identity["features"]["x"]["mean"] == a["features"]["x"]["mean"]


def test_merged_reservoirs_are_a_fair_sample_of_the_rows_they_stand_for(reference):
    ones = profiles.profile_window(pd.DataFrame({"x": np.ones(1000)}), reference)
    twos = profiles.profile_window(pd.DataFrame({"x": np.full(9000, 2.0)}), reference)
    shares = [
        np.mean(np.array(profiles.merge_profiles(ones, twos, seed=s)["features"]["x"]["sample"]) == 1.0)
        for s in range(50)
    ]
    # 1,000 of 10,000 rows are ones: a tenth of the sample, not the half their sample sizes would give.
    assert np.mean(shares) == pytest.approx(0.1, abs=0.01)


def test_merge_many_matches_pairwise_merging_and_samples_by_rows(reference):
    rng = np.random.default_rng(3)
    windows = [
        profiles.profile_window(window_frame(rng, rows), reference, seed=i)
        for i, rows in enumerate((300, 4000, 2500, 50))
    ]
    pairwise = windows[0]
    for window in windows[1:]:
        pairwise = profiles.merge_profiles(pairwise, window)
    many = profiles.merge_many(windows)
    for name in ("x", "c"):
        m, p = many["features"][name], pairwise["features"][name]
        for key in (
            "count",
            "nulls",
            "zeros",
            "out_of_range",
            "counts",
            "categories",
            "unseen",
            "min",
            "max",
        ):
            assert m.get(key) == p.get(key), (name, key)
    assert many["features"]["x"]["m2"] == pytest.approx(pairwise["features"]["x"]["m2"])
    assert many["rows"] == 300 + 4000 + 2500 + 50 and len(many["features"]["x"]["sample"]) == 2000
    ones = profiles.profile_window(pd.DataFrame({"x": np.ones(1000)}), reference)
    twos = profiles.profile_window(pd.DataFrame({"x": np.full(9000, 2.0)}), reference)
    shares = [
        np.mean(np.array(profiles.merge_many([ones, twos, twos], seed=s)["features"]["x"]["sample"]) == 1.0)
        for s in range(50)
    ]
    assert np.mean(shares) == pytest.approx(1000 / 19000, abs=0.01)
    with pytest.raises(ValueError, match="at least one"):
        profiles.merge_many([])


def test_merge_many_equals_pairwise_merging_on_every_kind_and_empty_windows():
    """All kinds at once (numeric, few-valued numeric, categorical, text), with empty windows among
    them: every count, moment, excess and value count equals the pairwise merge's."""
    rng = np.random.default_rng(11)
    words = np.array(["late", "fine", "refund", "great", "broken", "slow"], dtype=object)

    def frame(rows):
        return pd.DataFrame(
            {
                "x": rng.lognormal(size=rows),
                "flag": rng.integers(0, 2, rows).astype(float),
                "c": np.array(["a", "b", "z"], dtype=object)[rng.integers(0, 3, rows)],
                "t": [" ".join(rng.choice(words, size=rng.integers(0, 6))) for _ in range(rows)],
            }
        )

    specs = [
        {"name": "x", "type": "number", "nullable": True},
        {"name": "flag", "type": "number", "nullable": True},
        {"name": "c", "type": "categorical", "nullable": True},
        {"name": "t", "type": "text", "nullable": True},
    ]
    reference = profiles.build_reference_profile(frame(3000), specs)
    windows = [profiles.empty_window(reference)] + [
        profiles.profile_window(frame(rows), reference, seed=i) for i, rows in enumerate((700, 1, 2500))
    ]
    windows.insert(2, profiles.empty_window(reference))
    pairwise = windows[0]
    for window in windows[1:]:
        pairwise = profiles.merge_profiles(pairwise, window)
    many = profiles.merge_many(windows)
    assert many["rows"] == pairwise["rows"] == 3201
    for name, p in pairwise["features"].items():
        m = many["features"][name]
        assert m.keys() == p.keys(), name
        for key in p.keys() - {"sample"}:
            if isinstance(p[key], float):
                assert m[key] == pytest.approx(p[key], rel=1e-12), (name, key)
            elif key == "excess":
                np.testing.assert_allclose(m[key], p[key], rtol=1e-12)
            else:
                assert m[key] == p[key], (name, key)
    assert "values" in many["features"]["flag"] and "vocabulary" in many["features"]["t"]
    assert len(many["features"]["x"]["sample"]) == 2000
    assert set(many["features"]["x"]["sample"]) <= {v for w in windows for v in w["features"]["x"]["sample"]}
    assert profiles.merge_many(windows[:1])["features"]["x"]["count"] == 0
    without_text = {**windows[3], "features": {k: v for k, v in windows[3]["features"].items() if k != "t"}}
    with pytest.raises(ValueError, match="'t' is in only some"):
        profiles.merge_many([windows[1], without_text])


def test_profiles_of_other_references_do_not_merge(reference):
    other = profiles.build_reference_profile(
        pd.DataFrame({"x": np.arange(100.0), "c": ["a"] * 100}),
        [{"name": "x", "type": "number"}, {"name": "c", "type": "categorical"}],
    )
    a = profiles.profile_window(pd.DataFrame({"x": [1.0]}), reference)
    b = profiles.profile_window(pd.DataFrame({"x": [1.0]}), other)
    with pytest.raises(ValueError, match="different bin edges"):
        profiles.merge_profiles(a, b)


def test_edges_of_tied_and_constant_columns(reference):
    tied = profiles.build_reference_profile(
        pd.DataFrame({"k": [0] * 900 + list(range(1, 101))}), [{"name": "k", "type": "integer"}]
    )["features"]["k"]
    assert (
        tied["edges"][0] == 0 and len(set(tied["edges"])) == len(tied["edges"]) and tied["counts"][0] == 900
    )
    assert tied["distinct"] == 101
    constant = profiles.build_reference_profile(
        pd.DataFrame({"k": [7] * 10}), [{"name": "k", "type": "integer"}]
    )
    assert constant["features"]["k"]["counts"] == [10]
