"""Small real models in every supported format, trained once per session, and a helper that runs one of
them through the sandbox."""

import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from apps.packaging.sandbox.process import run_in_sandbox
from tests.unit.packaging.helpers import PYTHON_MODEL, sandbox_request, write_mlflow_zip

PROJECT_ROOT = Path(__file__).resolve().parents[3]
COLUMNS = ["a", "b", "c"]


@dataclass
class Artifact:
    path: Path
    fmt: str
    predictions: np.ndarray  # what the same model predicts in this process
    probabilities: np.ndarray | None
    classes: list | None
    kind: str
    trusted_types: tuple = ()
    mlflow_root: str = ""


@pytest.fixture(scope="session")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(rng.normal(size=(40, 3)).astype(np.float32), columns=COLUMNS)


@pytest.fixture(scope="session")
def labels(frame) -> np.ndarray:
    return (frame["a"] + 0.5 * frame["b"] > 0).astype(int).to_numpy()


@pytest.fixture(scope="session")
def targets(frame) -> np.ndarray:
    return (2.0 * frame["a"] - frame["c"]).to_numpy()


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sandbox-models")


@pytest.fixture(scope="session")
def sample_path(frame, workdir) -> Path:
    path = workdir / "sample.pkl"
    frame.to_pickle(path)
    return path


@pytest.fixture(scope="session")
def null_sample_path(frame, workdir) -> Path:
    nulls = frame.head(5).copy()
    nulls.loc[[0, 2], "b"] = np.nan
    path = workdir / "null_sample.pkl"
    nulls.to_pickle(path)
    return path


@pytest.fixture(scope="session")
def pipeline(frame, labels):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression()).fit(frame, labels)


@pytest.fixture(scope="session")
def tree_pipeline(frame, labels):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    return make_pipeline(StandardScaler(), DecisionTreeClassifier(max_depth=3, random_state=0)).fit(
        frame, labels
    )


def _sklearn(model, frame, path, fmt, **extra) -> Artifact:
    proba = model.predict_proba(frame) if hasattr(model, "predict_proba") else None
    classes = model.classes_.tolist() if hasattr(model, "classes_") else None
    kind = "classifier" if classes is not None else "regressor"
    return Artifact(path, fmt, model.predict(frame), proba, classes, kind, **extra)


@pytest.fixture(scope="session")
def artifacts(frame, labels, targets, pipeline, tree_pipeline, workdir) -> dict[str, Artifact]:
    """name -> a real model saved in one format, with what it predicts in this process."""
    import lightgbm
    import skops.io
    import xgboost
    from skl2onnx import to_onnx
    from sklearn.linear_model import Ridge

    found = {}
    with open(workdir / "pipeline.pkl", "wb") as fileobj:
        pickle.dump(pipeline, fileobj)
    found["pickle"] = _sklearn(pipeline, frame, workdir / "pipeline.pkl", "pickle")

    ridge = Ridge().fit(frame, targets)
    joblib.dump(ridge, workdir / "ridge.joblib")
    found["joblib"] = _sklearn(ridge, frame, workdir / "ridge.joblib", "joblib")

    skops.io.dump(pipeline, workdir / "pipeline.skops")
    found["skops"] = _sklearn(pipeline, frame, workdir / "pipeline.skops", "skops")
    skops.io.dump(tree_pipeline, workdir / "tree.skops")
    found["skops_tree_allowed"] = _sklearn(
        tree_pipeline, frame, workdir / "tree.skops", "skops", trusted_types=("sklearn.tree._tree.Tree",)
    )

    for name, options in (("onnx_zipmap", None), ("onnx_no_zipmap", {"zipmap": False})):
        onnx_model = to_onnx(
            pipeline, frame.to_numpy()[:1], options={id(pipeline): options} if options else None
        )
        (workdir / f"{name}.onnx").write_bytes(onnx_model.SerializeToString())
        found[name] = _sklearn(pipeline, frame, workdir / f"{name}.onnx", "onnx")

    booster = xgboost.XGBClassifier(n_estimators=8, max_depth=2).fit(frame, labels)
    # Trained on a plain array, so its booster has no feature names.
    regressor = xgboost.XGBRegressor(n_estimators=8, max_depth=2).fit(frame.to_numpy(), targets)
    for ext, fmt in (("json", "xgboost_json"), ("ubj", "xgboost_ubj")):
        booster.get_booster().save_model(workdir / f"xgb_binary.{ext}")
        found[f"{fmt}_binary"] = Artifact(
            workdir / f"xgb_binary.{ext}",
            fmt,
            booster.predict(frame),
            booster.predict_proba(frame),
            [0, 1],
            "classifier",
        )
        regressor.get_booster().save_model(workdir / f"xgb_regressor.{ext}")
        found[f"{fmt}_regressor"] = Artifact(
            workdir / f"xgb_regressor.{ext}",
            fmt,
            regressor.predict(frame.to_numpy()),
            None,
            None,
            "regressor",
        )

    gbm = lightgbm.LGBMClassifier(n_estimators=8, min_child_samples=3, verbose=-1).fit(frame, labels)
    gbm.booster_.save_model(workdir / "lgbm.txt")
    found["lightgbm_text"] = Artifact(
        workdir / "lgbm.txt",
        "lightgbm_text",
        gbm.predict(frame),
        gbm.predict_proba(frame),
        [0, 1],
        "classifier",
    )

    for name, root in (("mlflow_zip", ""), ("mlflow_zip_in_folder", "model/")):
        path = workdir / f"{name}.zip"
        write_mlflow_zip(path, root, pickle.dumps(pipeline))
        found[name] = _sklearn(pipeline, frame, path, "mlflow_zip", mlflow_root=root)

    path = workdir / "rule_model.py"
    path.write_text(PYTHON_MODEL, encoding="utf-8")
    found["python_source"] = Artifact(path, "python_source", labels, None, [0, 1], "classifier")
    return found


@pytest.fixture(scope="session")
def sandbox(sample_path):
    """Run an artifact through the sandbox: sandbox(path, fmt, **request keys or limits)."""

    def run(path, fmt, *, memory_mb=None, cpu_seconds=30, timeout_seconds=60, **request):
        limits = {"cpu_seconds": cpu_seconds, "timeout_seconds": timeout_seconds}
        if memory_mb:
            limits["memory_mb"] = memory_mb
        full = sandbox_request(path, fmt, sample_path, COLUMNS, **request)
        response = run_in_sandbox(full, project_root=str(PROJECT_ROOT), **limits)
        json.dumps(response, allow_nan=False)  # always plain, strict JSON
        return response

    return run
