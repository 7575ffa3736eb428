"""Fixtures for the client's tests. Unit tests need no server; live tests start Django's
``live_server`` and talk to it over real HTTP, exactly as a data scientist's laptop would."""

from pathlib import Path
from types import SimpleNamespace

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CREDIT_CSV = PROJECT_ROOT / ".." / "shared" / "data" / "credit" / "credit_data.csv"
PASSWORD = "client-tests-password"
TARGET = "Status"


@pytest.fixture(autouse=True)
def isolated_config(tmp_path, monkeypatch):
    """Never read or write the real ~/.config/modelyard, nor a token from the caller's shell."""
    path = tmp_path / "modelyard-config" / "config.json"
    monkeypatch.setenv("MODELYARD_CONFIG", str(path))
    monkeypatch.delenv("MODELYARD_URL", raising=False)
    monkeypatch.delenv("MODELYARD_TOKEN", raising=False)
    return path


@pytest.fixture
def credit_frame():
    """200 rows of the credit data set, NaNs included (the pipeline imputes them)."""
    if not CREDIT_CSV.exists():
        pytest.skip(f"credit data not found at {CREDIT_CSV.resolve()}; it lives in the shared data folder")
    pd = pytest.importorskip("pandas")
    return pd.read_csv(CREDIT_CSV).sample(200, random_state=7).reset_index(drop=True)


def train_credit_pipeline(frame):
    """A realistic sklearn model: impute + scale numbers, impute + one-hot categories, logistic."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    features = frame.drop(columns=[TARGET])
    numeric = [c for c in features.columns if features[c].dtype.kind in "if"]
    categorical = [c for c in features.columns if c not in numeric]
    prepare = ColumnTransformer(
        [
            ("num", Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]), numeric),
            (
                "cat",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent")),
                        ("onehot", OneHotEncoder(handle_unknown="ignore")),
                    ]
                ),
                categorical,
            ),
        ]
    )
    model = Pipeline([("prepare", prepare), ("classify", LogisticRegression(max_iter=1000))])
    return model.fit(features, frame[TARGET])


@pytest.fixture
def credit_model(credit_frame):
    return train_credit_pipeline(credit_frame)


def make_user(username: str, team_name: str):
    from apps.accounts.roles import Role
    from apps.accounts.services import token_create, user_create

    user = user_create(username=username, role=Role.DATA_SCIENTIST, team_name=team_name, password=PASSWORD)
    return token_create(user=user, name="client-tests")


@pytest.fixture
def scientist(live_server):
    """A data scientist of team Credit Risk, with a token, on a live server."""
    token = make_user("dana", "Credit Risk")
    return SimpleNamespace(
        url=live_server.url, token=token, username="dana", password=PASSWORD, team="credit-risk"
    )
