"""Small real models trained on the shared data sets, for the demo. No Django here."""

import importlib.metadata
import platform
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

CREDIT_CATEGORICAL = ["Home", "Marital", "Records", "Job"]
CREDIT_NUMERIC = ["Seniority", "Time", "Age", "Expenses", "Income", "Assets", "Debt", "Amount", "Price"]


@dataclass
class Trained:
    model: object
    reference: pd.DataFrame  # training rows, with the label column
    holdout: pd.DataFrame
    target: str
    metrics: dict


def environment(*distributions: str) -> dict:
    return {
        "python": platform.python_version(),
        "packages": {d: importlib.metadata.version(d) for d in distributions},
    }


def train_credit(data_dir: Path, seed: int = 7) -> Trained:
    frame = pd.read_csv(data_dir / "credit" / "credit_data.csv")
    train, holdout = train_test_split(frame, test_size=0.3, random_state=seed, stratify=frame["Status"])
    features = ColumnTransformer(
        [
            (
                "num",
                Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]),
                CREDIT_NUMERIC,
            ),
            (
                "cat",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent")),
                        ("onehot", OneHotEncoder(handle_unknown="ignore")),
                    ]
                ),
                CREDIT_CATEGORICAL,
            ),
        ]
    )
    model = Pipeline([("features", features), ("classify", LogisticRegression(max_iter=1000))])
    model.fit(train[CREDIT_NUMERIC + CREDIT_CATEGORICAL], train["Status"])
    scores = model.predict_proba(holdout[CREDIT_NUMERIC + CREDIT_CATEGORICAL])[:, 1]
    metrics = {
        "auc": float(roc_auc_score(holdout["Status"] == model.classes_[1], scores)),
        "accuracy": float(
            accuracy_score(holdout["Status"], model.predict(holdout[CREDIT_NUMERIC + CREDIT_CATEGORICAL]))
        ),
    }
    return Trained(model, train, holdout, "Status", metrics)


def train_credit_boosted(data_dir: Path, seed: int = 7) -> Trained:
    """A second credit model: gradient boosting on the same split (handles missing values itself)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    base = train_credit(data_dir, seed)
    features = CREDIT_NUMERIC + CREDIT_CATEGORICAL
    encode = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CREDIT_CATEGORICAL)],
        remainder="passthrough",
    )
    model = Pipeline([("features", encode), ("classify", HistGradientBoostingClassifier(max_iter=150))])
    model.fit(base.reference[features], base.reference["Status"])
    scores = model.predict_proba(base.holdout[features])[:, 1]
    metrics = {
        "auc": float(roc_auc_score(base.holdout["Status"] == model.classes_[1], scores)),
        "accuracy": float(accuracy_score(base.holdout["Status"], model.predict(base.holdout[features]))),
    }
    return Trained(model, base.reference, base.holdout, "Status", metrics)


def train_reviews(data_dir: Path) -> Trained:
    train = pd.read_csv(data_dir / "reviews" / "food_reviews_train.csv")
    test = pd.read_csv(data_dir / "reviews" / "food_reviews_test.csv")
    model = Pipeline(
        [
            (
                "features",
                ColumnTransformer([("tfidf", TfidfVectorizer(min_df=2, max_features=20000), "review")]),
            ),
            ("classify", LogisticRegression(max_iter=1000)),
        ]
    )
    model.fit(train[["review"]], train["score"])
    scores = model.predict_proba(test[["review"]])[:, 1]
    metrics = {
        "auc": float(roc_auc_score(test["score"] == model.classes_[1], scores)),
        "accuracy": float(accuracy_score(test["score"], model.predict(test[["review"]]))),
    }
    return Trained(model, train[["review", "score"]], test, "score", metrics)
