"""Real credit data with a real model's predictions, split at random into two windows."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tests.unit.conftest import shared_file


def _scored(frame: pd.DataFrame, target: str, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    """The frame with a logistic regression's "__prediction__" and "__score__" (P of the second class)."""
    model = make_pipeline(
        make_column_transformer(
            (make_pipeline(SimpleImputer(), StandardScaler()), numeric),
            (
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
                ),
                categorical,
            ),
        ),
        LogisticRegression(max_iter=2000),
    ).fit(frame[numeric + categorical], frame[target])
    frame = frame.copy()
    frame["__prediction__"] = model.predict(frame[numeric + categorical])
    frame["__score__"] = model.predict_proba(frame[numeric + categorical])[:, 1]
    return frame


def schema(numeric: list[str], categorical: list[str]) -> list[dict]:
    return [{"name": n, "type": "number"} for n in numeric] + [
        {"name": n, "type": "categorical"} for n in categorical
    ]


CREDIT_NUMERIC = ["Seniority", "Time", "Age", "Expenses", "Income", "Assets", "Debt", "Amount", "Price"]
CREDIT_CATEGORICAL = ["Home", "Marital", "Records", "Job"]
LENDING_NUMERIC = [
    "funded_amnt",
    "int_rate",
    "annual_inc",
    "delinq_2yrs",
    "inq_last_6mths",
    "revol_util",
    "open_il_12m",
    "total_bal_il",
    "all_util",
    "inq_last_12m",
    "num_il_tl",
]
LENDING_CATEGORICAL = ["term", "sub_grade", "addr_state", "verification_status", "emp_length"]


@pytest.fixture(scope="session")
def credit():
    frame = pd.read_csv(shared_file("credit", "credit_data.csv"))
    return _scored(frame, "Status", CREDIT_NUMERIC, CREDIT_CATEGORICAL)


@pytest.fixture(scope="session")
def lending():
    frame = pd.read_csv(shared_file("credit", "lending_club_2016q1.csv"))
    return _scored(frame, "Class", LENDING_NUMERIC, LENDING_CATEGORICAL)


def profile_edges(frame: pd.DataFrame, numeric: list[str]) -> dict[str, list[float]]:
    """Bin edges as the registered reference's profile gives them: quantiles at 20/40/60/80 % of all
    rows, fixed before any window is drawn."""
    return {
        n: np.unique(np.nanquantile(frame[n].to_numpy(dtype=float), [0.2, 0.4, 0.6, 0.8])).tolist()
        for n in numeric
    }


def split(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two halves of the same rows at random: a window with nothing changed."""
    order = np.random.default_rng(seed).permutation(len(frame))
    half = len(frame) // 2
    return frame.iloc[order[:half]].reset_index(drop=True), frame.iloc[order[half:]].reset_index(drop=True)
