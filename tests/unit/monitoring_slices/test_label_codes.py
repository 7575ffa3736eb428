"""Shares and category masks read by integer codes agree with reading every row's label."""

import numpy as np
import pandas as pd

from apps.monitoring.stats.slice_model import Condition, Slice, SliceMetric, labels


def frame(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 5000
    prediction = np.array(["good", "bad", None, "maybe"], dtype=object)[rng.integers(0, 4, n)]
    home = pd.array(np.array(["rent", "own", "other"], dtype=object)[rng.integers(0, 3, n)], dtype="string")
    home[rng.random(n) < 0.1] = pd.NA
    return pd.DataFrame({"__prediction__": prediction, "Home": home, "Flag": rng.integers(0, 2, n) * 1.0})


def test_a_share_by_codes_is_the_share_by_labels():
    for seed in range(5):
        data = frame(seed)
        for value in ("good", "bad", "never-predicted"):
            y, valid = SliceMetric.prediction_share(value).values(data)
            predicted = labels(data["__prediction__"])
            np.testing.assert_array_equal(valid, predicted != None)  # noqa: E711
            np.testing.assert_array_equal(y, (predicted == value).astype(float))


def test_a_category_mask_by_codes_is_the_mask_by_labels():
    for seed in range(5):
        data = frame(seed)
        for value in ("rent", "own", "absent"):
            inside = Slice.of(Condition(feature="Home", kind="category", value=value)).mask(data)
            np.testing.assert_array_equal(inside, labels(data["Home"]) == value)
        missing = Slice.of(Condition(feature="Home", kind="missing")).mask(data)
        np.testing.assert_array_equal(missing, data["Home"].isna().to_numpy())
