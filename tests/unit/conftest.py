"""Fixtures for the Django-free unit tests: small real models and the shared real data sets."""

import sys
from pathlib import Path

import numpy as np
import pytest

from tests.shared_data import shared_path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# So that `apps` imports when pytest runs without the Django plugin (-p no:django).
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))


def shared_file(*parts: str) -> Path:
    """A file under ../shared/data, or a skip saying which one is missing."""
    return shared_path(*parts)


@pytest.fixture(scope="session")
def xy():
    """A tiny, learnable binary problem: 60 rows, 3 features."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    return X, y


@pytest.fixture(scope="session")
def logreg(xy):
    from sklearn.linear_model import LogisticRegression

    X, y = xy
    return LogisticRegression().fit(X, y)


@pytest.fixture(scope="session")
def credit_path():
    return shared_file("credit", "credit_data.csv")


@pytest.fixture(scope="session")
def reviews_path():
    return shared_file("reviews", "food_reviews_train.csv")
