"""Batch scoring's model time: 100,000 rows in 5,000-row chunks, scored three ways with the bench's
serving model (bench/serving/model.py: StandardScaler + LogisticRegression on the Lending Club loans):

- **per chunk** (before issue 14): a fresh sandboxed child per chunk, as ``sandbox_score`` runs it
  (start, imports, drop to ``nobody``, load, predict three times and predict_proba twice);
- **session** (after): one sandboxed child for the job (``SandboxSession``), loaded once, scoring
  every chunk over a pipe (predict and predict_proba once per chunk);
- **plain**: read the CSV, predict_proba, write the CSV, in this process, unconfined.

Only the model's side of a batch job: reading the chunk's rows, checking them against the schema,
logging the predictions to the database and writing the parts are the same before and after and
are not timed here. No database needed.

    .venv/bin/python bench/batch/run.py [--rows 100000] [--chunk 5000] [--repeats 3]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import joblib
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "bench" / "serving")]

from model import FEATURES, load_frame, train  # noqa: E402

from apps.packaging.sandbox.process import SandboxSession, run_in_sandbox  # noqa: E402


def per_chunk(request: dict, chunks: list[pd.DataFrame], folder: Path) -> float:
    started = time.perf_counter()
    for i, chunk in enumerate(chunks):
        sample = folder / f"chunk-{i}.pkl"
        chunk.to_pickle(sample)
        answer = run_in_sandbox({**request, "sample": str(sample), "repeats": 1}, project_root=str(ROOT))
        assert answer["ok"], answer
    return time.perf_counter() - started


def session(request: dict, chunks: list[pd.DataFrame]) -> float:
    started = time.perf_counter()
    with SandboxSession(request, project_root=str(ROOT)) as one:
        for chunk in chunks:
            answer = one.score(chunk)
            assert answer["ok"], answer
        assert one.starts == 1
    return time.perf_counter() - started


def plain(model, csv: Path, out: Path) -> float:
    started = time.perf_counter()
    frame = pd.read_csv(csv)
    scored = frame.assign(prediction=model.predict(frame[FEATURES]))
    probabilities = model.predict_proba(frame[FEATURES])
    for i, name in enumerate(model.classes_):
        scored[f"proba_{name}"] = probabilities[:, i]
    scored.to_csv(out, index=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    frame = load_frame()
    model = train(frame.head(8000))
    rows = frame[FEATURES].sample(args.rows, replace=True, random_state=1).reset_index(drop=True)
    chunks = [rows.iloc[i : i + args.chunk] for i in range(0, len(rows), args.chunk)]
    with tempfile.TemporaryDirectory(prefix="modelyard-bench-batch-") as name:
        folder = Path(name)
        artifact = folder / "model.joblib"
        joblib.dump(model, artifact)
        rows.to_csv(folder / "rows.csv", index=False)
        request = {"artifact": str(artifact), "format": "joblib", "trusted_types": [], "columns": FEATURES}
        runs = {"per chunk": [], "session": [], "plain": []}
        for _ in range(args.repeats):
            runs["per chunk"].append(per_chunk(request, chunks, folder))
            runs["session"].append(session(request, chunks))
            runs["plain"].append(plain(model, folder / "rows.csv", folder / "scored.csv"))
    print(f"{args.rows:,} rows in {len(chunks)} chunks of {args.chunk:,}; {args.repeats} runs each")
    for name, seconds in runs.items():
        print(
            f"{name:>10}: median {statistics.median(seconds):6.2f} s"
            f"  (min {min(seconds):.2f}, max {max(seconds):.2f})"
        )


if __name__ == "__main__":
    main()
