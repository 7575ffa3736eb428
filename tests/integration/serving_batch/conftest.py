"""A credit model live behind ``credit-risk`` in staging, and input files to score with it."""

import io

import pandas as pd
import pytest
from django.contrib.auth import get_user_model

from apps.deployments.models import Deployment
from apps.deployments.services import deployment_request, deployment_rollout_run
from tests import model_zoo

ROWS = 1_250
NULL_ROW, OUT_OF_RANGE_ROW = 7, 1_100


@pytest.fixture
def live_endpoint(packaged_version):
    """dana's packaged credit model, rolled out in-process as the primary of credit-risk (staging)."""
    version = packaged_version()
    dana = get_user_model().objects.get(username="dana")
    deployment = deployment_request(user=dana, version=version, endpoint="credit-risk", environment="staging")
    deployment_rollout_run(deployment=Deployment.objects.get(pk=deployment.pk), step=lambda p, m: None)
    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.LIVE
    return deployment


@pytest.fixture
def batch_input(credit_frame) -> pd.DataFrame:
    """1,250 rows the model was trained on, an id column first, one row with a missing Age (not
    nullable) and one with an Amount above the schema's maximum."""
    frame = model_zoo.training_frame(credit_frame)
    rows = frame.sample(ROWS, replace=True, random_state=5).reset_index(drop=True)
    rows = rows[model_zoo.FEATURES].astype({"Age": "float64", "Amount": "float64"})
    rows.loc[NULL_ROW, "Age"] = float("nan")
    rows.loc[OUT_OF_RANGE_ROW, "Amount"] = 10_000_000.0
    rows.insert(0, "application_id", [f"app-{i:05d}" for i in range(ROWS)])
    return rows


def upload(name: str, content: bytes) -> io.BytesIO:
    handle = io.BytesIO(content)
    handle.name = name
    return handle
