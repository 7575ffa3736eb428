"""Submitting batch jobs: bad input is a clear 400/404 and queues nothing; who sees which job;
a Parquet file scored by a version directly, chunk by chunk, in-process."""

import io

import pandas as pd
import pytest
from django.contrib.auth import get_user_model

from apps.accounts.roles import Role
from apps.jobs.models import Job
from apps.serving.batch.services import batch_chunk_score, batch_job_finish
from apps.serving.models import BatchJob, Prediction
from tests import model_zoo
from tests.integration.serving_batch.conftest import NULL_ROW, OUT_OF_RANGE_ROW, upload

pytestmark = pytest.mark.django_db


def dana_api(api_for):
    return api_for(get_user_model().objects.get(username="dana"))


def submit(api, content: bytes, name="rows.csv", **fields):
    data = {"file": upload(name, content), "endpoint": "credit-risk", "environment": "staging", **fields}
    data = {key: value for key, value in data.items() if value is not None}
    return api.post("/api/v1/batch-jobs/", data, format="multipart")


def nothing_queued():
    return not BatchJob.objects.exists() and not Job.objects.filter(kind="serving.batch").exists()


def test_bad_files_and_targets_say_what_is_wrong_and_queue_nothing(live_endpoint, batch_input, api_for):
    dana = dana_api(api_for)
    missing = submit(dana, batch_input.drop(columns=["Age", "Price"]).to_csv(index=False).encode())
    assert missing.status_code == 400
    assert missing.json()["file"] == ["the file has no column for the features Age, Price"]

    binary = submit(dana, b"\x00\x01\x02PK\x03\x04" * 50, name="rows.csv")
    assert binary.status_code == 400 and "binary file" in binary.json()["file"][0]
    empty = submit(dana, b"", name="rows.csv")
    assert empty.status_code == 400 and "empty" in str(empty.json()["file"])
    clash = submit(dana, batch_input.assign(prediction=1).to_csv(index=False).encode())
    assert clash.status_code == 400 and "already has output columns (prediction)" in clash.json()["file"][0]

    csv = batch_input.to_csv(index=False).encode()
    unknown = submit(dana, csv, endpoint="no-such-endpoint")
    assert (
        unknown.status_code == 404 and "no endpoint 'no-such-endpoint' in staging" in unknown.json()["detail"]
    )
    environment = submit(dana, csv, environment="moon")
    assert (
        environment.status_code == 400
        and "'moon' is not an environment" in environment.json()["environment"][0]
    )
    size = submit(dana, csv, chunk_size=0)
    assert size.status_code == 400 and "chunk_size" in size.json()
    both = submit(dana, csv, version=live_endpoint.version_id)
    assert both.status_code == 400 and "not both" in both.json()["endpoint"][0]
    no_file = dana.post("/api/v1/batch-jobs/", {"endpoint": "credit-risk"}, format="multipart")
    assert no_file.status_code == 400 and "file" in no_file.json()
    assert nothing_queued()


def test_other_teams_get_404_and_it_sees_every_job(live_endpoint, batch_input, api_for, make_user):
    dana = dana_api(api_for)
    mark = api_for(make_user("mark", team="Customer Insights"))
    ivan = api_for(make_user("ivan", Role.IT_OPERATOR, team=None))
    bea = api_for(make_user("bea", Role.BUSINESS_OWNER, team=None))
    csv = batch_input.to_csv(index=False).encode()

    hidden = submit(mark, csv)
    assert hidden.status_code == 404, hidden.json()
    assert hidden.json()["detail"] == "no endpoint 'credit-risk' in staging that you can see"
    assert submit(mark, csv, endpoint=None, version=live_endpoint.version_id).status_code == 404
    assert nothing_queued()

    mine = submit(dana, csv)
    assert mine.status_code == 202, mine.json()
    job_id = mine.json()["id"]
    assert mark.get(f"/api/v1/batch-jobs/{job_id}/").status_code == 404
    assert mark.get(f"/api/v1/batch-jobs/{job_id}/download/").status_code == 404
    assert mark.get("/api/v1/batch-jobs/").json()["results"] == []
    assert bea.get(f"/api/v1/batch-jobs/{job_id}/").status_code == 404
    assert [j["id"] for j in ivan.get("/api/v1/batch-jobs/").json()["results"]] == [job_id]
    not_yet = dana.get(f"/api/v1/batch-jobs/{job_id}/download/")
    assert not_yet.status_code == 409 and "the job is queued" in not_yet.json()["detail"]

    by_it = submit(ivan, csv, chunk_size=1000)
    assert by_it.status_code == 202 and by_it.json()["chunks_total"] == 2


def test_a_parquet_file_scored_with_a_version_directly(live_endpoint, batch_input, api_for):
    """The chunk and finish services run here in-process, in any order; the output is Parquet."""
    dana = dana_api(api_for)
    buffer = io.BytesIO()
    batch_input.head(500).to_parquet(buffer, index=False)
    answer = dana.post(
        "/api/v1/batch-jobs/",
        {
            "file": upload("rows.parquet", buffer.getvalue()),
            "version": live_endpoint.version_id,
            "chunk_size": 200,
        },
        format="multipart",
    )
    assert answer.status_code == 202, answer.json()
    batch = BatchJob.objects.get(pk=answer.json()["id"])
    assert (batch.input_format, batch.chunks_total, batch.endpoint, batch.deployment) == (
        "parquet",
        3,
        None,
        None,
    )

    for index in (2, 0, 1, 0):  # out of order, and chunk 0 twice
        batch_chunk_score(batch_job_id=batch.pk, index=index)
    batch_job_finish(batch_job_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == "succeeded" and (batch.rows_scored, batch.rows_refused) == (499, 1)
    assert batch.job.status == "succeeded" and batch.job.progress == 100

    download = dana.get(f"/api/v1/batch-jobs/{batch.pk}/download/")
    scored = pd.read_parquet(io.BytesIO(b"".join(download.streaming_content)))
    assert list(scored["application_id"]) == list(batch_input.head(500)["application_id"])
    assert (
        scored["_error"].notna().sum() == 1 and scored.loc[NULL_ROW, "_error"] == "Age: null is not allowed"
    )
    logged = Prediction.objects.filter(request_id=f"batch-{batch.pk}", batch=True)
    assert logged.count() == 499
    assert set(logged.values_list("deployment_id", "endpoint", "role")) == {(0, "", "batch")}
    assert set(model_zoo.FEATURES) <= set(logged.first().inputs)


def test_values_outside_the_range_are_scored_and_counted_unless_the_endpoint_refuses_them(
    live_endpoint, batch_input, api_for
):
    dana = dana_api(api_for)
    rows = batch_input.head(OUT_OF_RANGE_ROW + 1)  # a null Age and an Amount above the schema's maximum

    def scored_job() -> BatchJob:
        answer = submit(dana, rows.to_csv(index=False).encode(), chunk_size=600)
        assert answer.status_code == 202, answer.json()
        batch = BatchJob.objects.get(pk=answer.json()["id"])
        for index in range(batch.chunks_total):
            batch_chunk_score(batch_job_id=batch.pk, index=index)
        batch_job_finish(batch_job_id=batch.pk)
        batch.refresh_from_db()
        assert batch.status == "succeeded", batch.error
        return batch

    batch = scored_job()
    assert (batch.rows_scored, batch.rows_refused) == (len(rows) - 1, 1)  # only the null is refused
    assert batch.values_outside_range == {"Amount": 1}
    assert "values outside the reference range, scored: Amount 1" in batch.job.steps[-1]["message"]
    assert dana.get(f"/api/v1/batch-jobs/{batch.pk}/").json()["values_outside_range"] == {"Amount": 1}
    logged = Prediction.objects.get(request_id=f"batch-{batch.pk}", row=OUT_OF_RANGE_ROW)
    assert logged.inputs["Amount"] == 10_000_000.0  # in the log for monitoring to count

    opted = dana.patch(
        f"/api/v1/endpoints/{live_endpoint.endpoint_id}/", {"refuse_outside_range": ["Amount"]}, format="json"
    )
    assert opted.status_code == 200, opted.json()
    batch = scored_job()
    assert (batch.rows_scored, batch.rows_refused) == (len(rows) - 2, 2)
    assert batch.values_outside_range == {}
    download = dana.get(f"/api/v1/batch-jobs/{batch.pk}/download/")
    scored = pd.read_csv(io.BytesIO(b"".join(download.streaming_content)))
    assert scored.loc[OUT_OF_RANGE_ROW, "_error"].startswith("Amount: above the allowed maximum")


def test_a_version_without_a_package_is_refused(make_user, credit_frame, api_for, batch_input):
    from tests.conftest import register_credit_version

    frame = model_zoo.training_frame(credit_frame)
    dana_user = make_user("dana")
    filename, content = model_zoo.sklearn_joblib(frame)
    version = register_credit_version(dana_user, filename, content, frame, name="unpacked")
    answer = api_for(dana_user).post(
        "/api/v1/batch-jobs/",
        {"file": upload("rows.csv", batch_input.to_csv(index=False).encode()), "version": version.pk},
        format="multipart",
    )
    assert answer.status_code == 400
    assert answer.json()["version"] == ["unpacked v1 has no package yet; wait for its build"]
    assert nothing_queued()


def test_the_demo_queues_a_batch_job_against_credit_risk_production(packaged_version, make_user):
    from apps.demo.seed import seed_batch_job
    from apps.deployments.models import Deployment
    from apps.deployments.services import deployment_approve, deployment_request, deployment_rollout_run

    version = packaged_version()
    dana = get_user_model().objects.get(username="dana")
    asked = deployment_request(user=dana, version=version, endpoint="credit-risk", environment="production")
    deployment_approve(user=make_user("ivan", Role.IT_OPERATOR, team=None), deployment=asked)
    deployment_rollout_run(deployment=Deployment.objects.get(pk=asked.pk), step=lambda p, m: None)

    seed_batch_job({"dana": dana})
    seed_batch_job({"dana": dana})  # a second seed queues nothing more
    batch = BatchJob.objects.get()
    assert (batch.row_count, batch.chunks_total, batch.environment) == (3000, 3, "production")
    assert batch.job.status == "queued" and batch.submitted_by == dana
