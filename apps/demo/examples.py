"""The files the command-line walk-through (docs/cli.md) uses, written by the demo under
``var/examples/`` so that every command there runs as written. No Django here.

    credit.joblib       a scikit-learn pipeline (imputation, scaling, one-hot, logistic regression)
    train.csv           the rows it was trained on, with the label column Status (its reference data)
    test.csv            rows it never saw, labelled: a holdout to hold a version to a bar
    applications.csv    new applications without a label, to score in a batch or with predict
    application.json    one application, for `modelyard predict --file`
"""

import json
from pathlib import Path

import joblib

from apps.demo import training

FILES = ("credit.joblib", "train.csv", "test.csv", "applications.csv", "application.json")


def write_examples(folder: Path, data_dir: Path) -> Path:
    """Train the credit pipeline on the shared credit data and write the example files into
    ``folder`` (created). Files already there are kept, so a running walk-through is not changed
    under a user; a partly written folder is completed."""
    folder.mkdir(parents=True, exist_ok=True)
    if all((folder / name).exists() for name in FILES):
        return folder
    trained = training.train_credit(data_dir)
    features = training.CREDIT_NUMERIC + training.CREDIT_CATEGORICAL
    holdout = trained.holdout.reset_index(drop=True)
    test, new = holdout.iloc[:500], holdout.iloc[500:600]
    _write(folder / "credit.joblib", lambda path: joblib.dump(trained.model, path))
    _write(folder / "train.csv", lambda path: trained.reference.to_csv(path, index=False))
    _write(folder / "test.csv", lambda path: test.to_csv(path, index=False))
    _write(folder / "applications.csv", lambda path: new[features].to_csv(path, index=False))
    one = json.loads(new[features].iloc[[0]].to_json(orient="records"))[0]
    _write(folder / "application.json", lambda path: path.write_text(json.dumps(one, indent=2) + "\n"))
    return folder


def _write(path: Path, write) -> None:
    """Write through a temporary name, so a file that exists is always whole."""
    partial = path.with_name(path.name + ".partial")
    write(partial)
    partial.replace(path)
