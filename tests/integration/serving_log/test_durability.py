"""What the inference service says at start about the prediction log's durability, asked of real
Redis servers started with each persistence setting (the shipped one: docker/compose.yaml, checked
in tests/faults/test_redis.py)."""

import shutil
import subprocess

import pytest
import redis

from apps.serving.logbuffer import durability_problem
from tests.conftest import free_port, wait_for

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")


@pytest.fixture
def redis_with(tmp_path, monkeypatch):
    started = []

    def start(*flags: str) -> str:
        port = free_port()
        command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        proc = subprocess.Popen([*command, "--dir", str(tmp_path), *flags], stdout=subprocess.DEVNULL)
        started.append(proc)
        url = f"redis://127.0.0.1:{port}/0"
        wait_for(lambda: _pings(url), timeout=20)
        monkeypatch.setenv("MODELYARD_PREDICTION_LOG_REDIS_URL", url)
        return url

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def _pings(url: str) -> bool:
    try:
        return redis.Redis.from_url(url).ping()
    except redis.ConnectionError:
        return False


def test_a_redis_without_its_append_only_file_is_reported(redis_with):
    redis_with("--appendonly", "no")
    assert "appendonly no" in durability_problem()


def test_a_redis_syncing_every_second_is_reported(redis_with):
    redis_with("--appendonly", "yes", "--appendfsync", "everysec")
    assert "'everysec'" in durability_problem()


def test_a_redis_syncing_every_write_is_not(redis_with):
    redis_with("--appendonly", "yes", "--appendfsync", "always")
    assert durability_problem() is None


def test_the_spool_is_not_reported(settings, monkeypatch, tmp_path):
    settings.REDIS_URL = ""
    monkeypatch.delenv("MODELYARD_PREDICTION_LOG_REDIS_URL", raising=False)
    monkeypatch.setenv("MODELYARD_SPOOL_DIR", str(tmp_path))
    assert durability_problem() is None
