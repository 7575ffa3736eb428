"""Every supported format, loaded and run in the sandbox process: the answers must match what the same
model predicts in this process."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

FORMATS = [
    "pickle",
    "joblib",
    "skops",
    "skops_tree_allowed",
    "onnx_zipmap",
    "onnx_no_zipmap",
    "xgboost_json_binary",
    "xgboost_ubj_binary",
    "xgboost_json_regressor",
    "xgboost_ubj_regressor",
    "lightgbm_text",
    "mlflow_zip",
    "mlflow_zip_in_folder",
    "python_source",
]


@pytest.fixture(scope="module")
def results(artifacts, sandbox, null_sample_path) -> dict:
    """Every run of this module, two at a time (each costs a second or two of imports)."""
    runs = {
        name: (artifact, {"trusted_types": list(artifact.trusted_types), "mlflow_root": artifact.mlflow_root})
        for name, artifact in artifacts.items()
    }
    runs["pickle_nulls"] = (artifacts["pickle"], {"null_sample": str(null_sample_path)})
    runs["xgboost_nulls"] = (artifacts["xgboost_json_binary"], {"null_sample": str(null_sample_path)})
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            name: pool.submit(sandbox, artifact.path, artifact.fmt, **request)
            for name, (artifact, request) in runs.items()
        }
        return {name: future.result() for name, future in futures.items()}


def test_every_format_is_tested(artifacts):
    assert sorted(FORMATS) == sorted(artifacts)


@pytest.mark.parametrize("name", FORMATS)
def test_format_runs_in_the_sandbox(name, artifacts, frame, results):
    artifact = artifacts[name]
    result = results[name]

    assert result["ok"], result
    assert result["kind"] == artifact.kind
    assert result["classes"] == artifact.classes
    assert len(result["predictions"]) == len(frame)
    if artifact.kind == "classifier":
        assert result["predictions"] == artifact.predictions.tolist()
    else:
        np.testing.assert_allclose(result["predictions"], artifact.predictions, rtol=1e-5, atol=1e-5)
    if artifact.probabilities is None:
        assert result["probabilities"] is None
    else:
        assert np.shape(result["probabilities"]) == (len(frame), len(artifact.classes))
        np.testing.assert_allclose(result["probabilities"], artifact.probabilities, atol=1e-5)
    assert result["deterministic"] is True
    assert result["latency_ms_per_row"] > 0
    assert result["load_seconds"] >= 0
    assert result["null_rows"] is None


def test_null_rows_are_reported_per_model(results):
    """Logistic regression refuses NaN; XGBoost takes it. Neither is a failure of the whole run."""
    refused = results["pickle_nulls"]
    assert refused["ok"], refused
    assert refused["null_rows"]["ok"] is False
    assert refused["null_rows"]["rows"] == 5
    assert "NaN" in refused["null_rows"]["error"]

    handled = results["xgboost_nulls"]
    assert handled["ok"], handled
    assert handled["null_rows"] == {"ok": True, "error": None, "rows": 5}
