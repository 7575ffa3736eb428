"""Load a model artifact of any supported format behind one small interface, ``Predictor``.

Standalone on purpose: this file is copied into deployable packages as ``model_loader.py``, so it
imports only the standard library, numpy and pandas at the top, and each framework only when a model
of its format is loaded. Loading a pickle, a joblib file or Python source runs code from the artifact:
do it inside a sandbox process, never in a web or worker process.
"""

import json
import os
import pickle
import re
import stat
import sys
import tempfile
import types
import warnings
import zipfile
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

MAX_EXTRACT_BYTES = 2 * 1024**3  # an MLflow zip may expand to at most this much

_HINTS = {
    "pickle": "it is corrupt, truncated or needs code that is not installed; save the model again",
    "joblib": "it is corrupt, truncated or needs code that is not installed; save the model again",
    "skops": "save the model again with skops.io.dump",
    "onnx": "it is corrupt or truncated; export the model to ONNX again",
    "xgboost_json": "save the model again with Booster.save_model",
    "xgboost_ubj": "save the model again with Booster.save_model",
    "xgboost_binary": "the old binary format is unsupported by recent XGBoost; save as .json or .ubj",
    "lightgbm_text": "save the model again with Booster.save_model",
    "mlflow_zip": "zip the MLflow model directory again",
    "python_source": "fix the model code",
}


class LoadError(Exception):
    """The artifact cannot be loaded; the message says why and what to do about it."""


class Predictor:
    """A loaded model. ``predict`` gives labels (classifiers) or values (regressors); ``predict_proba``
    gives an n×k matrix whose columns follow ``classes``, or None when the model has no probabilities."""

    def __init__(
        self,
        *,
        framework: str,
        kind: str,
        classes: list | None,
        predict: Callable,
        predict_proba: Callable | None = None,
        matrix_features: tuple[str, ...] | None = None,
        predict_matrix: Callable | None = None,
    ):
        self.framework = framework
        self.kind = kind  # "classifier" | "regressor" | "unknown"
        self.classes = classes
        self._predict = predict
        self._predict_proba = predict_proba
        # When set, a NumPy matrix of plain numbers with these columns in this order gives exactly
        # what a DataFrame of the same values gives, at a fraction of the cost (see _matrix_path).
        self.matrix_features = matrix_features
        self._predict_matrix = predict_matrix

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return _one_column(np.asarray(self._predict(frame)))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray | None:
        if self._predict_proba is None:
            return None
        return np.asarray(self._predict_proba(frame))

    def predict_both(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """``predict`` and ``predict_proba`` of the same rows."""
        return self.predict(frame), self.predict_proba(frame)

    def predict_both_matrix(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The same as ``predict_both`` of a DataFrame with ``matrix_features`` as its columns, for
        a matrix of int64 or float64 numbers; only for models that have ``matrix_features``."""
        labels, probabilities = self._predict_matrix(matrix)
        return _one_column(np.asarray(labels)), None if probabilities is None else np.asarray(probabilities)


def _one_column(out: np.ndarray) -> np.ndarray:
    return out[:, 0] if out.ndim == 2 and out.shape[1] == 1 else out


def load_model(path: str, fmt: str, *, trusted_types: Iterable[str] = (), mlflow_root: str = "") -> Predictor:
    """Load the artifact at ``path``, whose format was detected beforehand. ``trusted_types`` is the
    platform's policy for skops files (never read from the artifact itself)."""
    loaders = {
        "pickle": _load_pickle,
        "joblib": _load_joblib,
        "skops": lambda p: _load_skops(p, trusted_types),
        "onnx": _load_onnx,
        "xgboost_json": _load_xgboost,
        "xgboost_ubj": _load_xgboost,
        "xgboost_binary": _load_xgboost,
        "lightgbm_text": _load_lightgbm,
        "mlflow_zip": lambda p: _load_mlflow_zip(p, mlflow_root),
        "python_source": _load_python_source,
    }
    if fmt not in loaders:
        raise LoadError(f"unknown model format {fmt!r}; known: {', '.join(loaders)}")
    try:
        return loaders[fmt](path)
    except (LoadError, MemoryError):
        raise
    except ModuleNotFoundError as exc:
        raise LoadError(f"the model needs the Python module '{exc.name}', which is not installed") from exc
    except Exception as exc:
        raise LoadError(
            f"could not load the {fmt} file ({type(exc).__name__}: {exc}); {_HINTS[fmt]}"
        ) from exc


# --- scikit-learn-like objects: pickle, joblib, skops, Python source --------------------------------


def _load_pickle(path: str) -> Predictor:
    # MLflow's "cloudpickle" files load with plain pickle too: they import cloudpickle themselves.
    with open(path, "rb") as fileobj:
        return _wrap_estimator(pickle.load(fileobj))


def _load_joblib(path: str) -> Predictor:
    import joblib

    return _wrap_estimator(joblib.load(path))


def _load_skops(path: str, trusted_types: Iterable[str]) -> Predictor:
    import skops.io

    allowed = set(trusted_types)
    untrusted = skops.io.get_untrusted_types(file=path)
    refused = sorted(set(untrusted) - allowed)
    if refused:
        raise LoadError(
            f"the skops file uses types that the trusted-types policy does not allow: {', '.join(refused)}; "
            "an administrator must review and allow them before this model can be loaded"
        )
    return _wrap_estimator(skops.io.load(path, trusted=[t for t in untrusted if t in allowed]))


def _load_python_source(path: str) -> Predictor:
    with open(path, encoding="utf-8") as fileobj:
        source = fileobj.read()
    module = types.ModuleType("user_model")
    module.__file__ = path
    sys.modules[module.__name__] = module  # dataclasses and typing look classes' modules up here
    exec(compile(source, path, "exec"), module.__dict__)
    classes = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type) and obj.__module__ == module.__name__ and callable(vars(obj).get("predict"))
    ]
    if len(classes) != 1:
        found = ", ".join(c.__name__ for c in classes) or "none"
        raise LoadError(
            f"a Python model file must define exactly one class with a predict method (found: {found})"
        )
    return _wrap_estimator(classes[0](), framework="python")


def _wrap_estimator(model, framework: str | None = None) -> Predictor:
    if not callable(getattr(model, "predict", None)):
        raise LoadError(
            f"the file holds a {type(model).__name__}, which has no predict method; "
            "save the fitted model itself"
        )
    steps = getattr(model, "steps", None)
    final = steps[-1][1] if isinstance(steps, list) and steps and isinstance(steps[-1], tuple) else model
    classes = getattr(model, "classes_", None)
    if classes is None:
        classes = getattr(final, "classes_", None)
    proba = getattr(model, "predict_proba", None)
    proba = proba if callable(proba) else None
    matrix_path = _matrix_path(model, proba is not None)
    return Predictor(
        framework=framework or _framework_of(final),
        kind=_estimator_kind(model, classes),
        classes=None if classes is None else np.asarray(classes).tolist(),
        predict=model.predict,
        predict_proba=proba,
        matrix_features=matrix_path[0] if matrix_path else None,
        predict_matrix=matrix_path[1] if matrix_path else None,
    )


# scikit-learn estimators whose predict, predict_proba and transform only validate X into a numeric
# array (validate_data / check_array) and compute on it: given a DataFrame of int64 and float64
# columns in the order they were fitted with, they do exactly what they do with the same values as
# an int64/float64 matrix (pandas' own conversion), only without the per-call DataFrame checks,
# which cost several times the arithmetic of a single row. Exact classes only: a subclass may
# read the DataFrame itself.
_MATRIX_SAFE = {
    "sklearn.preprocessing._data": {
        "StandardScaler",
        "MinMaxScaler",
        "MaxAbsScaler",
        "RobustScaler",
    },
    "sklearn.linear_model._logistic": {"LogisticRegression"},
    "sklearn.linear_model._base": {"LinearRegression"},
    "sklearn.linear_model._ridge": {"Ridge", "RidgeClassifier"},
    "sklearn.linear_model._coordinate_descent": {"Lasso", "ElasticNet"},
    "sklearn.tree._classes": {
        "DecisionTreeClassifier",
        "DecisionTreeRegressor",
        "ExtraTreeClassifier",
        "ExtraTreeRegressor",
    },
    "sklearn.ensemble._forest": {
        "RandomForestClassifier",
        "RandomForestRegressor",
        "ExtraTreesClassifier",
        "ExtraTreesRegressor",
    },
    "sklearn.ensemble._gb": {"GradientBoostingClassifier", "GradientBoostingRegressor"},
    "sklearn.naive_bayes": {"GaussianNB"},
    "sklearn.neighbors._classification": {"KNeighborsClassifier"},
    "sklearn.neighbors._regression": {"KNeighborsRegressor"},
}


def _matrix_safe(step) -> bool:
    kind = type(step)
    return kind.__name__ in _MATRIX_SAFE.get(kind.__module__, ())


def _matrix_path(model, has_proba: bool):
    """(feature names, function matrix → (labels, probabilities)) for a fitted scikit-learn
    estimator, or a Pipeline of them, whose every step is in _MATRIX_SAFE; None otherwise.

    The function runs a pipeline's transforms once for both answers, as Pipeline.predict and
    Pipeline.predict_proba each do (transform by transform, then the final step)."""
    steps = getattr(model, "steps", None)
    if steps is not None:
        if type(model).__module__ != "sklearn.pipeline" or type(model).__name__ != "Pipeline":
            return None
        chain = [step for _, step in steps if step is not None and step != "passthrough"]
    else:
        chain = [model]
    if not chain or not all(_matrix_safe(step) for step in chain):
        return None
    names = getattr(chain[0], "feature_names_in_", None)
    if names is None or len(names) != getattr(chain[0], "n_features_in_", -1):
        return None  # fitted on a bare array: the DataFrame path warns about names; keep it
    *transforms, final = chain
    # The steps would say, once per call site, that a matrix has no column names; the names were
    # checked against the model's before the matrix was built (see Predictor.matrix_features).
    warnings.filterwarnings("ignore", message="X does not have valid feature names", category=UserWarning)

    derive = has_proba and type(final).__name__ in _LABELS_FROM_PROBA

    def predict_matrix(matrix: np.ndarray):
        for transform in transforms:
            matrix = transform.transform(matrix)
        if not has_proba:
            return final.predict(matrix), None
        probabilities = final.predict_proba(matrix)
        labels = _labels_from_probabilities(final, probabilities) if derive else None
        if labels is None:
            labels = final.predict(matrix)
        return labels, probabilities

    return tuple(str(name) for name in names), predict_matrix


# Classifiers (of _MATRIX_SAFE) whose predict is the class of the highest predict_proba wherever
# that highest is unique: trees and forests compute it so; the others turn one score per class
# into probabilities with a function that never reverses an order (expit, softmax, division by a
# row's sum), so a strictly highest probability marks the strictly highest score. Where rounding
# makes two probabilities equal, predict itself answers.
_LABELS_FROM_PROBA = {
    "LogisticRegression",
    "DecisionTreeClassifier",
    "ExtraTreeClassifier",
    "RandomForestClassifier",
    "ExtraTreesClassifier",
    "GradientBoostingClassifier",
    "GaussianNB",
    "KNeighborsClassifier",
}


def _labels_from_probabilities(final, probabilities) -> np.ndarray | None:
    """``final.classes_`` at each row's highest probability, or None unless every row has exactly
    one highest (a tie, or a NaN, goes back to predict)."""
    classes = getattr(final, "classes_", None)
    if not isinstance(probabilities, np.ndarray) or not isinstance(classes, np.ndarray):
        return None  # several outputs: a list of matrices, and classes_ a list too
    if probabilities.ndim != 2 or classes.ndim != 1 or probabilities.shape[1] != len(classes):
        return None
    best = probabilities.argmax(axis=1)
    top = probabilities[np.arange(len(best)), best]
    if ((probabilities == top[:, None]).sum(axis=1) != 1).any():
        return None
    return classes.take(best, axis=0)


def _framework_of(model) -> str:
    root = type(model).__module__.split(".", 1)[0]
    return root if root in ("sklearn", "xgboost", "lightgbm", "catboost", "statsmodels") else "python"


def _estimator_kind(model, classes) -> str:
    base = sys.modules.get("sklearn.base")  # already imported if the model is a scikit-learn estimator
    try:
        if base and base.is_classifier(model):
            return "classifier"
        if base and base.is_regressor(model):
            return "regressor"
    except Exception:  # scikit-learn's tags raise for objects that are not its estimators
        pass
    return "classifier" if classes is not None else "unknown"


# --- ONNX ---------------------------------------------------------------------------------------------

_ONNX_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
    "tensor(string)": object,
}


def _load_onnx(path: str) -> Predictor:
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    inputs, outputs = session.get_inputs(), session.get_outputs()

    def run(frame: pd.DataFrame, index: int):
        return session.run([outputs[index].name], _onnx_feed(inputs, frame))[0]

    def predict_proba(frame: pd.DataFrame) -> np.ndarray:
        probabilities = run(frame, 1)
        if not isinstance(probabilities, list):
            return probabilities
        # skl2onnx's ZipMap: one {class: probability} dict per row, keys in the order of the classes.
        if predictor.classes is None and probabilities:
            predictor.classes = list(probabilities[0])
        keys = predictor.classes or []
        rows = [[row[k] for k in keys] for row in probabilities]
        return np.array(rows, dtype=np.float64).reshape(len(rows), len(keys))

    classifier = len(outputs) >= 2
    if classifier:
        kind = "classifier"
    else:
        kind = "regressor" if outputs[0].type in ("tensor(float)", "tensor(double)") else "unknown"
    predictor = Predictor(
        framework="onnx",
        kind=kind,
        classes=_onnx_class_labels(path) if classifier else None,
        predict=lambda frame: run(frame, 0),
        predict_proba=predict_proba if classifier else None,
    )
    return predictor


def _onnx_feed(inputs, frame: pd.DataFrame) -> dict:
    """One input: the whole frame as a matrix. Several: one [n, 1] column per input, by name."""
    if len(inputs) == 1:
        return {inputs[0].name: _column_array(frame, _ONNX_DTYPES.get(inputs[0].type, np.float32))}
    missing = [i.name for i in inputs if i.name not in frame.columns]
    if missing:
        raise ValueError(f"the ONNX model's inputs {missing} are not among the columns {list(frame.columns)}")
    return {
        i.name: _column_array(frame[[i.name]], _ONNX_DTYPES.get(i.type, np.float32)).reshape(-1, 1)
        for i in inputs
    }


def _column_array(frame: pd.DataFrame, dtype) -> np.ndarray:
    if dtype is object:
        return frame.astype(str).to_numpy(dtype=object)
    if np.issubdtype(dtype, np.floating):
        return frame.to_numpy(dtype=dtype, na_value=np.nan)
    return frame.to_numpy(dtype=dtype)


def _onnx_class_labels(path: str) -> list | None:
    """Class labels from the graph's ZipMap or ai.onnx.ml classifier node; None without the onnx package."""
    try:
        import onnx
    except ImportError:
        return None
    graph = onnx.load(path, load_external_data=False).graph
    for node in sorted(graph.node, key=lambda n: n.op_type != "ZipMap"):
        for attribute in node.attribute:
            if attribute.name in ("classlabels_int64s", "classlabels_ints"):
                return list(attribute.ints)
            if attribute.name == "classlabels_strings":
                return [s.decode("utf-8") for s in attribute.strings]
    return None


# --- XGBoost and LightGBM boosters ------------------------------------------------------------------


def _load_xgboost(path: str) -> Predictor:
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(path)
    learner = json.loads(booster.save_config())["learner"]
    objective = learner["objective"]["name"]
    num_class = int(learner.get("learner_model_param", {}).get("num_class", "0") or 0)
    names = booster.feature_names

    def matrix(frame: pd.DataFrame):
        if names:
            frame = frame[_require_columns(frame, names, "XGBoost")]
        categorical = any(isinstance(dtype, pd.CategoricalDtype) for dtype in frame.dtypes)
        return xgboost.DMatrix(frame, enable_categorical=categorical)

    if objective in ("binary:logistic", "binary:logitraw"):
        margin = objective == "binary:logitraw"
        return _binary(
            "xgboost", lambda f: _sigmoid_if(booster.predict(matrix(f), output_margin=margin), margin)
        )
    if objective == "binary:hinge":
        return Predictor(
            framework="xgboost",
            kind="classifier",
            classes=[0, 1],
            predict=lambda f: booster.predict(matrix(f)).astype(int),
        )
    if objective.startswith("multi:"):
        # softmax predicts labels only; its margins give the probabilities.
        def proba(frame):
            return _softmax(booster.predict(matrix(frame), output_margin=True).reshape(len(frame), -1))

        return _multiclass("xgboost", num_class, proba)
    kind = "regressor" if objective.split(":")[0] in ("reg", "count", "survival") else "unknown"
    return Predictor(
        framework="xgboost", kind=kind, classes=None, predict=lambda f: booster.predict(matrix(f))
    )


def _load_lightgbm(path: str) -> Predictor:
    import lightgbm

    booster = lightgbm.Booster(model_file=path)
    header = _lightgbm_header(path)
    objective = header.get("objective", "regression").split(" ")[0]
    names = booster.feature_name()

    def predict_raw(frame: pd.DataFrame) -> np.ndarray:
        # Match columns by name when the model was trained with real names (not Column_0, ...).
        if set(names) <= set(frame.columns):
            frame = frame[names]
        return booster.predict(frame)

    if objective == "binary":
        return _binary("lightgbm", predict_raw)
    if objective in ("multiclass", "multiclassova", "softmax", "multiclass_ova", "ova", "ovr"):
        return _multiclass("lightgbm", int(header.get("num_class", "0")), predict_raw)
    ranking = objective in ("lambdarank", "rank_xendcg", "xendcg", "xe_ndcg", "xe_ndcg_mart", "xendcg_mart")
    return Predictor(
        framework="lightgbm", kind="unknown" if ranking else "regressor", classes=None, predict=predict_raw
    )


def _lightgbm_header(path: str) -> dict:
    """The key=value lines before the first tree (booster.dump_model() would serialise every tree)."""
    header = {}
    with open(path, encoding="utf-8", errors="replace") as fileobj:
        for line in fileobj:
            if line.startswith("Tree="):
                break
            key, sep, value = line.strip().partition("=")
            if sep:
                header[key] = value
    return header


def _binary(framework: str, positive: Callable) -> Predictor:
    """A binary classifier from a function giving P(class 1); labels are 0/1 at the 0.5 threshold."""
    return Predictor(
        framework=framework,
        kind="classifier",
        classes=[0, 1],
        predict=lambda frame: (np.asarray(positive(frame)) > 0.5).astype(int),
        predict_proba=lambda frame: _two_columns(np.asarray(positive(frame))),
    )


def _multiclass(framework: str, num_class: int, proba: Callable) -> Predictor:
    return Predictor(
        framework=framework,
        kind="classifier",
        classes=list(range(num_class)) if num_class else None,
        predict=lambda frame: np.asarray(proba(frame)).argmax(axis=1),
        predict_proba=proba,
    )


def _two_columns(positive: np.ndarray) -> np.ndarray:
    return np.column_stack([1.0 - positive, positive])


def _sigmoid_if(values: np.ndarray, apply: bool) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-values)) if apply else values


def _softmax(margins: np.ndarray) -> np.ndarray:
    shifted = np.exp(margins - margins.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _require_columns(frame: pd.DataFrame, names: list[str], what: str) -> list[str]:
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise ValueError(
            f"the {what} model's features {missing} are not among the columns {list(frame.columns)}"
        )
    return names


# --- MLflow model directories, zipped ---------------------------------------------------------------


def _load_mlflow_zip(path: str, root: str) -> Predictor:
    import yaml

    with tempfile.TemporaryDirectory(prefix="mlflow-") as workdir:
        safe_extract(path, workdir)
        model_dir = _inside(workdir, root or ".")
        mlmodel = os.path.join(model_dir, "MLmodel")
        if not os.path.isfile(mlmodel):
            raise LoadError(f"the zip has no MLmodel file at '{root}MLmodel'")
        with open(mlmodel, encoding="utf-8") as fileobj:
            spec = yaml.safe_load(fileobj)
        flavors = spec.get("flavors") if isinstance(spec, dict) else None
        if not isinstance(flavors, dict) or not flavors:
            raise LoadError("the MLmodel file lists no flavors")
        # Everything is read while the extracted files exist (ONNX Runtime reads the file up front).
        return _load_mlflow_flavor(model_dir, flavors)


def _load_mlflow_flavor(model_dir: str, flavors: dict) -> Predictor:
    sklearn_flavor = flavors.get("sklearn")
    if isinstance(sklearn_flavor, dict) and sklearn_flavor.get("pickled_model"):
        serialization = sklearn_flavor.get("serialization_format", "cloudpickle")
        if serialization not in ("pickle", "cloudpickle"):
            raise LoadError(
                f"MLflow sklearn models saved with serialization_format '{serialization}' are not "
                "supported; save them with 'cloudpickle' or 'pickle'"
            )
        return _load_pickle(_inside(model_dir, sklearn_flavor["pickled_model"]))
    pyfunc = flavors.get("python_function")
    if isinstance(pyfunc, dict) and pyfunc.get("loader_module") == "mlflow.sklearn":
        relative = pyfunc.get("model_path") or pyfunc.get("data")
        if relative:
            return _load_pickle(_inside(model_dir, relative))
    onnx_flavor = flavors.get("onnx")
    if isinstance(onnx_flavor, dict) and onnx_flavor.get("data"):
        return _load_onnx(_inside(model_dir, onnx_flavor["data"]))
    described = [
        f"{name} (loader_module {conf.get('loader_module')})"
        if isinstance(conf, dict) and conf.get("loader_module")
        else str(name)
        for name, conf in flavors.items()
    ]
    raise LoadError(
        f"unsupported MLflow flavor(s): {', '.join(described)}; supported: sklearn, onnx, "
        "python_function with loader_module mlflow.sklearn"
    )


def safe_extract(path: str, destination: str, limit: int = MAX_EXTRACT_BYTES) -> None:
    """Extract a zip only if no member is absolute, climbs out with '..' or is a symlink, and the whole
    expands to at most ``limit`` bytes. Every member is checked before anything is written."""
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        total = 0
        for info in members:
            name = info.filename
            if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
                raise LoadError(f"refusing to extract the zip: member '{name}' has an absolute path")
            if ".." in re.split(r"[/\\]", name):
                raise LoadError(f"refusing to extract the zip: member '{name}' climbs out of it with '..'")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise LoadError(f"refusing to extract the zip: member '{name}' is a symbolic link")
            total += info.file_size  # zipfile never inflates a member past its declared size
            if total > limit:
                raise LoadError(
                    f"refusing to extract the zip: it expands to more than {limit // 1024**2} MB "
                    f"(limit reached at member '{name}')"
                )
        archive.extractall(destination)


def _inside(base: str, relative: str) -> str:
    """``relative`` joined to ``base``, refusing anything that resolves outside ``base``."""
    base = os.path.realpath(base)
    target = os.path.realpath(os.path.join(base, relative))
    if os.path.commonpath([base, target]) != base:
        raise LoadError(f"the MLmodel file refers to '{relative}', which is outside the model directory")
    return target
