"""Packages from the client: build (in a real worker), status and a checksum-verified download."""

import tarfile

import pytest
from click.testing import CliRunner
from client_helpers import TARGET

from modelyard import Client
from modelyard.cli import cli

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_build_status_and_download(
    scientist, credit_sample, credit_model, celery_worker, tmp_path, monkeypatch
):
    client = Client(url=scientist.url, token=scientist.token)
    version = client.register(
        credit_model,
        name="packaged",
        reference=credit_sample,
        target=TARGET,
        holdout=credit_sample.head(80),
        thresholds={"roc_auc": 0.5},
    )
    build = client.build_package(version.id, wait=True, progress=False)
    assert build["status"] == "succeeded", build
    assert build["validation_passed"] is True
    assert any(c["name"] == "holdout roc_auc" for c in build["report"]["checks"])
    path = client.download_package(version.id, tmp_path)
    assert path.name == "packaged-v1.tar.gz"
    with tarfile.open(path) as tar:
        assert "packaged-v1/serve.py" in tar.getnames()

    monkeypatch.setenv("MODELYARD_URL", scientist.url)
    monkeypatch.setenv("MODELYARD_TOKEN", scientist.token)
    runner = CliRunner()
    status = runner.invoke(cli, ["package", "status", "packaged", "1"])
    assert status.exit_code == 0, status.output
    assert "validation  passed" in status.output
    assert "holdout roc_auc" in status.output
    out = tmp_path / "cli.tar.gz"
    download = runner.invoke(cli, ["package", "download", "packaged", "1", "-o", str(out)])
    assert download.exit_code == 0 and "checksum verified" in download.output
    assert out.read_bytes() == path.read_bytes()
    missing = runner.invoke(cli, ["package", "status", "packaged", "2"])
    assert missing.exit_code == 1 and "no version 2 of a model named 'packaged'" in missing.output
