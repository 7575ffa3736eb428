"""Batch scoring from the client and the CLI against a live server and a real Celery worker."""

import pandas as pd
import pytest
from click.testing import CliRunner
from client_helpers import TARGET

from modelyard import Client
from modelyard.cli import cli
from modelyard.errors import ApiError
from tests.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_batch_score_wait_download_and_cli(
    scientist, credit_sample, credit_model, celery_worker, tmp_path, monkeypatch
):
    client = Client(url=scientist.url, token=scientist.token)
    version = client.register(credit_model, name="batch-credit", reference=credit_sample, target=TARGET)
    assert client.build_package(version.id, wait=True, progress=False)["status"] == "succeeded"
    deployment = client.deploy("batch-credit", 1, endpoint="batch-risk", environment="staging")
    wait_for(lambda: client.deployments("batch-risk")[0]["status"] == "live", timeout=120)

    rows = tmp_path / "applications.csv"
    credit_sample.drop(columns=[TARGET]).to_csv(rows, index=False)
    scored_path = tmp_path / "scored.csv"
    job = client.batch_score(
        "batch-risk", rows, environment="staging", chunk_size=70, output=scored_path, progress=False
    )
    assert job["status"] == "succeeded" and job["chunks_total"] == 3, job
    assert job["deployment"] == deployment["id"] and job["rows_scored"] + job["rows_refused"] == 200
    scored = pd.read_csv(scored_path)
    assert len(scored) == 200 and list(scored.columns[-4:]) == [
        "prediction",
        "proba_bad",
        "proba_good",
        "_error",
    ]
    valid = scored["_error"].isna().to_numpy()
    expected = credit_model.predict(credit_sample.drop(columns=[TARGET]))
    assert list(scored.loc[valid, "prediction"]) == list(expected[valid])
    assert [j["id"] for j in client.batch_jobs()] == [job["id"]]
    again = client.download_batch(job["id"], tmp_path)
    assert again.name == "applications-scored.csv" and again.read_bytes() == scored_path.read_bytes()

    with pytest.raises(ApiError) as missing:
        client.batch_score("no-such-endpoint", rows, environment="staging", progress=False)
    assert missing.value.status == 404 and "no endpoint 'no-such-endpoint'" in str(missing.value)

    monkeypatch.setenv("MODELYARD_URL", scientist.url)
    monkeypatch.setenv("MODELYARD_TOKEN", scientist.token)
    runner = CliRunner()
    status = runner.invoke(cli, ["batch", "status", str(job["id"])])
    assert status.exit_code == 0 and "succeeded (100%)" in status.output and "3/3" in status.output
    out = tmp_path / "cli.csv"
    scored_cli = runner.invoke(
        cli,
        ["batch", "score", str(rows), "--endpoint", "batch-risk", "--environment", "staging", "-o", str(out)],
    )
    assert scored_cli.exit_code == 0, scored_cli.output
    assert "1 chunks" in scored_cli.output and f"saved {out}" in scored_cli.output
    # Same rows, same answers; probabilities may differ in the last bit with the chunk size (BLAS).
    pd.testing.assert_frame_equal(pd.read_csv(out), scored, check_exact=False, rtol=1e-12, atol=1e-12)
    download = runner.invoke(cli, ["batch", "download", str(job["id"]), str(tmp_path / "d.csv")])
    assert download.exit_code == 0 and (tmp_path / "d.csv").read_bytes() == scored_path.read_bytes()
    bad = runner.invoke(cli, ["batch", "score", str(rows), "--endpoint", "batch-risk"])
    assert bad.exit_code == 1 and "no endpoint 'batch-risk' in production" in bad.output
