"""Shared by the client's tests (a unique module name: conftest.py is not importable reliably)."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CREDIT_CSV = PROJECT_ROOT / ".." / "shared" / "data" / "credit" / "credit_data.csv"
PASSWORD = "client-tests-password"
TARGET = "Status"


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


def make_user(username: str, team_name: str):
    from apps.accounts.roles import Role
    from apps.accounts.services import token_create, user_create

    user = user_create(username=username, role=Role.DATA_SCIENTIST, team_name=team_name, password=PASSWORD)
    return token_create(user=user, name="client-tests")
