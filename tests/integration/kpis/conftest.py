"""A credit model sponsored by bea, its endpoint and two deployments (v1, then v2 from day 3), and
prediction-log records made of real rows of ../shared/data/credit/credit_data.csv scored by the
tests' real model, stored through apps.serving.ingest like the log buffer stores them."""

import io
import uuid
from datetime import UTC, datetime, timedelta

import joblib
import numpy as np
import pandas as pd
import pytest

from apps.accounts.roles import Role
from apps.demo.training import CREDIT_CATEGORICAL, CREDIT_NUMERIC
from apps.deployments.models import Deployment, Endpoint, Environment
from apps.packaging.models import PackageBuild
from apps.registry.datasets import infer_output_schema, infer_schema
from apps.registry.models import ModelVersion, RegisteredModel

FEATURES = CREDIT_NUMERIC + CREDIT_CATEGORICAL
DAY1 = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday, long complete
DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY1 + timedelta(days=2)


@pytest.fixture(scope="session")
def scorer(credit_model_bytes):
    return joblib.load(io.BytesIO(credit_model_bytes))


@pytest.fixture(scope="session")
def scored(credit_frame, scorer) -> pd.DataFrame:
    """Credit rows (shuffled, fixed seed) with the model's prediction and P(good)."""
    frame = credit_frame.sample(frac=1.0, random_state=5).reset_index(drop=True)
    frame["prediction"] = scorer.predict(frame[FEATURES])
    frame["p_good"] = scorer.predict_proba(frame[FEATURES])[:, list(scorer.classes_).index("good")]
    frame["proba"] = [list(map(float, p)) for p in scorer.predict_proba(frame[FEATURES])]
    return frame


def _plain(value):
    if isinstance(value, float) and np.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def records(rows: pd.DataFrame, deployment: Deployment, day: datetime, role: str | None = None) -> list[dict]:
    """What the inference service appends for each row, spread over ``day``; request ids are kept
    on the frame (``request_id``) for the outcomes."""
    step = timedelta(seconds=86_000 / max(len(rows), 1))
    out = []
    for i, (_, r) in enumerate(rows.iterrows()):
        out.append(
            {
                "request_id": r["request_id"],
                "row": 0,
                "endpoint": deployment.endpoint.name,
                "environment": deployment.endpoint.environment.name,
                "deployment_id": deployment.pk,
                "version_id": deployment.version_id,
                "role": role or deployment.role,
                "inputs": {k: _plain(r[k]) for k in FEATURES},
                "prediction": str(r["prediction"]),
                "probabilities": r["proba"],
                "latency_ms": 2.0,
                "ts": (day + step * i).isoformat(),
            }
        )
    return out


def with_ids(rows: pd.DataFrame) -> pd.DataFrame:
    rows = rows.copy()
    rows["request_id"] = [uuid.uuid4().hex[:16] for _ in range(len(rows))]
    return rows


def outcome_records(rows: pd.DataFrame, endpoint="credit-risk") -> list[dict]:
    return [
        {"endpoint": endpoint, "request_id": r, "value": s}
        for r, s in zip(rows["request_id"], rows["Status"], strict=True)
    ]


def _version(model, number, frame):
    return ModelVersion.objects.create(
        model=model,
        number=number,
        artifact=f"artifacts/credit-v{number}.joblib",
        artifact_filename="model.joblib",
        artifact_sha256=uuid.uuid4().hex * 2,
        artifact_size=1000,
        framework="sklearn",
        format="joblib",
        safe_format=False,
        input_schema=infer_schema(frame[FEATURES]),
        output_schema=infer_output_schema(frame["Status"], "binary_classification"),
        schema_source="inferred",
    )


def _deployment(version, endpoint, live_at, role="primary", retired_at=None):
    package = PackageBuild.objects.create(
        version=version,
        inputs_digest=uuid.uuid4().hex,
        status=PackageBuild.Status.SUCCEEDED,
        validation_passed=True,
    )
    return Deployment.objects.create(
        endpoint=endpoint,
        version=version,
        package=package,
        strategy="direct" if role == "primary" else role,
        role=role,
        status=Deployment.Status.RETIRED if retired_at else Deployment.Status.LIVE,
        live_at=live_at,
        retired_at=retired_at,
    )


@pytest.fixture
def people(make_user):
    return {
        "dana": make_user("dana"),
        "mark": make_user("mark", team="Customer Insights"),
        "bea": make_user("bea", Role.BUSINESS_OWNER, team=None),
        "ivan": make_user("ivan", Role.IT_OPERATOR, team=None),
    }


@pytest.fixture
def world(people, credit_frame):
    """credit-default (Credit Risk, sponsored by bea) on credit-risk in production: v1 live from
    DAY1 to DAY3, v2 from DAY3; and Customer Insights' churn model, not bea's, live on its own
    ``churn`` endpoint."""
    bea = people["bea"]
    bea.email = "bea@example.com"
    bea.save(update_fields=["email"])
    team = people["dana"].teams.get()
    model = RegisteredModel.objects.create(
        team=team, name="credit-default", task_type="binary_classification", business_owner=bea
    )
    production = Environment.objects.get(name="production")
    endpoint = Endpoint.objects.create(environment=production, name="credit-risk", team=team)
    v1, v2 = _version(model, 1, credit_frame), _version(model, 2, credit_frame)
    d1 = _deployment(v1, endpoint, DAY1 - timedelta(days=7), retired_at=DAY3)
    d2 = _deployment(v2, endpoint, DAY3)
    other_team = people["mark"].teams.get()
    churn = RegisteredModel.objects.create(team=other_team, name="churn", task_type="binary_classification")
    churn_endpoint = Endpoint.objects.create(environment=production, name="churn", team=other_team)
    churn_live = _deployment(_version(churn, 1, credit_frame), churn_endpoint, DAY1 - timedelta(days=7))
    return {
        "model": model,
        "endpoint": endpoint,
        "v1": d1,
        "v2": d2,
        "churn": churn,
        "churn_live": churn_live,
        **people,
    }


APPROVAL = {"condition": 'prediction == "good"'}
DEFAULT_AMONG_APPROVED = {"among": 'prediction == "good"', "condition": 'outcome == "bad"'}
PROFIT = {"by_outcome": {"good": "0.1 * inputs.Amount", "bad": "-inputs.Amount"}}
