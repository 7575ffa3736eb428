"""apps.registry.formats: every supported kind proved with a real, tiny model trained here; bad and
hostile inputs rejected or reported without anything being loaded."""

import builtins
import bz2
import contextlib
import gzip
import io
import json
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest

from apps.registry.formats import ArtifactError, Detection, detect
from modelyard.pickle_scan import pickle_globals

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def detect_bytes(data: bytes, filename: str) -> Detection:
    return detect(io.BytesIO(data), filename)


def dump_joblib(obj, **kwargs) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(obj, buffer, **kwargs)
    return buffer.getvalue()


class PlainModel:
    """A model that is just a Python class (defined in this test module)."""

    def __init__(self, threshold: float):
        self.threshold = threshold

    def predict(self, frame):
        return frame.iloc[:, 0] > self.threshold


class OpensAFile:
    """Unpickling this would call builtins.open(marker, "w") and so create the marker file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (builtins.open, (self.marker, "w"))


class RunsACommand:
    """Unpickling this would run a shell command that creates the marker file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


# --- the module stays free of Django -------------------------------------------------------------


def test_formats_imports_without_django():
    code = "import sys, apps.registry.formats; assert 'django' not in sys.modules, sorted(sys.modules)"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


# --- scikit-learn pickles and joblib ------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_sklearn_pickle(logreg, protocol):
    found = detect_bytes(pickle.dumps(logreg, protocol=protocol), "model.pkl")
    assert (found.framework, found.format, found.safe) == ("sklearn", "pickle", False)
    assert found.details["imports"][0] == "sklearn.linear_model._logistic.LogisticRegression"
    assert "sklearn" in found.details["modules"]


@pytest.mark.parametrize("protocol", [4, 5])
def test_pickle_imports_resolve_memoised_module_names(logreg, protocol):
    # Protocol 4+ memoises "numpy" and fetches it again for later globals (BINGET): the reported
    # name must be the real one (numpy.dtype), not whatever string came last.
    imports = detect_bytes(pickle.dumps(logreg, protocol=protocol), "model.pkl").details["imports"]
    assert "numpy.dtype" in imports
    assert all(name.split(".")[0] in ("sklearn", "numpy") for name in imports), imports


def test_sklearn_pickle_protocol_0_is_recognised_by_its_name(logreg):
    found = detect_bytes(pickle.dumps(logreg, protocol=0), "model.pickle")
    assert (found.framework, found.format) == ("sklearn", "pickle")


def test_joblib_uncompressed(logreg):
    found = detect_bytes(dump_joblib(logreg), "model.joblib")
    assert (found.framework, found.format, found.safe) == ("sklearn", "joblib", False)
    assert "compression" not in found.details
    assert "joblib.numpy_pickle.NumpyArrayWrapper" in found.details["imports"]


def test_joblib_dump_named_pkl_is_still_joblib(logreg):
    found = detect_bytes(dump_joblib(logreg), "model.pkl")
    assert (found.framework, found.format) == ("sklearn", "joblib")


@pytest.mark.parametrize(
    ("compress", "kind"),
    [
        (3, "zlib"),
        (("zlib", 3), "zlib"),
        (("gzip", 3), "gzip"),
        (("xz", 3), "xz"),
        (("bz2", 3), "bz2"),
        (("lzma", 3), "lzma"),
    ],
)
def test_joblib_compressed(logreg, compress, kind):
    found = detect_bytes(dump_joblib(logreg, compress=compress), "model.joblib")
    assert (found.framework, found.format, found.safe) == ("sklearn", "joblib", False)
    assert found.details["compression"] == kind
    assert found.details["imports"][0] == "sklearn.linear_model._logistic.LogisticRegression"


def test_joblib_random_forest_from_a_real_file(xy, tmp_path):
    from sklearn.ensemble import RandomForestClassifier

    X, y = xy
    path = tmp_path / "forest.joblib"
    joblib.dump(RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y), path)
    with open(path, "rb") as handle:
        found = detect(handle, path.name)
        assert handle.tell() == 0
    assert (found.framework, found.format) == ("sklearn", "joblib")
    assert "sklearn.tree._classes.DecisionTreeClassifier" in found.details["imports"]


def test_large_joblib_is_read_past_its_array(xy, tmp_path):
    """A ~50 MB joblib file whose big array comes before the model: the raw array bytes are
    skipped, so the classes pickled after it are still found."""
    from sklearn.linear_model import LinearRegression

    X, y = xy
    model = LinearRegression().fit(X, y)
    payload = {"lookup_table": np.random.default_rng(1).random(6_400_000), "model": model}
    path = tmp_path / "big.joblib"
    joblib.dump(payload, path)
    assert path.stat().st_size > 50_000_000
    with open(path, "rb") as handle:
        found = detect(handle, path.name)
    assert (found.framework, found.format) == ("sklearn", "joblib")
    assert "sklearn.linear_model._base.LinearRegression" in found.details["imports"]
    assert found.details.get("scan_complete", True) is True


@pytest.mark.parametrize(
    "array",
    [
        np.arange(5.0),
        np.array(["ab", "c"]),
        np.zeros(3, dtype=[("a", "i4"), ("b", "f8")]),
        np.array(["2024-01-01"], dtype="M8[ns]"),
        np.zeros((2, 3), dtype=">i2", order="F"),
        np.array(2.5),
        np.zeros((0, 4)),
        np.zeros(3, dtype=np.complex128),
        np.array([1, "two", None], dtype=object),
    ],
    ids=[
        "float",
        "unicode",
        "structured",
        "datetime",
        "fortran-bigendian",
        "0d",
        "empty",
        "complex",
        "object",
    ],
)
def test_joblib_arrays_of_every_layout_are_skipped(logreg, array):
    found = detect_bytes(dump_joblib([array, logreg, array]), "model.joblib")
    assert found.framework == "sklearn"
    assert found.details.get("scan_complete", True) is True


def test_plain_python_class_pickle():
    found = detect_bytes(pickle.dumps(PlainModel(0.5)), "model.pkl")
    assert (found.framework, found.format, found.safe) == ("python", "pickle", False)
    assert found.details["imports"] == [f"{__name__}.PlainModel"]


def test_details_are_json(logreg):
    found = detect_bytes(dump_joblib(logreg, compress=3), "model.joblib")
    assert json.loads(json.dumps(found.details)) == found.details


# --- hostile pickles: reported, never run -------------------------------------------------------


def test_hostile_pickle_is_reported_without_running(tmp_path):
    marker = tmp_path / "opened-by-unpickling"
    data = pickle.dumps(OpensAFile(marker))
    found = detect_bytes(data, "model.pkl")
    assert not marker.exists()
    assert found.format == "pickle" and not found.safe
    assert "io.open" in found.details["imports"]  # builtins.open is io.open
    # The detector's check is sound: loading the same bytes really would create the file.
    pickle.loads(data).close()
    assert marker.exists()


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
def test_hostile_os_system_pickle_every_protocol(tmp_path, protocol):
    marker = tmp_path / "touched"
    found = detect_bytes(pickle.dumps(RunsACommand(marker), protocol=protocol), "model.pkl")
    assert not marker.exists()
    assert f"{os.system.__module__}.system" in found.details["imports"]  # posix.system on Linux
    assert os.system.__module__ in found.details["modules"]


def test_hostile_global_after_a_real_model_is_reported(logreg, tmp_path):
    marker = tmp_path / "x"
    found = detect_bytes(pickle.dumps([logreg, OpensAFile(marker)], protocol=4), "model.pkl")
    assert found.framework == "sklearn"
    assert "io.open" in found.details["imports"]
    assert not marker.exists()


def test_hostile_global_hidden_behind_a_joblib_array_is_reported(logreg, tmp_path):
    # joblib writes raw array bytes into the stream; a global pickled after them must still be seen.
    marker = tmp_path / "x"
    data = dump_joblib([np.random.default_rng(0).random(1000), logreg, OpensAFile(marker)], compress=3)
    found = detect_bytes(data, "model.joblib")
    assert found.framework == "sklearn"
    assert "io.open" in found.details["imports"]
    assert not marker.exists()


def test_hostile_global_inside_an_object_array_is_reported(tmp_path):
    marker = tmp_path / "x"
    holder = np.empty(1, dtype=object)
    holder[0] = OpensAFile(marker)
    found = detect_bytes(dump_joblib([np.arange(3), holder]), "model.joblib")
    assert "io.open" in found.details["imports"]
    assert not marker.exists()


def test_hostile_inst_opcode_before_a_model_is_reported(logreg, tmp_path):
    # Protocol-0 INST imports and calls in one opcode; here it is followed by a real model.
    marker = tmp_path / "x"
    model = pickle.dumps(logreg, protocol=2)
    data = model[:2] + f"(S'touch {marker}'\nios\nsystem\n0".encode() + model[2:]
    found = detect_bytes(data, "model.pkl")
    assert found.framework == "sklearn"
    assert "os.system" in found.details["imports"]
    assert not marker.exists()


def test_hostile_stack_global_from_memo_is_named_correctly(tmp_path):
    # "os" is memoised, "subprocess" pushed and dropped, then "os" fetched back for STACK_GLOBAL:
    # the name is os.system, not subprocess.system.
    marker = tmp_path / "x"
    command = f"touch {marker}".encode()
    data = (
        b"\x80\x04\x8c\x02os\x94"  # "os", memo 0
        b"\x8c\nsubprocess0"  # push "subprocess", POP
        b"h\x00\x8c\x06system\x93"  # BINGET 0, "system", STACK_GLOBAL
        b"C" + bytes([len(command)]) + command + b"\x85R."
    )
    assert pickle_globals(data) == ["os.system"]
    assert detect_bytes(data, "model.pkl").details["imports"] == ["os.system"]
    assert not marker.exists()


def test_stack_global_with_computed_names_is_flagged_dynamic():
    # The module name is computed at load time (builtins.str applied to something): the detector
    # cannot know it, and says so instead of inventing one.
    data = b"\x80\x04cbuiltins\nstr\n\x8c\x02os\x85R\x8c\x06system\x93N\x85R."
    imports = detect_bytes(data, "model.pkl").details["imports"]
    assert imports == ["builtins.str", "<dynamic>.system"]


# --- safe formats ---------------------------------------------------------------------------------


def test_skops(logreg, tmp_path):
    skops_io = pytest.importorskip("skops.io", reason="skops is a dev dependency of these tests")
    path = tmp_path / "model.skops"
    skops_io.dump(logreg, path)
    with open(path, "rb") as handle:
        found = detect(handle, path.name)
    assert (found.framework, found.format, found.safe) == ("sklearn", "skops", True)
    assert found.details["members"] >= 2


def test_skops_named_zip_is_still_skops(logreg):
    skops_io = pytest.importorskip("skops.io", reason="skops is a dev dependency of these tests")
    found = detect_bytes(skops_io.dumps(logreg), "model.zip")
    assert (found.format, found.safe) == ("skops", True)


def test_onnx_from_skl2onnx(logreg, xy):
    skl2onnx = pytest.importorskip("skl2onnx", reason="skl2onnx is a dev dependency of these tests")
    onnx = pytest.importorskip("onnx")
    X, _ = xy
    proto = skl2onnx.to_onnx(logreg, X[:1].astype(np.float32), target_opset=17)
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    found = detect_bytes(data, "model.onnx")
    assert (found.framework, found.format, found.safe) == ("onnx", "onnx", True)


def test_truncated_onnx_is_rejected(logreg, xy):
    skl2onnx = pytest.importorskip("skl2onnx", reason="skl2onnx is a dev dependency of these tests")
    X, _ = xy
    data = skl2onnx.to_onnx(logreg, X[:1].astype(np.float32), target_opset=17).SerializeToString()
    with pytest.raises(ArtifactError, match="truncated"):
        detect_bytes(data[: len(data) // 2], "model.onnx")


@pytest.fixture(scope="module")
def xgb_model(xy):
    xgboost = pytest.importorskip("xgboost", reason="xgboost-cpu is a dev dependency of these tests")
    X, y = xy
    return xgboost.XGBClassifier(n_estimators=3, max_depth=2).fit(X, y)


@pytest.mark.parametrize(("suffix", "fmt"), [(".json", "xgboost_json"), (".ubj", "xgboost_ubj")])
def test_xgboost_saved_model(xgb_model, tmp_path, suffix, fmt):
    path = tmp_path / f"model{suffix}"
    xgb_model.save_model(path)
    with open(path, "rb") as handle:
        found = detect(handle, path.name)
    assert (found.framework, found.format, found.safe) == ("xgboost", fmt, True)


def test_xgboost_ubj_under_another_name(xgb_model, tmp_path):
    path = tmp_path / "model.ubj"
    xgb_model.save_model(path)
    found = detect_bytes(path.read_bytes(), "model.bin")
    assert found.format == "xgboost_ubj"


def test_xgboost_pickle_is_xgboost(xgb_model):
    found = detect_bytes(pickle.dumps(xgb_model), "model.pkl")
    assert (found.framework, found.format, found.safe) == ("xgboost", "pickle", False)


def test_xgboost_legacy_binary_header():
    found = detect_bytes(b"binf" + bytes(60), "model.bin")
    assert (found.framework, found.format, found.safe) == ("xgboost", "xgboost_binary", False)


def test_lightgbm_text(xy, tmp_path):
    lightgbm = pytest.importorskip("lightgbm", reason="lightgbm is a dev dependency of these tests")
    X, y = xy
    booster = lightgbm.train(
        {"objective": "binary", "verbose": -1, "min_data_in_leaf": 5},
        lightgbm.Dataset(X, y),
        num_boost_round=3,
    )
    path = tmp_path / "model.txt"
    booster.save_model(path)
    with open(path, "rb") as handle:
        found = detect(handle, path.name)
    assert (found.framework, found.format, found.safe) == ("lightgbm", "lightgbm_text", True)
    # LightGBM does not care about the extension, and neither do we.
    assert detect_bytes(path.read_bytes(), "model.lgb").format == "lightgbm_text"


# --- MLflow model directories as zips ----------------------------------------------------------

MLMODEL = textwrap.dedent(
    """\
    artifact_path: model
    flavors:
      python_function:
        env:
          conda: conda.yaml
          virtualenv: python_env.yaml
        loader_module: mlflow.sklearn
        model_path: model.pkl
        predict_fn: predict
        python_version: 3.11.9
      sklearn:
        code: null
        pickled_model: model.pkl
        serialization_format: cloudpickle
        sklearn_version: 1.5.0
    mlflow_version: 2.14.1
    model_uuid: 5b1d1c3e0a9b4f4f9a3b2c1d0e9f8a7b
    utc_time_created: '2024-06-01 12:00:00.000000'
    """
)


def mlflow_zip(model, prefix: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{prefix}MLmodel", MLMODEL)
        archive.writestr(f"{prefix}model.pkl", pickle.dumps(model))
        archive.writestr(f"{prefix}requirements.txt", "mlflow==2.14.1\nscikit-learn==1.5.0\n")
        archive.writestr(f"{prefix}python_env.yaml", "python: 3.11.9\n")
        archive.writestr(f"{prefix}conda.yaml", "name: mlflow-env\n")
    return buffer.getvalue()


@pytest.mark.parametrize("prefix", ["", "model/"])
def test_mlflow_directory_zip(logreg, prefix):
    found = detect_bytes(mlflow_zip(logreg, prefix), "model.zip")
    assert (found.framework, found.format, found.safe) == ("mlflow", "mlflow_zip", False)
    assert found.details["root"] == prefix
    assert found.details["members"] == 5
    assert found.details["flavors"] == ["python_function", "sklearn"]


def test_mlflow_zip_root_is_the_shallowest_mlmodel(logreg):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model/artifacts/sub/MLmodel", MLMODEL)  # a nested model, listed first
        archive.writestr("model/MLmodel", MLMODEL)
        archive.writestr("model/model.pkl", pickle.dumps(logreg))
    assert detect_bytes(buffer.getvalue(), "model.zip").details["root"] == "model/"


# --- Python source -------------------------------------------------------------------------------

MODEL_SOURCE = textwrap.dedent(
    '''\
    """A hand-written model: approve when income covers the amount."""
    import pandas as pd


    class IncomeRule:
        def __init__(self, ratio: float = 3.0):
            self.ratio = ratio

        def predict(self, frame: pd.DataFrame) -> pd.Series:
            return (frame["Income"] * self.ratio > frame["Amount"]).map({True: "good", False: "bad"})
    '''
)


def test_python_source(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(MODEL_SOURCE, encoding="utf-8")
    with open(path, "rb") as handle:
        found = detect(handle, path.name)
    # Loading Python source runs it: it is not a safe format.
    assert (found.framework, found.format, found.safe) == ("python", "python_source", False)
    assert found.details["classes"] == ["IncomeRule"]


# --- bad inputs ---------------------------------------------------------------------------------


def test_empty_file():
    with pytest.raises(ArtifactError, match="empty"):
        detect_bytes(b"", "model.pkl")


def test_random_bytes():
    data = bytes(np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8))
    assert data[:1] not in (b"\x80", b"P", b"\x1f", b"x", b"B", b"{", b"\xfd", b"]")
    with pytest.raises(ArtifactError, match="unrecognised model format") as excinfo:
        detect_bytes(data, "model.pkl")
    assert "supported:" in str(excinfo.value) and ".onnx" in str(excinfo.value)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.99])
def test_truncated_pickle(logreg, fraction):
    data = pickle.dumps(logreg, protocol=5)
    with pytest.raises(ArtifactError, match="truncated") as excinfo:
        detect_bytes(data[: int(len(data) * fraction)], "model.pkl")
    assert "upload the complete file" in str(excinfo.value)


def test_truncated_joblib_array(logreg):
    data = dump_joblib([np.arange(10_000.0), logreg])
    with pytest.raises(ArtifactError, match="truncated"):
        detect_bytes(data[:50_000], "model.joblib")


@pytest.mark.parametrize(
    ("compress", "kind"), [(("gzip", 3), "gzip"), (("bz2", 3), "bz2"), (("xz", 3), "xz"), (3, "zlib")]
)
def test_truncated_compressed_joblib(logreg, compress, kind):
    data = dump_joblib(logreg, compress=compress)
    with pytest.raises(ArtifactError, match=f"{kind}-compressed file") as excinfo:
        detect_bytes(data[: len(data) // 2], "model.joblib")
    assert "truncated" in str(excinfo.value)


def test_compressed_file_that_is_not_a_pickle():
    with pytest.raises(ArtifactError, match="does not hold a pickle"):
        detect_bytes(gzip.compress(b"name,value\nx,1\n"), "model.joblib")
    with pytest.raises(ArtifactError, match="does not hold a pickle"):
        detect_bytes(bz2.compress(b"hello"), "model.joblib")


def test_lz4_joblib_explains_what_to_do():
    with pytest.raises(ArtifactError, match="compress=3"):
        detect_bytes(b"\x04\x22\x4d\x18" + bytes(40), "model.joblib")


def test_pickle_with_an_unknown_opcode_is_corrupt(logreg):
    data = bytearray(pickle.dumps(logreg, protocol=4))
    data[60:62] = b"\xff\xff"
    with pytest.raises(ArtifactError, match="corrupt"):
        detect_bytes(bytes(data), "model.pkl")


def test_pickle_of_plain_values_is_not_a_model():
    with pytest.raises(ArtifactError, match="not a model"):
        detect_bytes(pickle.dumps({"weights": [1.0, 2.0]}, protocol=4), "model.pkl")


def test_onnx_name_without_onnx_content():
    with pytest.raises(ArtifactError, match=r"\.onnx name but is not an ONNX model"):
        detect_bytes(b"this is a text file, not a protobuf\n", "model.onnx")
    # The right first byte is not enough: the structure is checked too.
    with pytest.raises(ArtifactError, match="not an ONNX model"):
        detect_bytes(b"\x08\x07" + b"\xff" * 30, "model.onnx")


def test_corrupt_zip(logreg):
    data = mlflow_zip(logreg)
    with pytest.raises(ArtifactError, match="corrupt zip archive") as excinfo:
        detect_bytes(data[: len(data) - 30], "model.zip")
    assert "re-upload" in str(excinfo.value)


def test_zip_without_mlmodel_or_schema():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("weights.bin", b"\x00" * 16)
        archive.writestr("README.md", "my model")
    with pytest.raises(ArtifactError, match="no MLmodel file") as excinfo:
        detect_bytes(buffer.getvalue(), "model.zip")
    assert "skops" in str(excinfo.value)


@pytest.mark.parametrize(
    "source",
    [
        "class Model:\n    def fit(self, frame):\n        return self\n",
        "# def predict(self, frame): is still to be written\nclass Model:\n    pass\n",
        "class Model:\n    def predict_proba(self, frame):\n        return frame\n",
    ],
    ids=["no-predict", "predict-only-in-a-comment", "predict-proba-only"],
)
def test_python_source_without_predict(source):
    with pytest.raises(ArtifactError, match=r"class with a predict\(DataFrame\) method"):
        detect_bytes(source.encode(), "model.py")


def test_python_source_that_does_not_parse():
    with pytest.raises(ArtifactError, match=r"not valid Python.*line 2"):
        detect_bytes(b"class Model:\n    def predict(self, frame)\n        return frame\n", "model.py")


def test_python_source_not_utf8():
    source = MODEL_SOURCE.replace("approve", "approuvé").encode("latin-1")
    with pytest.raises(ArtifactError, match="UTF-8"):
        detect_bytes(source, "model.py")


def test_detect_leaves_the_file_at_its_start(logreg):
    for data, name in [
        (pickle.dumps(logreg), "model.pkl"),
        (dump_joblib(logreg, compress=3), "model.joblib"),
        (mlflow_zip(logreg), "model.zip"),
        (MODEL_SOURCE.encode(), "model.py"),
        (b"\x00\x01garbage", "model.bin"),
    ]:
        handle = io.BytesIO(data)
        handle.seek(5)
        with contextlib.suppress(ArtifactError):
            detect(handle, name)
        assert handle.tell() == 0, name


def test_pickle_globals_is_tolerant_of_damage(logreg):
    data = pickle.dumps(logreg, protocol=5)
    assert pickle_globals(data[:200]) == ["sklearn.linear_model._logistic.LogisticRegression"]
    assert pickle_globals(b"") == []


@pytest.mark.parametrize("protocol", [0, 1])
def test_old_protocol_joblib_arrays_are_skipped_too(logreg, tmp_path, protocol):
    # Protocols 0 and 1 build joblib's array wrapper through copyreg._reconstructor.
    marker = tmp_path / "x"
    data = dump_joblib([np.arange(100.0), logreg, OpensAFile(marker)], protocol=protocol)
    found = detect_bytes(data, "model.joblib")
    assert (found.framework, found.format) == ("sklearn", "joblib")
    assert "io.open" in found.details["imports"]
    assert not marker.exists()


def test_python2_names_are_reported_as_python3_imports():
    # An unpickler maps __builtin__ to builtins for protocols 0-2; the report must use the name
    # that is really imported, or a check for builtins.eval would miss it.
    data = b"c__builtin__\neval\n(S'1'\ntR."
    assert pickle.loads(data) == 1
    assert detect_bytes(data, "model.pkl").details["imports"] == ["builtins.eval"]
