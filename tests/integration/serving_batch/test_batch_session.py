"""A batch job's chunks through one sandboxed model process (apps/serving/batch/services.py,
batch_job_score), in-process on the real database and the real sandbox: the model process starts
once per run however many chunks it scores; a run that stops part-way (its time slice ran out, or
its worker died after some chunks committed) is carried on by the next, which scores only the
chunks not yet recorded, logs nothing twice, and keeps the progress moving."""

import io

import pandas as pd
import pytest
from django.contrib.auth import get_user_model

from apps.serving.batch.services import batch_job_finish, batch_job_score
from apps.serving.models import BatchJob, Prediction
from tests.integration.serving_batch.conftest import NULL_ROW, upload

pytestmark = pytest.mark.django_db


def test_a_job_of_several_chunks_starts_the_model_once_per_run_and_resumes_where_it_stopped(
    live_endpoint, batch_input, api_for
):
    dana = api_for(get_user_model().objects.get(username="dana"))
    rows = batch_input.head(1000)
    answer = dana.post(
        "/api/v1/batch-jobs/",
        {
            "file": upload("rows.csv", rows.to_csv(index=False).encode()),
            "endpoint": "credit-risk",
            "environment": "staging",
            "chunk_size": 200,
        },
        format="multipart",
    )
    assert answer.status_code == 202, answer.json()
    batch = BatchJob.objects.get(pk=answer.json()["id"])
    assert batch.chunks_total == 5 and batch.model_starts == 0

    # A first run scores two chunks and stops (as when its slice ends or its worker dies).
    assert batch_job_score(batch_job_id=batch.pk, max_chunks=2) is True
    batch.refresh_from_db()
    assert (batch.chunks_done, batch.model_starts, batch.status) == (2, 1, "running")
    assert sorted(batch.chunks.values_list("index", flat=True)) == [0, 1]
    assert batch.job.progress == 95 * 2 // 5
    logged = Prediction.objects.filter(request_id=f"batch-{batch.pk}", batch=True)
    assert logged.count() == 400 - 1  # the null Age of row 7 is refused

    # The next run (a redelivery, or the continuation) scores the other three with one start.
    assert batch_job_score(batch_job_id=batch.pk) is False
    batch.refresh_from_db()
    assert (batch.chunks_done, batch.model_starts) == (5, 2)
    assert (batch.rows_scored, batch.rows_refused) == (999, 1)
    assert logged.count() == 999
    assert sorted(logged.values_list("row", flat=True)) == [r for r in range(1000) if r != NULL_ROW]

    # Once every chunk is recorded a run again starts no model and changes nothing.
    assert batch_job_score(batch_job_id=batch.pk) is False
    batch_job_finish(batch_job_id=batch.pk)
    batch.refresh_from_db()
    assert (batch.status, batch.model_starts, batch.job.progress) == ("succeeded", 2, 100)
    download = dana.get(f"/api/v1/batch-jobs/{batch.pk}/download/")
    scored = pd.read_csv(io.BytesIO(b"".join(download.streaming_content)))
    assert list(scored["application_id"]) == list(rows["application_id"])
    assert scored["prediction"].notna().sum() == 999
    assert dana.get(f"/api/v1/batch-jobs/{batch.pk}/").json()["model_starts"] == 2
