"""The matrix fast path (Predictor.matrix_features, app.plain_matrix) gives exactly, bit for bit,
what the DataFrame path gives, on the model zoo's formats and on every estimator it accepts; models
it cannot prove that for keep the DataFrame path."""

import json
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from apps.packaging.sandbox.loaders import load_model
from apps.serving.inference.app import _run_model, plain_matrix
from tests import model_zoo
from tests.unit.conftest import shared_file

FEATURES = model_zoo.FEATURES


class Tweaked(LogisticRegression):
    """A subclass may read the DataFrame itself: the fast path never assumes it does not."""


SCHEMA = {"features": [{"name": name, "type": "number"} for name in FEATURES]}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    credit = pd.read_csv(shared_file("credit", "credit_data.csv"))
    return model_zoo.training_frame(credit)


def records_of(frame: pd.DataFrame, count: int, *, floats: bool) -> list[dict]:
    """Rows as a client sends them in JSON: the integer columns as ints, or (``floats``) with a
    float among them, so that both int64 and float64 matrices are covered."""
    rows = frame[FEATURES].head(count).to_dict(orient="records")
    if floats:
        for row in rows:
            row["Amount"] = row["Amount"] + 0.25
    return json.loads(json.dumps(rows))


def frame_path(estimator, records: list[dict]) -> tuple[list, list | None]:
    """What the service computed before the fast path: one DataFrame, predict and predict_proba."""
    data = pd.DataFrame({name: [record.get(name) for record in records] for name in FEATURES})
    proba = getattr(estimator, "predict_proba", None)
    predictions = np.asarray(estimator.predict(data))
    return predictions.tolist(), None if proba is None else np.asarray(proba(data)).tolist()


def saved(estimator, tmp_path, name="model.joblib") -> str:
    path = tmp_path / name
    joblib.dump(estimator, path)
    return str(path)


def zoo_estimators(frame: pd.DataFrame) -> dict:
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.linear_model import LinearRegression, Ridge
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    X, y = frame[FEATURES], frame["Status"]
    amount = frame["Amount"].astype(float)
    classifiers = {
        "logistic pipeline": make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
        "bare logistic": LogisticRegression(max_iter=2000),
        "tree": DecisionTreeClassifier(max_depth=4, random_state=0),
        "forest": make_pipeline(MinMaxScaler(), RandomForestClassifier(n_estimators=15, random_state=0)),
        "extra trees": ExtraTreesClassifier(n_estimators=10, random_state=0),
        "boosting": GradientBoostingClassifier(n_estimators=15, random_state=0),
        "neighbours": make_pipeline(RobustScaler(), KNeighborsClassifier(5)),
        "naive bayes": GaussianNB(),
    }
    regressors = {
        "linear regression": make_pipeline(StandardScaler(), LinearRegression()),
        "ridge": Ridge(),
        "forest regressor": RandomForestRegressor(n_estimators=10, random_state=0),
        "boosting regressor": GradientBoostingRegressor(n_estimators=10, random_state=0),
    }
    fitted = {name: model.fit(X, y) for name, model in classifiers.items()}
    three_classes = pd.qcut(frame["Price"], 3, labels=["low", "mid", "high"]).astype(str)
    fitted["multiclass logistic"] = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(
        X, three_classes
    )
    fitted["multiclass forest"] = RandomForestClassifier(n_estimators=10, random_state=0).fit(
        X, three_classes
    )
    fitted.update({name: model.fit(X, amount) for name, model in regressors.items()})
    return fitted


@pytest.mark.parametrize("count", [1, 7, 300])
@pytest.mark.parametrize("floats", [False, True])
def test_every_accepted_estimator_answers_bit_for_bit_as_with_a_frame(frame, tmp_path, count, floats):
    records = records_of(frame, count, floats=floats)
    for name, estimator in zoo_estimators(frame).items():
        model = load_model(saved(estimator, tmp_path), "joblib")
        assert model.matrix_features == tuple(FEATURES), name
        assert _run_model(model, records, SCHEMA) == frame_path(estimator, records), name


@pytest.mark.parametrize("maker", ["sklearn_pickle", "sklearn_joblib", "sklearn_skops", "mlflow_zip"])
def test_the_model_zoo_formats_take_the_fast_path_with_identical_answers(frame, tmp_path, maker):
    filename, content = getattr(model_zoo, maker)(frame)
    path = tmp_path / filename
    path.write_bytes(content)
    formats = {"pkl": "pickle", "joblib": "joblib", "skops": "skops", "zip": "mlflow_zip"}
    fmt = formats[filename.rsplit(".", 1)[-1]]
    trusted = ()
    if fmt == "skops":
        import skops.io

        trusted = skops.io.get_untrusted_types(file=str(path))
    model = load_model(str(path), fmt, trusted_types=trusted, mlflow_root="model/")
    estimator = model_zoo._logistic(frame)  # the same training, so the same fitted numbers
    records = records_of(frame, 25, floats=True)

    assert model.matrix_features == tuple(FEATURES)
    assert _run_model(model, records, SCHEMA) == frame_path(estimator, records)


def test_models_it_cannot_vouch_for_keep_the_frame_path(frame, tmp_path):
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = frame[FEATURES], frame["Status"]
    by_name = make_pipeline(
        ColumnTransformer([("scale", StandardScaler(), ["Age", "Amount"])]), LogisticRegression()
    ).fit(X, y)
    on_array = make_pipeline(StandardScaler(), LogisticRegression()).fit(X.to_numpy(), y)
    for estimator in (by_name, Tweaked().fit(X, y), on_array):
        model = load_model(_pickled(estimator, tmp_path), "pickle")
        assert model.matrix_features is None


def _pickled(estimator, tmp_path) -> str:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(estimator))
    return str(path)


def test_values_that_are_not_plain_numbers_fall_back_to_the_frame(frame, tmp_path):
    from sklearn.ensemble import HistGradientBoostingClassifier

    estimator = HistGradientBoostingClassifier(max_iter=10).fit(frame[FEATURES], frame["Status"])
    records = records_of(frame, 3, floats=False)
    for bad in (None, True, "12", 2**60):
        assert plain_matrix([{**records[0], "Age": bad}], tuple(FEATURES)) is None
    assert plain_matrix(records, tuple(FEATURES)).dtype == np.int64
    assert plain_matrix(records, tuple(FEATURES)).flags["F_CONTIGUOUS"]

    # A model without the fast path, and a null where the schema allows one: the frame path still.
    model = load_model(saved(estimator, tmp_path), "joblib")
    with_null = [{**records[0], "Age": None}, *records[1:]]
    assert model.matrix_features is None
    assert _run_model(model, with_null, SCHEMA) == frame_path(estimator, with_null)


def test_a_schema_in_another_order_than_the_model_keeps_the_frame_path(frame, tmp_path):
    estimator = LogisticRegression(max_iter=2000).fit(frame[FEATURES], frame["Status"])
    model = load_model(saved(estimator, tmp_path), "joblib")
    reordered = {"features": list(reversed(SCHEMA["features"]))}
    with pytest.raises(ValueError, match="feature names"):
        _run_model(model, records_of(frame, 2, floats=False), reordered)  # scikit-learn's own refusal


def test_the_fast_path_leaves_no_warning_behind(frame, tmp_path, recwarn):
    estimator = LogisticRegression(max_iter=2000).fit(frame[FEATURES], frame["Status"])
    model = load_model(saved(estimator, tmp_path), "joblib")
    _run_model(model, records_of(frame, 2, floats=True), SCHEMA)
    assert not [w for w in recwarn if "feature names" in str(w.message)]


def test_tied_probabilities_leave_the_label_to_predict(tmp_path):
    from sklearn.tree import DecisionTreeClassifier

    # Two identical applications, one good and one bad: their leaf says 50/50.
    X = pd.DataFrame({"a": [1.0, 1.0, 5.0, 6.0], "b": [2.0, 2.0, 7.0, 8.0]})
    estimator = DecisionTreeClassifier(random_state=0).fit(X, ["bad", "good", "good", "good"])
    model = load_model(saved(estimator, tmp_path), "joblib")
    schema = {"features": [{"name": "a", "type": "number"}, {"name": "b", "type": "number"}]}
    records = [{"a": 1.0, "b": 2.0}, {"a": 6.0, "b": 8.0}]

    predictions, probabilities = _run_model(model, records, schema)
    assert probabilities[0] == [0.5, 0.5]
    assert predictions == estimator.predict(pd.DataFrame(records)).tolist()
