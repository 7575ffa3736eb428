"""loaders.py in this process (no sandbox): the paths the sandbox tests do not take, on real models."""

import pickle
import re
import zipfile

import numpy as np
import pandas as pd
import pytest

from apps.packaging.sandbox.loaders import LoadError, load_model, safe_extract
from apps.packaging.sandbox.runner import json_safe
from tests.unit.packaging.helpers import MLMODEL, write_mlflow_zip


def test_skops_default_trusted_types(artifacts):
    """skops trusts scikit-learn's scaler and logistic regression; a decision tree's Tree it does not."""
    import skops.io

    assert skops.io.get_untrusted_types(file=artifacts["skops"].path) == []
    assert skops.io.get_untrusted_types(file=artifacts["skops_tree_allowed"].path) == [
        "sklearn.tree._tree.Tree"
    ]
    with pytest.raises(LoadError, match="does not allow: sklearn.tree._tree.Tree"):
        load_model(str(artifacts["skops_tree_allowed"].path), "skops")


def test_onnx_with_one_input_per_column(tmp_path):
    from onnx import TensorProto, helper, save

    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["total"])],
        "two_inputs",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [None, 1]) for n in ("a", "b")],
        [helper.make_tensor_value_info("total", TensorProto.FLOAT, [None, 1])],
    )
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "add.onnx")
    frame = pd.DataFrame({"b": [1.0, 2.0, 3.5], "a": [10.0, 20.0, 30.0]})

    model = load_model(str(tmp_path / "add.onnx"), "onnx")

    assert (model.kind, model.classes, model.predict_proba(frame)) == ("regressor", None, None)
    np.testing.assert_allclose(model.predict(frame), [11.0, 22.0, 33.5])
    with pytest.raises(ValueError, match=r"inputs \['a'\] are not among the columns"):
        model.predict(frame[["b"]])


def test_xgboost_multiclass_softprob_and_softmax(frame, tmp_path):
    import xgboost

    classes = np.digitize(frame["a"], [-0.5, 0.5])
    softprob = xgboost.XGBClassifier(n_estimators=5, max_depth=2).fit(frame, classes)
    softprob.get_booster().save_model(tmp_path / "softprob.json")
    softmax = xgboost.train(
        {"objective": "multi:softmax", "num_class": 3, "max_depth": 2},
        xgboost.DMatrix(frame, label=classes),
        num_boost_round=5,
    )
    softmax.save_model(tmp_path / "softmax.ubj")

    model = load_model(str(tmp_path / "softprob.json"), "xgboost_json")
    assert (model.kind, model.classes) == ("classifier", [0, 1, 2])
    np.testing.assert_array_equal(model.predict(frame), softprob.predict(frame))
    np.testing.assert_allclose(model.predict_proba(frame), softprob.predict_proba(frame), atol=1e-6)

    model = load_model(str(tmp_path / "softmax.ubj"), "xgboost_ubj")
    np.testing.assert_array_equal(model.predict(frame), softmax.predict(xgboost.DMatrix(frame)))
    np.testing.assert_allclose(model.predict_proba(frame).sum(axis=1), 1.0, atol=1e-6)


def test_xgboost_feature_names_must_match(artifacts, frame):
    model = load_model(str(artifacts["xgboost_json_binary"].path), "xgboost_json")

    with pytest.raises(ValueError, match=r"features \['c'\] are not among the columns"):
        model.predict(frame[["a", "b"]])
    reordered = frame[["c", "a", "b"]]  # matched by name, not position
    np.testing.assert_array_equal(model.predict(reordered), artifacts["xgboost_json_binary"].predictions)


def test_lightgbm_multiclass_and_regression(frame, targets, tmp_path):
    import lightgbm

    classes = np.digitize(frame["a"], [-0.5, 0.5])
    multiclass = lightgbm.LGBMClassifier(n_estimators=5, min_child_samples=3, verbose=-1).fit(frame, classes)
    multiclass.booster_.save_model(tmp_path / "multi.txt")
    regressor = lightgbm.LGBMRegressor(n_estimators=5, min_child_samples=3, verbose=-1).fit(frame, targets)
    regressor.booster_.save_model(tmp_path / "regression.txt")

    model = load_model(str(tmp_path / "multi.txt"), "lightgbm_text")
    assert (model.kind, model.classes) == ("classifier", [0, 1, 2])
    np.testing.assert_array_equal(model.predict(frame), multiclass.predict(frame))
    np.testing.assert_allclose(model.predict_proba(frame), multiclass.predict_proba(frame))

    model = load_model(str(tmp_path / "regression.txt"), "lightgbm_text")
    assert (model.kind, model.classes, model.predict_proba(frame)) == ("regressor", None, None)
    np.testing.assert_allclose(model.predict(frame), regressor.predict(frame))


def test_mlflow_unsupported_flavor(pipeline, tmp_path):
    mlmodel = "flavors:\n  keras:\n    data: data\n  python_function:\n    loader_module: mlflow.keras\n"
    path = write_mlflow_zip(tmp_path / "keras.zip", "", b"", mlmodel=mlmodel)

    with pytest.raises(
        LoadError, match=r"unsupported MLflow flavor\(s\): keras, python_function \(loader_module"
    ):
        load_model(str(path), "mlflow_zip")


def test_mlflow_flavor_pointing_outside_the_model(pipeline, tmp_path):
    mlmodel = MLMODEL.replace("pickled_model: model.pkl", "pickled_model: ../../outside.pkl")

    path = write_mlflow_zip(tmp_path / "outside.zip", "model/", pickle.dumps(pipeline), mlmodel=mlmodel)

    with pytest.raises(
        LoadError, match="refers to '../../outside.pkl', which is outside the model directory"
    ):
        load_model(str(path), "mlflow_zip", mlflow_root="model/")


def test_mlflow_zip_without_mlmodel_at_the_root(pipeline, tmp_path):
    path = write_mlflow_zip(tmp_path / "m.zip", "model/", pickle.dumps(pipeline))

    with pytest.raises(LoadError, match="no MLmodel file at 'elsewhere/MLmodel'"):
        load_model(str(path), "mlflow_zip", mlflow_root="elsewhere/")


@pytest.mark.parametrize("member", ["model/../../evil.txt", "..\\evil.txt", "C:/evil.txt"])
def test_safe_extract_refuses_before_writing_anything(member, tmp_path):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("model/MLmodel", "flavors: {}\n")
        zipped.writestr(member, "owned")
    destination = tmp_path / "out" / "extract"
    destination.mkdir(parents=True)

    with pytest.raises(LoadError, match=re.escape(f"member '{member}'")):
        safe_extract(str(archive), str(destination))

    assert list(destination.iterdir()) == []
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["bad.zip", "extract", "out"]


def test_safe_extract_limits_the_expanded_size(tmp_path):
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("small.bin", b"\0" * 1000)
        zipped.writestr("zeros.bin", b"\0" * 200_000)  # compresses to a few hundred bytes

    with pytest.raises(LoadError, match=r"more than 0 MB \(limit reached at member 'zeros.bin'\)"):
        safe_extract(str(archive), str(tmp_path / "out"), limit=100_000)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("x = 1\n", r"exactly one class with a predict method \(found: none\)"),
        (
            "class A:\n    def predict(self, f): return f\nclass B:\n    def predict(self, f): return f\n",
            r"\(found: A, B\)",
        ),
    ],
)
def test_python_source_needs_exactly_one_model_class(source, message, tmp_path):
    (tmp_path / "model.py").write_text(source)

    with pytest.raises(LoadError, match=message):
        load_model(str(tmp_path / "model.py"), "python_source")


def test_pickle_of_something_that_is_not_a_model(tmp_path):
    (tmp_path / "data.pkl").write_bytes(pickle.dumps({"weights": [1, 2]}))

    with pytest.raises(LoadError, match="holds a dict, which has no predict method"):
        load_model(str(tmp_path / "data.pkl"), "pickle")


def test_unknown_format(tmp_path):
    with pytest.raises(LoadError, match="unknown model format 'h5'"):
        load_model(str(tmp_path / "model.h5"), "h5")


def test_json_safe_turns_numpy_values_into_strict_json():
    values = np.array([1.5, np.nan, np.inf], dtype=np.float32)

    assert json_safe(values) == [1.5, None, None]
    assert json_safe(np.array([[1, 2]], dtype=np.int64)) == [[1, 2]]
    assert json_safe(np.array(["yes", None], dtype=object)) == ["yes", None]
    assert json_safe([np.int64(3), np.bool_(True), pd.Timestamp("2024-01-02")]) == [
        3,
        True,
        "2024-01-02 00:00:00",
    ]
