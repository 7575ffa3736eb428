"""Run inside bench/serving/.venv-mlflow by run.py: train the benchmark's model from the same
training CSV with the same code and save it with mlflow.sklearn (with a signature, as
``mlflow.sklearn.log_model(..., input_example=...)`` gives most users), so that
``mlflow models serve`` scores what Modelyard scores.

    python mlflow_model.py TRAIN_CSV MODEL_DIR
"""

import shutil
import sys
from pathlib import Path

import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model import TARGET, train  # noqa: E402 - the same training code as Modelyard's side


def main() -> None:
    train_csv, model_dir = sys.argv[1], Path(sys.argv[2])
    frame = pd.read_csv(train_csv)
    model = train(frame)
    features = frame.drop(columns=[TARGET])
    shutil.rmtree(model_dir, ignore_errors=True)
    mlflow.sklearn.save_model(
        model,
        str(model_dir),
        signature=infer_signature(features, model.predict(features)),
        input_example=features.head(2),
    )


if __name__ == "__main__":
    main()
