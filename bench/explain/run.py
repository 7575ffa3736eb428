"""Benchmark of the root-cause slice finder (apps/monitoring/stats/slices.py).

Two windows of N rows (1,000,000 by default) × 20 features: the 13 features of the real
credit_data.csv (../shared/data), resampled with replacement with a real logistic regression's
predictions and scores, plus 7 synthetic columns (4 numeric with 5 % missing, 3 categorical with 10,
50 and 200 levels). In the current window, half of the approvals of renters aged 30–39 are turned
down. The finder runs in a child process; the parent prints the wall time of ``find_slices`` and
of the steps after it that the platform runs (``drop_broader``, ``merge_overlapping``: overlapping
explanations merged, each prediction counted once), the number of tests, the child's peak RSS (its
high-water mark, data included), whether the planted slice came first and the listed shares' sum
before and after merging. Then recall: over ``--plantings`` windows of ``--recall-rows`` rows, each
with another slice planted (a category of Home, Marital, Records or Job × a 10-year Age bracket, 2–30 %
of the rows, half of its approvals turned down), how often the planted slice (Jaccard ≥ 0.8) is among
the top 5 explanations listed after merging, itself or as a variant under one (and, for comparison,
in the top 5 before merging: the finder's list less drop_broader's broader slices).

    .venv/bin/python bench/explain/run.py [--rows 1000000] [--seed 0] [--plantings 20] [--recall-rows 100000]
"""

import argparse
import multiprocessing
import queue as queue_module
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


APPROVAL_WORDS = "approval rate"
NUMERIC_ALL = NUMERIC + SYNTHETIC_NUMERIC
FEATURES = [{"name": n, "type": "number"} for n in NUMERIC_ALL] + [
    {"name": n, "type": "categorical"} for n in CATEGORICAL + SYNTHETIC_CATEGORICAL
]
AGE_EDGES = [20, 30, 40, 50, 60]  # so that a planted 30–39 is one bin, as a template would cut it


def edges_of(reference: pd.DataFrame) -> dict[str, list[float]]:
    """The registered reference's profile gives the bins; here: the reference's quantiles."""
    edges = {
        n: np.unique(np.nanquantile(reference[n].to_numpy(float), [0.2, 0.4, 0.6, 0.8])).tolist()
        for n in NUMERIC_ALL
    }
    edges["Age"] = AGE_EDGES
    return edges


def plant(current: pd.DataFrame, planted: np.ndarray, rng: np.random.Generator) -> None:
    flip = planted & (current["__prediction__"] == "good").to_numpy() & (rng.random(len(current)) < 0.5)
    current.loc[flip, "__prediction__"] = "bad"


def explain(reference: pd.DataFrame, current: pd.DataFrame):
    """(the finder's result, after drop_broader (the list before merging), the listed result after
    merging, seconds of the finder and of the steps after it)."""
    from apps.monitoring.stats.slice_exclusive import merge_overlapping
    from apps.monitoring.stats.slice_overlap import drop_broader
    from apps.monitoring.stats.slices import SliceMetric, find_slices

    metric = SliceMetric.prediction_share("good", words=APPROVAL_WORDS)
    started = time.perf_counter()
    result = find_slices(reference, current, metric=metric, features=FEATURES, edges=edges_of(reference))
    found = time.perf_counter()
    masks: dict = {}
    narrowed = drop_broader(result, current, masks)[0]
    listed = merge_overlapping(narrowed, reference, current, metric, masks)
    return result, narrowed, listed, found - started, time.perf_counter() - found


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return np.count_nonzero(a & b) / max(np.count_nonzero(a | b), 1)


def in_top_five(explanations, current: pd.DataFrame, planted: np.ndarray) -> bool:
    """The planted slice is one of the top 5 explanations, or a variant listed under one."""
    shown = [s for e in explanations[:5] for s in (e, *e.variants)]
    return any(jaccard(s.slice.mask(current), planted) >= 0.8 for s in shown)


def recall(base: pd.DataFrame, plantings: int, rows: int, seed: int) -> tuple[int, int]:
    """(planted slices in the listed top 5, in the top 5 before merging) over ``plantings`` windows."""
    rng = np.random.default_rng(seed + 1000)
    listed_hits = raw_hits = 0
    for _ in range(plantings):
        reference, current = window(base, rows, rng), window(base, rows, rng)
        while True:
            feature = CATEGORICAL[rng.integers(len(CATEGORICAL))]
            value = rng.choice(current[feature].dropna().unique())
            low = AGE_EDGES[rng.integers(len(AGE_EDGES) - 1)]
            planted = (
                (current[feature] == value) & (current["Age"] >= low) & (current["Age"] < low + 10)
            ).to_numpy()
            approving = (current.loc[planted, "__prediction__"] == "good").mean() if planted.any() else 0
            if 0.02 <= planted.mean() <= 0.3 and approving >= 0.4:
                break
        plant(current, planted, rng)
        _, narrowed, listed, _, _ = explain(reference, current)
        listed_hits += in_top_five(listed.explanations, current, planted)
        raw_hits += in_top_five(narrowed.explanations, current, planted)
    return listed_hits, raw_hits


def shares_sum(explanations, key: str) -> float:
    return sum(getattr(e, key) or 0 for e in explanations if (getattr(e, key) or 0) > 0)


def child(rows: int, seed: int, plantings: int, recall_rows: int, queue) -> None:
    rng = np.random.default_rng(seed)
    base = scored_credit()
    reference, current = window(base, rows, rng), window(base, rows, rng)
    planted = ((current["Home"] == "rent") & current["Age"].between(30, 39)).to_numpy()
    plant(current, planted, rng)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result, _, listed, seconds, after = explain(reference, current)
    top = listed.explanations[0] if listed.explanations else None
    first = top is not None and (top.slice.mask(current) == planted).all()
    listed_hits, raw_hits = recall(base, plantings, recall_rows, seed) if plantings else (0, 0)
    queue.put(
        {
            "seconds": seconds,
            "after": after,
            "tests": result.tests_run,
            "reported": len(result.explanations),
            "listed": len(listed.explanations),
            "variants": sum(len(e.variants) for e in listed.explanations),
            "raw_shares": shares_sum(result.explanations, "contribution"),
            "listed_shares": shares_sum(listed.explanations, "exclusive_contribution"),
            "first": bool(first),
            "top": [e.sentence for e in listed.explanations[:3]],
            "rss_before_mib": rss_before / 1024,
            "recall": (listed_hits, raw_hits),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in each window")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plantings", type=int, default=20, help="windows for recall (0: skip)")
    parser.add_argument("--recall-rows", type=int, default=100_000, help="rows in each recall window")
    args = parser.parse_args()
    queue = multiprocessing.get_context("fork").Queue()
    process = multiprocessing.get_context("fork").Process(
        target=child, args=(args.rows, args.seed, args.plantings, args.recall_rows, queue)
    )
    process.start()
    out = None
    while out is None:  # a child that dies (an exception, the OOM killer) must not leave us waiting
        try:
            out = queue.get(timeout=1)
        except queue_module.Empty:
            if not process.is_alive():
                sys.exit(f"the measuring child ended with exit code {process.exitcode} before reporting")
    process.join()
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"rows per window        {args.rows:,} (20 features: 13 resampled credit_data.csv + 7 synthetic)")
    print(f"find_slices time       {out['seconds']:.2f} s")
    print(f"tests run              {out['tests']:,} (singles and pairs, Benjamini–Hochberg over all)")
    print(f"merge + exclusive time {out['after']:.2f} s (drop_broader, merge_overlapping)")
    print(
        f"explanations reported  {out['reported']} by the finder, {out['listed']} listed "
        f"({out['variants']} more as variants under them)"
    )
    print(
        f"positive shares' sum   {out['raw_shares']:.0%} by the finder (overlapping), "
        f"{out['listed_shares']:.0%} listed (each prediction once)"
    )
    print(
        f"peak RSS (child)       {peak:,.0f} MiB ({out['rss_before_mib']:,.0f} MiB with both windows loaded)"
    )
    print(f"planted slice first    {'yes' if out['first'] else 'no'}")
    if args.plantings:
        listed_hits, raw_hits = out["recall"]
        listed_recall, raw_recall = listed_hits / args.plantings, raw_hits / args.plantings
        print(
            f"recall (top 5)         {listed_recall:.2f} listed (with variants), {raw_recall:.2f} "
            f"before merging ({args.plantings} plantings of {args.recall_rows:,} rows)"
        )
    for sentence in out["top"]:
        print(f"  - {sentence}")


if __name__ == "__main__":
    main()
