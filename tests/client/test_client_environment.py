import importlib.metadata as metadata
import sys

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from modelyard.environment import (
    _runtime_requirements,
    capture,
    model_modules,
    python_version,
    requirements_text,
    resolve_requirements,
)


@pytest.fixture(scope="module")
def pipeline():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    return Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())]).fit(X, y)


def test_captures_exact_versions_of_the_model_and_its_requirements(pipeline):
    env = capture(pipeline)
    packages = env["packages"]
    assert packages["scikit-learn"] == metadata.version("scikit-learn")
    # numpy and scipy are not classes of the model: they come from scikit-learn's Requires-Dist.
    assert packages["numpy"] == metadata.version("numpy")
    assert packages["scipy"] == metadata.version("scipy")
    assert packages["joblib"] == metadata.version("joblib")
    assert "threadpoolctl" in packages


def test_python_version_matches_the_interpreter(pipeline):
    major, minor, micro = sys.version_info[:3]
    assert capture(pipeline)["python"] == python_version() == f"{major}.{minor}.{micro}"


def test_extras_are_not_followed(pipeline):
    # scipy[test] requires pytest and hypothesis, both installed here; an extra is not a need.
    packages = capture(pipeline)["packages"]
    assert "pytest" not in packages
    assert "hypothesis" not in packages
    assert "Django" not in packages


def test_requirements_text_pins_every_package(pipeline):
    env = capture(pipeline)
    lines = requirements_text(env).splitlines()
    assert f"scikit-learn=={metadata.version('scikit-learn')}" in lines
    assert len(lines) == len(env["packages"])
    assert all("==" in line for line in lines)


def test_walks_nested_estimators_and_functions():
    inner = ColumnTransformer([("log", FunctionTransformer(np.log1p), [0]), ("keep", "passthrough", [1])])
    model = Pipeline([("prepare", inner), ("model", LogisticRegression())])
    assert {"sklearn", "numpy"} <= model_modules(model)


class HomeMadeClassifier(LogisticRegression):
    """A subclass defined outside any installed distribution still needs scikit-learn."""


def test_subclass_in_user_code_still_records_its_base_library():
    modules = model_modules(HomeMadeClassifier())
    assert "sklearn" in modules
    assert capture(HomeMadeClassifier())["packages"]["scikit-learn"] == metadata.version("scikit-learn")


def test_plain_python_objects_need_nothing():
    assert capture({"weights": [1.0, 2.0]})["packages"] == {}


def test_serialiser_can_be_added():
    assert capture({"weights": [1.0]}, also=["joblib"])["packages"]["joblib"] == metadata.version("joblib")


def test_missing_distributions_are_skipped():
    assert resolve_requirements(["no-such-distribution-xyz"]) == {}


class _FakeDist:
    requires = [
        "numpy>=1.0",
        'pytest; extra == "test"',
        'ancient-thing; python_version < "3"',
        f'here-thing; sys_platform == "{sys.platform}"',
        "not a requirement !!",
    ]


def test_markers_are_evaluated_for_this_interpreter():
    assert _runtime_requirements(_FakeDist()) == ["numpy", "here-thing"]
