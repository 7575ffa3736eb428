"""Fixtures for the client's tests. Unit tests need no server; live tests start Django's
``live_server`` and talk to it over real HTTP, exactly as a data scientist's laptop would."""

from types import SimpleNamespace

import pytest
from client_helpers import CREDIT_CSV, PASSWORD, make_user, train_credit_pipeline

from tests.shared_data import require


@pytest.fixture(autouse=True)
def isolated_config(tmp_path, monkeypatch):
    """Never read or write the real ~/.config/modelyard, nor a token from the caller's shell."""
    path = tmp_path / "modelyard-config" / "config.json"
    monkeypatch.setenv("MODELYARD_CONFIG", str(path))
    monkeypatch.delenv("MODELYARD_URL", raising=False)
    monkeypatch.delenv("MODELYARD_TOKEN", raising=False)
    return path


@pytest.fixture
def credit_sample():
    """200 rows of the credit data set, NaNs included (the pipeline imputes them)."""
    require(CREDIT_CSV)
    pd = pytest.importorskip("pandas")
    return pd.read_csv(CREDIT_CSV).sample(200, random_state=7).reset_index(drop=True)


@pytest.fixture
def credit_model(credit_sample):
    return train_credit_pipeline(credit_sample)


@pytest.fixture
def scientist(live_server):
    """A data scientist of team Credit Risk, with a token, on a live server."""
    token = make_user("dana", "Credit Risk")
    return SimpleNamespace(
        url=live_server.url, token=token, username="dana", password=PASSWORD, team="credit-risk"
    )
