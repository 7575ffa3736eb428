"""The benchmark's model and data, shared by run.py (Modelyard's venv) and mlflow_model.py (MLflow's):
a StandardScaler + LogisticRegression on 20 numeric features of the Lending Club 2016 Q1 loans in
../shared/data/credit (17 numeric columns as they are, and term, sub-grade and employment length
written as numbers). Needs pandas and scikit-learn only."""

from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "credit" / "lending_club_2016q1.csv"
TARGET = "Class"
NUMERIC = [
    "funded_amnt",
    "int_rate",
    "annual_inc",
    "delinq_2yrs",
    "inq_last_6mths",
    "revol_util",
    "acc_now_delinq",
    "open_il_6m",
    "open_il_12m",
    "open_il_24m",
    "total_bal_il",
    "all_util",
    "inq_fi",
    "inq_last_12m",
    "delinq_amnt",
    "num_il_tl",
    "total_il_high_credit_limit",
]
FEATURES = [*NUMERIC, "term_months", "sub_grade_rank", "emp_years"]


def load_frame(path: Path = DATA) -> pd.DataFrame:
    """The 20 features and the label ("good"/"bad"), one row per loan."""
    raw = pd.read_csv(path)
    frame = raw[NUMERIC].copy()
    frame["term_months"] = raw["term"].str.removeprefix("term_").astype(int)
    # A1 → 0 … G5 → 34: the grade letter, then its five steps
    frame["sub_grade_rank"] = (
        (raw["sub_grade"].str[0].map(ord) - ord("A")) * 5 + raw["sub_grade"].str[1].astype(int) - 1
    )
    years = raw["emp_length"].str.removeprefix("emp_")
    frame["emp_years"] = years.replace({"lt_1": "0", "ge_10": "10", "unk": "-1"}).astype(int)
    frame[TARGET] = raw[TARGET]
    return frame


def train(frame: pd.DataFrame):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(
        frame[FEATURES], frame[TARGET]
    )
