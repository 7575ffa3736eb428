"""PostgreSQL goes away: answered predictions wait in Redis and are stored once it is back, and an
inference worker started meanwhile serves its saved routes, or says 503 with Retry-After, never a
misleading 404 "no endpoint" (or, with consumer keys required as in production, 401 "key not
valid": a worker without routes knows neither)."""

import time

import pytest
import requests

from tests.faults.conftest import Traffic, settle, wait_for

pytestmark = pytest.mark.faults


def test_postgresql_stopped_for_20_seconds_loses_and_doubles_nothing(stack, postgres, redis_server):
    stack.start_all()
    with Traffic(stack, "pg-stop") as traffic:
        time.sleep(3)
        postgres.stop()
        stopped = time.monotonic()
        time.sleep(20)
        postgres.start()
        back = time.monotonic()
        during = traffic.count_since(stopped) - traffic.count_since(back)
        time.sleep(3)
    ledger = settle(traffic, postgres, redis_server)
    stored_after = time.monotonic() - back
    print(
        ledger.line(
            "PostgreSQL stopped 20 s", answered_while_down=during, stored_within_s=round(stored_after, 1)
        )
    )
    assert not ledger.lost, f"answered but never stored: {ledger.lost[:10]}"
    assert not ledger.duplicated
    assert during > 0, "the inference service stopped answering while PostgreSQL was down"
    assert set(ledger.statuses) == {"200"}, ledger.statuses


def _any_answer(url: str) -> bool:
    try:
        requests.get(f"{url}/health", timeout=1)
        return True
    except requests.RequestException:
        return False


def test_an_inference_worker_started_during_a_database_outage_serves_its_saved_routes(
    stack, postgres, redis_server
):
    stack.start_worker(wait=False)
    stack.start_beat()
    stack.start_inference()  # the database is up: both workers load and save the routes
    stack.stop("inference")
    stack.wait_for_worker()
    postgres.stop()
    try:
        url = stack.start_inference(wait=False)
        wait_for(lambda: _any_answer(url), timeout=60, what="the inference service listening")
        with Traffic(stack, "pg-down-start") as traffic:
            time.sleep(6)
        statuses = traffic.statuses()
    finally:
        postgres.start()
    ledger = settle(traffic, postgres, redis_server)
    print(ledger.line("inference started while PostgreSQL is down (saved routes)"))
    assert not {"404", "401"} & set(statuses), (
        f"a worker without routes said no such endpoint or key: {statuses}"
    )
    assert set(statuses) == {"200"}, statuses
    assert not ledger.lost and not ledger.duplicated


def test_an_inference_worker_started_during_a_database_outage_without_saved_routes_says_retry(
    stack, postgres, redis_server, tmp_path
):
    stack.start_worker(wait=False)
    stack.start_beat()
    postgres.stop()
    try:
        # A fresh var folder: nothing saved from an earlier start.
        url = stack.start_inference(wait=False, env={"MODELYARD_VAR_DIR": str(tmp_path / "fresh-var")})
        wait_for(lambda: _any_answer(url), timeout=60, what="the inference service listening")
        stack.wait_for_worker()
        with Traffic(stack, "pg-down-cold") as traffic:
            time.sleep(4)
            statuses_while_down = traffic.statuses()
            postgres.start()
            back = time.monotonic()
            wait_for(lambda: traffic.count_since(back) > 0, timeout=20, what="a 200 after PostgreSQL is back")
            first_answer = min(at for at in traffic.answered_at.values() if at >= back) - back
            time.sleep(3)
    finally:
        postgres.ensure_started()
    ledger = settle(traffic, postgres, redis_server)
    print(
        ledger.line(
            "inference started while PostgreSQL is down (nothing saved)",
            while_down=dict(statuses_while_down),
            retry_after=dict(traffic.retry_after),
            first_200_after_s=round(first_answer, 1),
        )
    )
    assert not {"404", "401"} & set(ledger.statuses), f"a worker without routes misled: {ledger.statuses}"
    assert set(statuses_while_down) == {"503"}, statuses_while_down
    assert None not in traffic.retry_after, "a 503 without Retry-After"
    assert not ledger.lost and not ledger.duplicated
