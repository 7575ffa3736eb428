"""Benchmark of the root-cause slice finder (apps/monitoring/stats/slices.py).

Two windows of N rows (1,000,000 by default) × 20 features: the 13 features of the real
credit_data.csv (../shared/data), resampled with replacement with a real logistic regression's
predictions and scores, plus 7 synthetic columns (4 numeric with 5 % missing, 3 categorical with 10,
50 and 200 levels). In the current window, half of the approvals of renters aged 30–39 are turned
down. The finder runs in a child process; the parent prints the wall time of ``find_slices``, the
number of tests, the child's peak RSS (its high-water mark, data included) and whether the planted
slice came first.

    .venv/bin/python bench/explain/run.py [--rows 1000000] [--seed 0]
"""

import argparse
import multiprocessing
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data" / "credit" / "credit_data.csv"
NUMERIC = ["Seniority", "Time", "Age", "Expenses", "Income", "Assets", "Debt", "Amount", "Price"]
CATEGORICAL = ["Home", "Marital", "Records", "Job"]
SYNTHETIC_NUMERIC = ["s_normal", "s_lognormal", "s_count", "s_uniform"]
SYNTHETIC_CATEGORICAL = ["s_cat10", "s_cat50", "s_cat200"]


def scored_credit() -> pd.DataFrame:
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = pd.read_csv(DATA)
    model = make_pipeline(
        make_column_transformer(
            (make_pipeline(SimpleImputer(), StandardScaler()), NUMERIC),
            (make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder()), CATEGORICAL),
        ),
        LogisticRegression(max_iter=2000),
    ).fit(frame[NUMERIC + CATEGORICAL], frame["Status"])
    frame["__prediction__"] = model.predict(frame[NUMERIC + CATEGORICAL])
    frame["__score__"] = model.predict_proba(frame[NUMERIC + CATEGORICAL])[:, 1]
    return frame


def window(base: pd.DataFrame, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    frame = base.iloc[rng.integers(0, len(base), rows)].reset_index(drop=True)
    synthetic = {
        "s_normal": rng.normal(size=rows),
        "s_lognormal": rng.lognormal(3, 1, size=rows),
        "s_count": rng.poisson(4, size=rows).astype(float),
        "s_uniform": rng.uniform(0, 100, size=rows),
    }
    for name, values in synthetic.items():
        values[rng.random(rows) < 0.05] = np.nan
        frame[name] = values
    for name, levels in (("s_cat10", 10), ("s_cat50", 50), ("s_cat200", 200)):
        frame[name] = pd.Categorical.from_codes(
            rng.zipf(1.5, rows) % levels, [f"v{i}" for i in range(levels)]
        )
    return frame


def child(rows: int, seed: int, queue) -> None:
    from apps.monitoring.stats.slices import SliceMetric, find_slices

    rng = np.random.default_rng(seed)
    base = scored_credit()
    reference, current = window(base, rows, rng), window(base, rows, rng)
    planted = (current["Home"] == "rent") & current["Age"].between(30, 39)
    flip = planted & (current["__prediction__"] == "good") & (rng.random(rows) < 0.5)
    current.loc[flip, "__prediction__"] = "bad"
    numeric = NUMERIC + SYNTHETIC_NUMERIC
    features = [{"name": n, "type": "number"} for n in numeric]
    features += [{"name": n, "type": "categorical"} for n in CATEGORICAL + SYNTHETIC_CATEGORICAL]
    # The registered reference's profile gives the bins; here: the reference's quantiles.
    edges = {
        n: np.unique(np.nanquantile(reference[n].to_numpy(float), [0.2, 0.4, 0.6, 0.8])).tolist()
        for n in numeric
    }
    edges["Age"] = [20, 30, 40, 50, 60]  # so that the planted 30–39 is one bin, as a template would cut it
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    result = find_slices(
        reference,
        current,
        metric=SliceMetric.prediction_share("good", words="approval rate"),
        features=features,
        edges=edges,
    )
    seconds = time.perf_counter() - started
    top = result.explanations[0] if result.explanations else None
    first = (
        top is not None
        and top.slice.mask(current).sum() == planted.sum()
        and (top.slice.mask(current) == planted.to_numpy()).all()
    )
    queue.put(
        {
            "seconds": seconds,
            "tests": result.tests_run,
            "reported": len(result.explanations),
            "first": bool(first),
            "top": [e.sentence for e in result.explanations[:3]],
            "rss_before_mib": rss_before / 1024,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in each window")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    queue = multiprocessing.get_context("fork").Queue()
    process = multiprocessing.get_context("fork").Process(target=child, args=(args.rows, args.seed, queue))
    process.start()
    out = queue.get()
    process.join()
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"rows per window        {args.rows:,} (20 features: 13 resampled credit_data.csv + 7 synthetic)")
    print(f"find_slices time       {out['seconds']:.2f} s")
    print(f"tests run              {out['tests']:,} (singles and pairs, Benjamini–Hochberg over all)")
    print(f"explanations reported  {out['reported']}")
    print(
        f"peak RSS (child)       {peak:,.0f} MiB ({out['rss_before_mib']:,.0f} MiB with both windows loaded)"
    )
    print(f"planted slice first    {'yes' if out['first'] else 'no'}")
    for sentence in out["top"]:
        print(f"  - {sentence}")


if __name__ == "__main__":
    main()
