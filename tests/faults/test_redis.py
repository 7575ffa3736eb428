"""Redis, the prediction log's buffer, restarts or crashes under traffic. With the shipped
configuration (docker/compose.yaml) no answered prediction is lost: while Redis is away the
inference service answers 503 (its log is unavailable), never a 200 it cannot keep."""

import time

import pytest

from tests.faults.conftest import STREAM, Traffic, settle, wait_for

pytestmark = pytest.mark.faults


def test_the_shipped_redis_writes_every_command_to_disk_before_answering(redis_server):
    config = redis_server.client().config_get("append*")
    assert config["appendonly"] == "yes" and config["appendfsync"] == "always", config


def _under_traffic(stack, postgres, redis_server, prefix: str, fault) -> None:
    stack.start_all()
    assert "prediction log's Redis" not in stack.log_text("inference")  # no durability warning
    with Traffic(stack, prefix) as traffic:
        time.sleep(3)
        # Answered predictions wait in the stream for the next drain (every 2 s): fault then.
        wait_for(lambda: redis_server.client().xlen(STREAM) > 0, timeout=10, interval=0.02, what="a backlog")
        began = time.monotonic()
        fault()
        redis_server.start()
        away = time.monotonic() - began
        time.sleep(5)
    ledger = settle(traffic, postgres, redis_server)
    refused = ledger.statuses.get("503", 0) / max(ledger.sent, 1)
    print(ledger.line(prefix, redis_away_s=round(away, 1), refused_503=f"{refused:.1%}"))
    assert not ledger.lost, f"{len(ledger.lost)} answered predictions lost: {ledger.lost[:10]}"
    assert not ledger.duplicated


def test_a_redis_restart_loses_no_answered_prediction(stack, postgres, redis_server):
    _under_traffic(stack, postgres, redis_server, "redis-restart", redis_server.stop)


def test_a_redis_kill_9_loses_no_answered_prediction(stack, postgres, redis_server):
    _under_traffic(stack, postgres, redis_server, "redis-kill", redis_server.kill)
