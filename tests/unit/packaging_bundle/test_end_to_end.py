"""A real package, run for real: a small scikit-learn pipeline is packaged with the scaffold, served by
serve.py in its own process and spoken to over HTTP, then batch.py scores a file."""

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from apps.packaging.bundle.lock import build_lock
from apps.packaging.bundle.scaffold import render_scaffold
from apps.registry.datasets import infer_output_schema, infer_schema
from apps.registry.formats import detect

PROJECT_ROOT = Path(__file__).resolve().parents[3]
SANDBOX_LOADER = PROJECT_ROOT / "apps" / "packaging" / "sandbox" / "loaders.py"
MAX_BODY_BYTES = 4096
# Only while the sandbox's loader is not written yet: the smallest loader with the same interface.
STUB_LOADER = textwrap.dedent(
    """
    import joblib
    import numpy as np


    class Predictor:
        def __init__(self, model):
            self.model = model
            self.classes = np.asarray(model.classes_).tolist()
            self.kind = "classifier"

        def predict(self, frame):
            return self.model.predict(frame)

        def predict_proba(self, frame):
            return self.model.predict_proba(frame)


    def load_model(path, fmt, *, trusted_types=(), mlflow_root=""):
        return Predictor(joblib.load(path))
    """
)


@pytest.fixture(scope="module")
def training():
    rng = np.random.default_rng(3)
    rows = 120
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 70, rows),
            "income": rng.normal(50.0, 15.0, rows).round(2),
            "home": rng.choice(["own", "rent", "other"], rows),
        }
    )
    label = np.where(frame["income"] + 12 * (frame["home"] == "own") - 0.2 * frame["age"] > 45, "yes", "no")
    features = ColumnTransformer(
        [
            ("num", StandardScaler(), ["age", "income"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["home"]),
        ]
    )
    model = Pipeline([("features", features), ("classify", LogisticRegression())]).fit(frame, label)
    return frame, pd.Series(label, name="label"), model


@pytest.fixture(scope="module")
def package_dir(training, tmp_path_factory):
    frame, label, model = training
    folder = tmp_path_factory.mktemp("package")
    artifact = io.BytesIO()
    joblib.dump(model, artifact)
    (folder / "model.joblib").write_bytes(artifact.getvalue())
    detection = detect(io.BytesIO(artifact.getvalue()), "model.joblib")
    lock = build_lock(python="3.11.7", packages={"scikit-learn": "1.4.2"}, declared="")
    files = render_scaffold(
        model_name="credit-risk",
        version_number=7,
        artifact_filename="model.joblib",
        fmt=detection.format,
        mlflow_root="",
        input_schema=infer_schema(frame),
        output_schema=infer_output_schema(label, "binary_classification"),
        trusted_types=[],
        lock=lock,
    )
    for name, text in files.items():
        (folder / name).write_text(text)
    if SANDBOX_LOADER.is_file():
        shutil.copy(SANDBOX_LOADER, folder / "model_loader.py")
    else:
        (folder / "model_loader.py").write_text(STUB_LOADER)
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def script_env(folder: Path, **extra) -> dict:
    return {**os.environ, "MODEL_DIR": str(folder), **extra}


@pytest.fixture(scope="module")
def server(package_dir):
    port = free_port()
    env = script_env(
        package_dir,
        HOST="127.0.0.1",
        PORT=str(port),
        MAX_BODY_BYTES=str(MAX_BODY_BYTES),
        REFUSE_OUTSIDE_RANGE="home",  # home's unknown categories are refused; other features' are scored
    )
    process = subprocess.Popen(
        [sys.executable, "serve.py"], cwd=package_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"serve.py exited: {process.stderr.read().decode()}")
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    pytest.fail("serve.py did not answer /health within 60 seconds")
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def call(base: str, path: str, body: bytes | dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(f"{base}{path}", data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


def test_health(server):
    assert call(server, "/health") == (200, {"status": "ok"})


def test_metadata(server, training):
    status, metadata = call(server, "/metadata")
    assert status == 200
    assert (metadata["model_name"], metadata["model_version"], metadata["format"]) == (
        "credit-risk",
        7,
        "joblib",
    )
    assert [f["name"] for f in metadata["input_schema"]["features"]] == ["age", "income", "home"]
    assert metadata["classes"] == ["no", "yes"]


def test_predict_records_matches_the_model_in_process(server, training):
    frame, _, model = training
    rows = frame.head(8)
    status, answer = call(server, "/predict", {"records": rows.to_dict("records")})
    assert status == 200, answer
    assert answer["predictions"] == model.predict(rows).tolist()
    assert answer["classes"] == ["no", "yes"]
    assert np.allclose(answer["probabilities"], model.predict_proba(rows))


def test_predict_dataframe_split_matches_the_model_in_process(server, training):
    frame, _, model = training
    rows = frame.iloc[20:30]
    split = {"columns": list(rows.columns), "data": rows.to_numpy().tolist()}
    status, answer = call(server, "/predict", {"dataframe_split": split})
    assert status == 200, answer
    assert answer["predictions"] == model.predict(rows).tolist()


def test_a_bad_record_gets_422_with_field_errors_and_no_values(server):
    secret = "SECRET-CASTLE-42"
    bad = {"age": "SECRET-AGE-42", "income": 50.0, "home": secret}
    good = {"age": 30, "income": 50.0, "home": "own"}
    status, answer = call(server, "/predict", {"records": [good, bad]})
    assert status == 422
    assert answer["errors"] == ["records[1].age: expected integer", "records[1].home: unknown category"]
    assert "SECRET" not in json.dumps(answer)


def test_a_value_outside_the_range_of_a_feature_that_did_not_opt_in_is_scored(server, training):
    frame, _, model = training
    first = {name: value.item() if hasattr(value, "item") else value for name, value in frame.iloc[0].items()}
    record = {**first, "age": int(frame["age"].max()) + 40}
    status, answer = call(server, "/predict", {"records": [record]})
    assert status == 200, answer
    assert answer["predictions"] == model.predict(pd.DataFrame([record])).tolist()


def test_a_body_over_the_limit_gets_413(server):
    padding = "x" * (MAX_BODY_BYTES * 3)
    status, answer = call(server, "/predict", {"records": [{"note": padding}]})
    assert status == 413
    assert "allowed" in answer["error"]


def test_invalid_json_and_unknown_paths(server):
    assert call(server, "/predict", b"{not json")[0] == 400
    assert call(server, "/predict", {"rows": []})[0] == 400
    assert call(server, "/nowhere")[0] == 404


def run_batch(folder: Path, source: Path, target: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "batch.py", str(source), str(target), *options],
        cwd=folder,
        env=script_env(folder),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_batch_scores_a_csv_and_marks_bad_rows(package_dir, training, tmp_path):
    frame, _, model = training
    rows = frame.head(6).copy()
    rows.insert(0, "id", range(100, 106))
    rows.loc[3, "home"] = "castle"  # not a known category, refused for home: kept with an _error
    rows.to_csv(tmp_path / "in.csv", index=False)

    done = run_batch(package_dir, tmp_path / "in.csv", tmp_path / "out.csv", "--refuse-outside-range", "home")
    assert done.returncode == 0, done.stderr
    scored = pd.read_csv(tmp_path / "out.csv")
    assert list(scored.columns) == [
        "id",
        "age",
        "income",
        "home",
        "prediction",
        "proba_no",
        "proba_yes",
        "_error",
    ]
    assert scored["id"].tolist() == list(range(100, 106))
    good = scored.drop(index=3)
    expected = model.predict(frame.head(6).drop(index=3))
    assert good["prediction"].tolist() == expected.tolist()
    assert np.allclose(good[["proba_no", "proba_yes"]], model.predict_proba(frame.head(6).drop(index=3)))
    assert good["_error"].isna().all()
    assert scored.loc[3, "_error"] == "home: unknown category"
    assert pd.isna(scored.loc[3, "prediction"]) and pd.isna(scored.loc[3, "proba_yes"])


def test_batch_scores_values_outside_the_range_by_default_and_counts_them(package_dir, training, tmp_path):
    frame, _, model = training
    rows = frame.head(6).copy()
    rows.loc[3, "home"] = "castle"
    rows.loc[4, "age"] = int(frame["age"].max()) + 40
    rows.to_csv(tmp_path / "in.csv", index=False)
    done = run_batch(package_dir, tmp_path / "in.csv", tmp_path / "out.csv")
    assert done.returncode == 0, done.stderr
    scored = pd.read_csv(tmp_path / "out.csv")
    assert scored["_error"].isna().all()
    assert scored["prediction"].tolist() == model.predict(rows).tolist()
    counted = "values outside the schema's range, scored: age above_max 1, home unknown_category 1"
    assert counted in done.stderr


def test_batch_scores_parquet_in_chunks(package_dir, training, tmp_path):
    frame, _, model = training
    many = pd.concat([frame] * 90, ignore_index=True)  # 10,800 rows: two chunks of the 10,000
    many.to_parquet(tmp_path / "in.parquet", index=False)
    done = run_batch(package_dir, tmp_path / "in.parquet", tmp_path / "out.parquet")
    assert done.returncode == 0, done.stderr
    scored = pd.read_parquet(tmp_path / "out.parquet")
    assert len(scored) == len(many)
    assert scored["prediction"].tolist() == model.predict(many).tolist()
    assert scored["_error"].isna().all()


def test_batch_refuses_a_file_without_the_features(package_dir, tmp_path):
    pd.DataFrame({"age": [30]}).to_csv(tmp_path / "in.csv", index=False)
    done = run_batch(package_dir, tmp_path / "in.csv", tmp_path / "out.csv")
    assert done.returncode == 2
    assert "income, home" in done.stderr
    assert not (tmp_path / "out.csv").exists()
