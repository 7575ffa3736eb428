"""Real small models of every supported kind, trained on the credit data's numeric columns.

Each maker returns (filename, bytes) for the artifact; ``reference_csv`` is the data they were
trained on, with the label column ``Status``. Used by the packaging integration tests.
"""

import io
import pickle
import tempfile
import textwrap
import zipfile
from pathlib import Path

import pandas as pd

FEATURES = ["Seniority", "Time", "Age", "Expenses", "Amount", "Price"]


def training_frame(credit: pd.DataFrame, rows: int = 600) -> pd.DataFrame:
    frame = credit[FEATURES + ["Status"]].dropna().sample(rows, random_state=4).reset_index(drop=True)
    return frame


def reference_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def environment(filename: str, content: bytes) -> dict:
    """What the client captures and sends for this model file, from this test environment."""
    from modelyard.environment import capture_file

    with tempfile.TemporaryDirectory(prefix="modelyard-zoo-") as tmp:
        path = Path(tmp) / filename
        path.write_bytes(content)
        return capture_file(path)


def _logistic(frame):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(
        frame[FEATURES], frame["Status"]
    )


def sklearn_pickle(frame):
    return "model.pkl", pickle.dumps(_logistic(frame), protocol=5)


def sklearn_joblib(frame):
    import joblib

    buffer = io.BytesIO()
    joblib.dump(_logistic(frame), buffer)
    return "model.joblib", buffer.getvalue()


def sklearn_skops(frame):
    import skops.io

    return "model.skops", skops.io.dumps(_logistic(frame))


def onnx_model(frame):
    from skl2onnx import to_onnx

    model = _logistic(frame)
    onx = to_onnx(model, frame[FEATURES].to_numpy(dtype="float32")[:1], options={"zipmap": False})
    return "model.onnx", onx.SerializeToString()


def xgboost_json(frame, tmp_path):
    import xgboost

    model = xgboost.XGBClassifier(n_estimators=20, max_depth=3).fit(
        frame[FEATURES], frame["Status"] == "good"
    )
    path = tmp_path / "model.json"
    model.get_booster().save_model(str(path))
    return "model.json", path.read_bytes()


def lightgbm_text(frame, tmp_path):
    import lightgbm

    model = lightgbm.LGBMClassifier(n_estimators=20, verbose=-1).fit(
        frame[FEATURES], frame["Status"] == "good"
    )
    path = tmp_path / "model.txt"
    model.booster_.save_model(str(path))
    return "model.txt", path.read_bytes()


def mlflow_zip(frame):
    mlmodel = textwrap.dedent(
        """\
        flavors:
          python_function:
            loader_module: mlflow.sklearn
            model_path: model.pkl
            python_version: 3.11.7
          sklearn:
            pickled_model: model.pkl
            serialization_format: pickle
            sklearn_version: 1.5.0
        """
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model/MLmodel", mlmodel)
        archive.writestr("model/model.pkl", pickle.dumps(_logistic(frame)))
        archive.writestr("model/requirements.txt", "scikit-learn\n")
    return "model.zip", buffer.getvalue()


def mlflow_onnx_zip(frame):
    """An MLflow model directory of the onnx flavor, as mlflow.onnx.save_model lays it out."""
    mlmodel = textwrap.dedent(
        """\
        flavors:
          onnx:
            code: null
            data: model.onnx
            onnx_version: 1.16.0
            providers: [CPUExecutionProvider]
          python_function:
            data: model.onnx
            env:
              virtualenv: python_env.yaml
            loader_module: mlflow.onnx
            python_version: 3.11.7
        """
    )
    _, onnx_bytes = onnx_model(frame)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("onnx-model/MLmodel", mlmodel)
        archive.writestr("onnx-model/model.onnx", onnx_bytes)
        archive.writestr("onnx-model/requirements.txt", "onnx\nonnxruntime\n")
    return "onnx-model.zip", buffer.getvalue()


def python_source(frame):
    """A plain Python class: approves when the loan is small compared with the price."""
    source = textwrap.dedent(
        """\
        import numpy as np


        class Model:
            def predict(self, frame):
                ratio = frame["Amount"] / frame["Price"]
                return np.where(ratio < 0.8, "good", "bad")
        """
    )
    return "model.py", source.encode()


def slow_python_source(seconds: float):
    """Takes ``seconds`` to load: long enough to kill a worker in the middle of a build."""
    source = textwrap.dedent(
        f"""\
        import time

        import numpy as np


        class Model:
            def __init__(self):
                time.sleep({seconds})

            def predict(self, frame):
                return np.where(frame["Amount"] < 1000, "good", "bad")
        """
    )
    return "slow_model.py", source.encode()


def hostile_pickle(payload_expression: str) -> bytes:
    """A pickle that evaluates ``payload_expression`` when loaded (never load it outside the sandbox)."""

    class Evil:
        def __reduce__(self):
            return (eval, (payload_expression,))

    return pickle.dumps(Evil(), protocol=4)


def trojan_pickle(frame, code: str) -> tuple[str, bytes]:
    """The credit model, scoring as usual, that runs ``code`` (Python statements) when it is
    unpickled: what an attacker would register (never load it outside the sandbox)."""
    model = _logistic(frame)

    class Trojan:
        def __reduce__(self):
            return (eval, ("exec(code, {}) or model", {"code": code, "model": model}))

    return "model.pkl", pickle.dumps(Trojan(), protocol=5)
