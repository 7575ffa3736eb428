"""The WSGI app's gate: consumer keys per endpoint, request ids claimed per endpoint, /metrics for
the scraper's token. The integration tests run the same against a real service; these pin details."""

import multiprocessing
import time

import pytest

from apps.serving.inference.keys import generate_key, hash_key, presented_key
from apps.serving.inference.requestids import MemoryRequestIds, SqliteRequestIds, claim_key
from tests.unit.serving.conftest import SCRAPER, arm, call, metric, route, sample_records

KEY, OTHER_KEY = generate_key(), generate_key()


@pytest.fixture
def keyed(models, serve):
    """Two endpoints with a key each, keys required."""
    _, path = models["logreg"]
    credit = route(arm(path), keys=[KEY])
    loans = route(arm(path, deployment_id=2), endpoint="loans", keys=[OTHER_KEY])
    return serve(credit, loans, require_keys=True)


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def test_keys_are_generated_with_their_prefix_and_read_from_bearer_headers_only():
    key = generate_key()
    assert key.startswith("myk_") and len(key) == 47 and key != generate_key()
    assert len(hash_key(key)) == 64
    assert presented_key({"HTTP_AUTHORIZATION": f"Bearer {key}"}) == key
    assert presented_key({"HTTP_AUTHORIZATION": f"bearer  {key} "}) == key
    assert presented_key({"HTTP_AUTHORIZATION": "Token my_abc"}) is None
    assert presented_key({"HTTP_AUTHORIZATION": "Bearer "}) == ""
    assert presented_key({}) is None


def test_a_required_key_refuses_alike_whether_the_endpoint_exists_or_not(keyed):
    app, log = keyed
    body = {"records": sample_records(1)}
    no_key = call(app, payload=body)
    assert no_key.status == 401 and "needs a consumer key" in no_key.json["detail"]
    assert no_key.headers["WWW-Authenticate"].startswith("Bearer")
    assert call(app, "/v1/endpoints/nothing/predict", payload=body).json["detail"] == no_key.json["detail"]

    refused = [
        call(app, payload=body, headers=bearer(OTHER_KEY)),
        call(app, payload=body, headers=bearer("myk_guess")),
        call(app, payload=body, headers={"Authorization": "Bearer "}),
        call(app, "/v1/endpoints/nothing/predict", payload=body, headers=bearer(KEY)),
    ]
    assert {(r.status, r.json["detail"]) for r in refused} == {
        (401, "the consumer key is not valid for this endpoint")
    }
    assert log.rows == []
    assert call(app, payload=body, headers=bearer(KEY)).status == 200
    assert call(app, "/v1/endpoints/loans/predict", payload=body, headers=bearer(OTHER_KEY)).status == 200
    assert len(log.rows) == 2


def test_a_key_sent_to_an_open_endpoint_is_still_checked(models, serve):
    _, path = models["logreg"]
    app, _ = serve(route(arm(path)))  # keys not required, the endpoint has none
    body = {"records": sample_records(1)}
    assert call(app, payload=body).status == 200
    assert call(app, payload=body, headers=bearer(KEY)).status == 401


def test_refusals_are_counted_without_naming_unknown_endpoints(keyed):
    app, _ = keyed
    call(app, payload={"records": sample_records(1)})
    call(app, "/v1/endpoints/secret-plans/predict", payload={"records": sample_records(1)})
    text = call(app, "/metrics", method="GET", headers=SCRAPER).body.decode()
    assert metric(text, "inference_requests_total", endpoint="credit", version="", status="401") == 1
    assert metric(text, "inference_requests_total", endpoint="(unknown)", version="", status="401") == 1
    assert "secret-plans" not in text


def test_a_reused_request_id_is_409_per_endpoint_and_a_failed_request_gives_its_id_back(models, serve):
    _, path = models["logreg"]
    app, log = serve(route(arm(path)), route(arm(path, deployment_id=2), endpoint="loans"))
    body = {"records": sample_records(2)}
    first = call(app, payload=body, headers={"X-Request-ID": "order-1"})
    again = call(app, payload=body, headers={"X-Request-ID": "order-1"})
    assert (first.status, again.status) == (200, 409)
    assert again.json == {
        "detail": "request id 'order-1' was already used on endpoint 'credit' (production); "
        "send a new X-Request-ID for a new request",
        "request_id": "order-1",
    }
    assert [r["request_id"] for r in log.of_kind("prediction")] == ["order-1", "order-1"]  # two rows
    other = call(app, "/v1/endpoints/loans/predict", payload=body, headers={"X-Request-ID": "order-1"})
    assert other.status == 200

    log.fail = True
    assert call(app, payload=body, headers={"X-Request-ID": "order-2"}).status == 503
    log.fail = False
    assert call(app, payload=body, headers={"X-Request-ID": "order-2"}).status == 200
    bad = {"records": [{"income": "lots", "age": 30, "tenure": 1.0}]}
    assert call(app, payload=bad, headers={"X-Request-ID": "order-3"}).status == 422
    assert call(app, payload=body, headers={"X-Request-ID": "order-3"}).status == 200


def test_the_service_own_ids_and_batch_ids_are_refused_as_client_ids(models, serve):
    _, path = models["logreg"]
    app, log = serve(route(arm(path)))
    generated = call(app, payload={"records": sample_records(1)}).json["request_id"]
    assert generated.startswith("modelyard-")
    for reserved in (generated, "batch-12"):
        answer = call(app, payload={"records": sample_records(1)}, headers={"X-Request-ID": reserved})
        assert answer.status == 400 and "Modelyard's own" in answer.json["detail"]
    assert len(log.rows) == 1


def test_a_broken_request_id_store_refuses_rather_than_answers(models, serve):
    class Down:
        def claim(self, key):
            raise ConnectionError("store down")

        def release(self, key):
            raise AssertionError("nothing was claimed")

    _, path = models["logreg"]
    app, log = serve(route(arm(path)), request_ids=Down())
    answer = call(app, payload={"records": sample_records(1)}, headers={"X-Request-ID": "order-9"})
    assert answer.status == 503 and answer.json["detail"] == "request id store unavailable"
    assert log.rows == []
    assert call(app, payload={"records": sample_records(1)}).status == 200  # its own id needs no claim


def test_metrics_need_the_scraper_token_and_are_off_without_one(models, serve):
    _, path = models["logreg"]
    app, _ = serve(route(arm(path)))
    refused = call(app, "/metrics", method="GET")
    assert refused.status == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert call(app, "/metrics", method="GET", headers=bearer("not-it")).status == 401
    assert call(app, "/metrics", method="GET", headers=SCRAPER).status == 200
    off, _ = serve(route(arm(path)), metrics_token="")
    answer = call(off, "/metrics", method="GET", headers=SCRAPER)
    assert answer.status == 403 and "MODELYARD_METRICS_TOKEN" in answer.json["detail"]


def test_memory_claims_expire():
    store = MemoryRequestIds(ttl=0.05)
    key = claim_key("production", "credit", "a:b")
    assert key == "production:credit:a:b"
    assert store.claim(key) and not store.claim(key)
    time.sleep(0.06)
    assert store.claim(key)
    store.release(key)
    assert store.claim(key)


def _claim_many(path: str, keys: list[str], start, results) -> None:
    store = SqliteRequestIds(path)
    start.wait()
    results.put([key for key in keys if store.claim(key)])


def test_sqlite_claims_hold_across_processes(tmp_path):
    """Four processes claim the same 300 ids at once: each id is won exactly once."""
    path = str(tmp_path / "spool" / "request-ids.sqlite3")
    keys = [claim_key("production", "credit", f"id-{i}") for i in range(300)]
    context = multiprocessing.get_context("fork")
    start, results = context.Event(), context.Queue()
    workers = [context.Process(target=_claim_many, args=(path, keys, start, results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    start.set()
    won = [key for _ in workers for key in results.get(timeout=60)]
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(won) == sorted(keys)
    files = list((tmp_path / "spool").glob("request-ids.sqlite3*"))  # with -wal and -shm while open
    assert files and all(f.stat().st_mode & 0o777 == 0o600 for f in files)


def _first_claim(path: str, start, results) -> None:
    start.wait()
    try:
        results.put(SqliteRequestIds(path).claim("p:e:order-42"))
    except Exception as error:  # what the service would have answered as a 503
        results.put(repr(error))


def test_workers_opening_a_new_claims_file_at_once_all_get_an_answer(tmp_path):
    """Six workers' first claims on a file none has opened yet (switching it to WAL locks it):
    one wins, five are told it was used, none fails. Before the retry, 8 rounds in 30 failed."""
    context = multiprocessing.get_context("fork")
    for round_ in range(15):
        path = str(tmp_path / f"round-{round_}" / "request-ids.sqlite3")
        start, results = context.Event(), context.Queue()
        workers = [context.Process(target=_first_claim, args=(path, start, results)) for _ in range(6)]
        for worker in workers:
            worker.start()
        start.set()
        answers = [results.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(timeout=60)
        assert sorted(answers, key=str) == [False] * 5 + [True], answers


def test_sqlite_claims_expire_and_are_released(tmp_path):
    # A TTL of a second or so: a loaded machine can take longer than 50 ms between two claims.
    store = SqliteRequestIds(tmp_path / "ids.sqlite3", ttl=1.5)
    assert store.claim("p:e:1") and not store.claim("p:e:1")
    store.release("p:e:1")
    assert store.claim("p:e:1")
    time.sleep(1.6)
    assert store.claim("p:e:1")
