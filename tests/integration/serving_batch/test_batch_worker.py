"""A multi-chunk CSV scored end to end through the API by a real Celery worker."""

import io

import joblib
import numpy as np
import pandas as pd
import pytest
from django.contrib.auth import get_user_model

from apps.jobs.models import Job
from apps.serving.models import BatchJob, Prediction, RejectedRequest
from apps.serving.tasks import score_batch_chunk
from tests import model_zoo
from tests.conftest import wait_for
from tests.integration.serving_batch.conftest import NULL_ROW, OUT_OF_RANGE_ROW, ROWS, upload

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_a_csv_is_scored_in_chunks_logged_once_and_downloaded_in_order(
    live_endpoint, batch_input, api_for, celery_worker
):
    dana = api_for(get_user_model().objects.get(username="dana"))
    # The endpoint refuses Amounts outside the schema's range, so the planted one is refused too
    # (by default it would be scored: test_batch_api.py).
    opted = dana.patch(
        f"/api/v1/endpoints/{live_endpoint.endpoint_id}/", {"refuse_outside_range": ["Amount"]}, format="json"
    )
    assert opted.status_code == 200, opted.json()
    answer = dana.post(
        "/api/v1/batch-jobs/",
        {
            "file": upload("applications.csv", batch_input.to_csv(index=False).encode()),
            "endpoint": "credit-risk",
            "environment": "staging",
            "chunk_size": 300,
        },
        format="multipart",
    )
    assert answer.status_code == 202, answer.json()
    submitted = answer.json()
    assert submitted["chunks_total"] == 5 and submitted["row_count"] == ROWS
    assert submitted["progress_url"].endswith(f"/api/v1/jobs/{submitted['job']}/")
    assert submitted["version"] == live_endpoint.version_id
    assert submitted["deployment"] == live_endpoint.pk

    def finished():
        body = dana.get(f"/api/v1/batch-jobs/{submitted['id']}/").json()
        return body if body["done"] else None

    job = wait_for(finished, timeout=240, interval=1)
    assert job["status"] == "succeeded", job
    assert job["progress"] == 100 and job["chunks_done"] == 5
    # One model process scored all five chunks: start-up and loading were paid once.
    assert job["model_starts"] == 1
    assert (job["rows_scored"], job["rows_refused"]) == (ROWS - 2, 2)
    assert dana.get(submitted["progress_url"]).json()["progress"] == 100

    download = dana.get(job["download_url"])
    assert download.status_code == 200
    scored = pd.read_csv(io.BytesIO(b"".join(download.streaming_content)))
    assert len(scored) == ROWS
    assert list(scored["application_id"]) == list(batch_input["application_id"])  # in order
    assert list(scored.columns) == [
        *batch_input.columns,
        "prediction",
        "proba_bad",
        "proba_good",
        "_error",
    ]
    assert "Age: null is not allowed" in scored.loc[NULL_ROW, "_error"]
    assert "Amount: above the allowed maximum" in scored.loc[OUT_OF_RANGE_ROW, "_error"]
    refused = scored["_error"].notna()
    assert refused.sum() == 2 and scored.loc[refused, "prediction"].isna().all()

    # The same model, loaded here in the test process, scoring the same valid rows.
    model = joblib.load(live_endpoint.version.artifact.path)
    valid = batch_input.loc[~refused.to_numpy(), model_zoo.FEATURES]
    assert list(scored.loc[~refused, "prediction"]) == list(model.predict(valid))
    expected = model.predict_proba(valid)
    assert np.allclose(scored.loc[~refused, ["proba_bad", "proba_good"]].to_numpy(), expected)

    logged = Prediction.objects.filter(request_id=f"batch-{job['id']}")
    assert logged.count() == ROWS - 2
    assert set(logged.values_list("batch", "role", "version_id", "deployment_id", "endpoint")) == {
        (True, "batch", live_endpoint.version_id, live_endpoint.pk, "credit-risk")
    }
    rows = sorted(logged.values_list("row", flat=True))
    assert rows == [r for r in range(ROWS) if r not in (NULL_ROW, OUT_OF_RANGE_ROW)]
    first = logged.get(row=0)
    assert first.inputs["application_id"] == "app-00000" and first.prediction == scored.loc[0, "prediction"]
    rejected = RejectedRequest.objects.filter(request_id__startswith=f"batch-{job['id']}-")
    errors = [e for r in rejected for e in r.errors]  # rows and features, never values
    assert len(errors) == 2
    assert f"row {NULL_ROW}: Age: null is not allowed" in errors
    assert any(e.startswith(f"row {OUT_OF_RANGE_ROW}: Amount: above the allowed maximum") for e in errors)

    # A chunk delivered again (acks_late after a lost worker) logs and counts nothing twice.
    score_batch_chunk.apply(args=(job["id"], 2))
    batch = BatchJob.objects.get(pk=job["id"])
    assert (batch.chunks_done, batch.rows_scored, batch.rows_refused) == (5, ROWS - 2, 2)
    assert logged.count() == ROWS - 2
    assert Job.objects.get(pk=job["job"]).progress == 100
    assert batch.model_starts == 1  # the recorded chunk was skipped before any model started
