"""One inference worker is killed (``kill -9``) under traffic: gunicorn starts another, the other
worker goes on answering, and every answered prediction is stored exactly once."""

import os
import signal
import time

import pytest

from tests.faults.conftest import Traffic, settle, wait_for

pytestmark = pytest.mark.faults


def test_one_inference_worker_killed_loses_no_answered_prediction(stack, postgres, redis_server):
    stack.start_all()
    with Traffic(stack, "inference-kill") as traffic:
        time.sleep(3)
        workers = stack.inference_workers()
        assert len(workers) == 2, workers
        os.kill(workers[0], signal.SIGKILL)
        killed = time.monotonic()
        wait_for(
            lambda: len(set(stack.inference_workers()) - set(workers)) == 1,
            timeout=30,
            what="gunicorn starting a new worker",
        )
        replaced = time.monotonic() - killed
        time.sleep(5)
    ledger = settle(traffic, postgres, redis_server)
    print(ledger.line("one inference worker kill -9", replaced_after_s=round(replaced, 1)))
    assert not ledger.lost and not ledger.duplicated
    assert ledger.answered >= 0.95 * ledger.sent, ledger.statuses
