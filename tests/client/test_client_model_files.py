"""What a model file needs, read from its bytes: pickles of every protocol, joblib (plain and
zlib), skops, ONNX, XGBoost, LightGBM and MLflow; and never by running the file."""

import importlib.metadata as metadata
import pickle
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from modelyard.environment import capture_file
from modelyard.errors import ModelyardError
from modelyard.model_files import file_needs

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pipeline():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    return Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())]).fit(X, X[:, 0] > 0)


class Trap:
    """Unpickling this creates the file at ``path``: proof, when it does not appear, that the
    scanner never unpickled."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pickle_protocols_name_the_modules(tmp_path, pipeline, protocol):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(pipeline, protocol=protocol))
    needs = file_needs(path)
    assert needs.kind == "pickle"
    assert {"sklearn", "numpy"} <= needs.modules


@pytest.mark.parametrize("compress", [0, 3, ("zlib", 6)])
def test_joblib_plain_and_zlib_find_modules_pickled_after_array_data(tmp_path, pipeline, compress):
    # The classifier's class comes after a large raw numpy array in the joblib stream.
    path = tmp_path / "model.joblib"
    joblib.dump({"weights": np.arange(200_000.0), "model": pipeline}, path, compress=compress)
    needs = file_needs(path)
    assert needs.kind == "joblib"
    assert {"sklearn", "numpy", "joblib"} <= needs.modules


def test_capture_file_pins_the_installed_versions_and_their_requirements(tmp_path, pipeline):
    path = tmp_path / "credit.joblib"
    joblib.dump(pipeline, path, compress=3)
    env = capture_file(path)
    assert env["packages"]["scikit-learn"] == metadata.version("scikit-learn")
    assert env["packages"]["numpy"] == metadata.version("numpy")
    assert env["packages"]["scipy"] == metadata.version("scipy")  # scikit-learn's Requires-Dist
    assert env["packages"]["joblib"] == metadata.version("joblib")
    assert env["modules"]["sklearn"] == ["scikit-learn"]
    assert env["unknown_modules"] == []
    assert env["python"].count(".") == 2


def test_a_module_that_is_not_installed_is_reported_unknown(tmp_path):
    # GLOBAL 'not_installed_xyz Thing', EMPTY_TUPLE, NEWOBJ, STOP: written by hand, as nobody has it.
    path = tmp_path / "model.pkl"
    path.write_bytes(b"\x80\x02cnot_installed_xyz.sub\nThing\n)\x81.")
    env = capture_file(path)
    assert env["modules"] == {"not_installed_xyz": []}
    assert env["unknown_modules"] == ["not_installed_xyz"]
    assert env["packages"] == {}


@pytest.mark.parametrize("protocol", [2, 5])
def test_the_file_is_never_unpickled(tmp_path, protocol):
    target = tmp_path / "created-by-unpickling"
    path = tmp_path / "trap.pkl"
    path.write_bytes(pickle.dumps(Trap(target), protocol=protocol))
    env = capture_file(path)
    assert not target.exists()
    assert env["unknown_modules"] == []  # open is a builtin: nothing to install
    pickle.loads(path.read_bytes()).close()  # the payload is live: loading it does create the file
    assert target.exists()


def test_joblib_zlib_trap_is_not_run_either(tmp_path):
    target = tmp_path / "created-by-joblib-load"
    path = tmp_path / "trap.joblib"
    joblib.dump([np.zeros(10), Trap(target)], path, compress=3)
    assert "joblib" in file_needs(path).modules
    assert not target.exists()


def test_lz4_empty_and_unknown_files_get_clear_errors(tmp_path):
    lz4 = tmp_path / "model.joblib"
    lz4.write_bytes(b"\x04\x22\x4d\x18" + b"\x00" * 60)
    with pytest.raises(ModelyardError, match="lz4"):
        file_needs(lz4)
    empty = tmp_path / "empty.pkl"
    empty.write_bytes(b"")
    with pytest.raises(ModelyardError, match="empty"):
        file_needs(empty)
    odd = tmp_path / "notes.bin"
    odd.write_bytes(b"just some text, not a model")
    assert file_needs(odd).modules == set()  # the server names the formats it accepts
    truncated = tmp_path / "cut.pkl"
    truncated.write_bytes(pickle.dumps(list(range(1000)), protocol=4)[:50])
    with pytest.raises(ModelyardError, match="pickle"):
        file_needs(truncated)
    # Registering still uploads it: the server's answer names what is wrong with the file.
    assert capture_file(truncated)["packages"] == {} and "pickle" in capture_file(truncated)["unread"]


def test_skops_file_names_its_classes_modules(tmp_path, pipeline):
    skops_io = pytest.importorskip("skops.io")
    path = tmp_path / "model.skops"
    skops_io.dump(pipeline, path)
    needs = file_needs(path)
    assert needs.kind == "skops"
    assert {"sklearn", "skops"} <= needs.modules


def test_onnx_needs_onnxruntime(tmp_path, pipeline):
    skl2onnx = pytest.importorskip("skl2onnx")
    from skl2onnx.common.data_types import FloatTensorType

    onnx_model = skl2onnx.convert_sklearn(pipeline, initial_types=[("x", FloatTensorType([None, 3]))])
    path = tmp_path / "model.onnx"
    path.write_bytes(onnx_model.SerializeToString())
    env = capture_file(path)
    assert env["modules"]["onnxruntime"] == ["onnxruntime"]
    assert env["packages"]["onnxruntime"] == metadata.version("onnxruntime")
    details = env["format_details"]
    assert details["producer"] == "skl2onnx" and details["producer_version"]
    assert details["opsets"] == {op.domain or "ai.onnx": op.version for op in onnx_model.opset_import}


def test_xgboost_and_lightgbm_files_need_their_package(tmp_path):
    xgb = pytest.importorskip("xgboost")
    lgb = pytest.importorskip("lightgbm")
    X = np.random.default_rng(1).normal(size=(100, 3))
    y = (X[:, 0] > 0).astype(int)
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, label=y), num_boost_round=2)
    booster.save_model(tmp_path / "model.json")
    booster.save_model(tmp_path / "model.ubj")
    lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(X, y), 2).save_model(tmp_path / "m.txt")
    assert file_needs(tmp_path / "model.json").modules == {"xgboost"}
    assert file_needs(tmp_path / "model.ubj").modules == {"xgboost"}
    assert file_needs(tmp_path / "m.txt").modules == {"lightgbm"}
    # The module is xgboost whichever wheel provides it (xgboost or xgboost-cpu).
    env = capture_file(tmp_path / "model.json")
    assert set(env["modules"]["xgboost"]) <= set(env["packages"])


def test_mlflow_zip_reads_flavours_and_requirements(tmp_path):
    path = tmp_path / "model.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "model/MLmodel",
            "artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.sklearn\n"
            "  sklearn:\n    pickled_model: model.pkl\n",
        )
        archive.writestr("model/requirements.txt", "mlflow==2.9.2\nscikit-learn==1.3.2  # pinned\n")
        archive.writestr("model/model.pkl", b"")
    needs = file_needs(path)
    assert needs.kind == "mlflow"
    assert needs.modules == {"sklearn"}
    assert needs.requirements == ["mlflow==2.9.2", "scikit-learn==1.3.2"]


def test_mlflow_conda_yaml_pip_section_when_there_is_no_requirements_txt(tmp_path):
    path = tmp_path / "model.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("MLmodel", "flavors:\n  xgboost:\n    data: model.xgb\n")
        archive.writestr(
            "conda.yaml",
            "channels:\n- conda-forge\ndependencies:\n- python=3.11\n- pip<=24\n- pip:\n"
            "  - mlflow==2.9.2\n  - xgboost==2.0.3\nname: mlflow-env\n",
        )
    needs = file_needs(path)
    assert needs.modules == {"xgboost"}
    assert needs.requirements == ["mlflow==2.9.2", "xgboost==2.0.3"]


def test_python_source_imports_are_read_from_its_syntax_tree(tmp_path):
    path = tmp_path / "rules.py"
    path.write_text(
        "import numpy as np\nfrom sklearn.base import BaseEstimator\nfrom . import x\n"
        "import os\nopen('should-not-exist', 'w')\n"
    )
    env = capture_file(path)
    assert set(env["modules"]) == {"numpy", "sklearn"}
    assert not (tmp_path / "should-not-exist").exists() and not Path("should-not-exist").exists()
