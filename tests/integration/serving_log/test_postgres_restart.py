"""PostgreSQL stops while predictions keep coming: the buffer keeps accepting, a drain acks
nothing, and once the database is back every record is stored exactly once."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import psycopg
import pytest
from django.db import connection, connections

from apps.serving.ingest import drain
from apps.serving.models import Prediction
from tests.integration.serving_log.conftest import on_postgres, records

CLUSTERS = Path("/etc/postgresql")

pytestmark = [
    pytest.mark.skipif(not on_postgres(), reason="needs DATABASE_URL pointing at PostgreSQL"),
    pytest.mark.skipif(
        not (shutil.which("pg_ctlcluster") and CLUSTERS.is_dir() and os.geteuid() == 0),
        reason="needs root and pg_ctlcluster to stop and start the local PostgreSQL",
    ),
]


def pg_ctl(action: str) -> None:
    version = sorted(CLUSTERS.iterdir())[-1].name
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
        check=True,
        timeout=120,
        capture_output=True,
    )


def wait_until_accepting(timeout: float = 60) -> None:
    params = connection.get_connection_params()
    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(
                **{k: v for k, v in params.items() if k != "cursor_factory"}, connect_timeout=2
            ).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.mark.django_db(transaction=True)
def test_records_logged_while_postgres_is_down_are_stored_once_it_is_back(buffer):
    for start in range(0, 1000, 100):
        buffer.append(records(100, start=start))
    connections.close_all()
    try:
        pg_ctl("stop")
        for start in range(1000, 2000, 100):
            buffer.append(records(100, start=start))  # the inference service goes on answering
        # Small batches: the drain's second reader holds a read too when the insert fails.
        assert drain(buffer, batch_size=500) == 0
        assert drain(buffer, batch_size=500) == 0
        assert buffer.pending() == 2000  # read, never acknowledged
    finally:
        connections.close_all()
        pg_ctl("start")
        wait_until_accepting()
    assert drain(buffer, max_batches=None, batch_size=500) == 2000
    assert buffer.pending() == 0
    assert Prediction.objects.count() == 2000
    assert Prediction.objects.values("request_id").distinct().count() == 2000
