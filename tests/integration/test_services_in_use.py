"""CI runs on the real services: prove it, so a misconfiguration cannot pass silently."""

import os

import pytest
from django.conf import settings
from django.db import connection

pytestmark = pytest.mark.django_db


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"), reason="DATABASE_URL is not set: embedded SQLite mode"
)
def test_database_url_means_postgresql():
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("select version()")
        assert cursor.fetchone()[0].startswith("PostgreSQL")


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL is not set: embedded broker mode")
def test_redis_url_means_redis_broker_and_cache():
    from django.core.cache import cache

    from config.celery import app

    assert settings.CELERY_BROKER_URL.startswith("redis://")
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)
        assert conn.transport.driver_type == "redis"
    cache.set("modelyard-ci-probe", 42, 10)
    assert cache.get("modelyard-ci-probe") == 42


def test_embedded_mode_without_configuration():
    if os.environ.get("DATABASE_URL"):
        pytest.skip("running on PostgreSQL")
    assert connection.vendor == "sqlite"
    if os.environ.get("REDIS_URL"):
        return
    # The embedded broker: a SQLite file of its own (config/broker.py), not the app's database.
    assert settings.CELERY_BROKER_URL.startswith("modelyard+sqlite:///")
    assert settings.CELERY_BROKER_URL.removeprefix("modelyard+sqlite:///") != str(
        connection.settings_dict["NAME"]
    )
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)
        assert conn.transport.driver_type == "sql"
        with conn.SimpleQueue("modelyard-embedded-probe") as queue:
            queue.put({"probe": 42})
            assert queue.get(timeout=5).payload == {"probe": 42}
