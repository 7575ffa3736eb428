"""``manage.py inference`` as a real server: two gunicorn workers, real HTTP with keep-alive
clients, a real model, and every accepted prediction in the log exactly once."""

import http.client
import json
import threading
import time
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import SCRAPER
from tests.integration.serving_inference.fixtures import read_log, write_routes
from tests.integration.serving_inference.service import FEATURES, running_service
from tests.integration.serving_inference.service import records as _records
from tests.integration.serving_inference.service import route as _route

SECRET = "ZZTOP-SECRET-123"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    with running_service(tmp_path_factory.mktemp("inference"), "--max-body-bytes", "100000") as running:
        yield running


def test_predictions_equal_the_in_process_model(service):
    records = _records(50, seed=1)
    answer = requests.post(f"{service.url}/v1/endpoints/risk/predict", json={"records": records}, timeout=10)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    frame = pd.DataFrame(records)[FEATURES]
    assert body["predictions"] == service.model.predict(frame).tolist()
    assert np.allclose(body["probabilities"], service.model.predict_proba(frame))
    assert body["classes"] == [0, 1]
    assert answer.headers["X-Request-ID"] == body["request_id"]


def test_mlflow_dataframe_split(service):
    records = _records(5, seed=2)
    split = {"columns": FEATURES, "data": [[r[f] for f in FEATURES] for r in records]}
    answer = requests.post(
        f"{service.url}/v1/endpoints/risk/predict", json={"dataframe_split": split}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == service.model.predict(pd.DataFrame(records)[FEATURES]).tolist()


def test_a_bad_record_is_422_without_its_values(service):
    record = {**_records(1, seed=3)[0], "x4": SECRET}
    answer = requests.post(f"{service.url}/v1/endpoints/risk/predict", json={"records": [record]}, timeout=10)
    assert answer.status_code == 422
    assert answer.json()["errors"] == ["records[0].x4: expected number"]
    assert SECRET not in answer.text


def test_oversized_and_unsized_bodies_are_refused(service):
    connection = http.client.HTTPConnection(service.host, service.port, timeout=10)
    try:
        # Only the headers are sent: the answer must come without the body being read.
        connection.putrequest("POST", "/v1/endpoints/risk/predict")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", "2000000")
        connection.endheaders()
        answer = connection.getresponse()
        assert answer.status == 413
        assert "100000 bytes" in json.loads(answer.read())["detail"]
    finally:
        connection.close()

    connection = http.client.HTTPConnection(service.host, service.port, timeout=10)
    try:
        connection.putrequest("POST", "/v1/endpoints/risk/predict")
        connection.endheaders()
        assert connection.getresponse().status == 411
    finally:
        connection.close()


def test_keep_alive_clients_are_spread_over_both_workers_and_logged_once(service):
    accepted = []  # (request_id, rows)
    served_by = Counter()
    failures = []
    lock = threading.Lock()

    def client(seed: int) -> None:
        with requests.Session() as session:
            for i in range(40):
                records = _records(1 + (seed + i) % 3, seed=seed * 1000 + i)
                answer = session.post(
                    f"{service.url}/v1/endpoints/risk/predict", json={"records": records}, timeout=10
                )
                with lock:
                    served_by[answer.headers.get("X-Served-By")] += 1
                    if answer.status_code == 200:
                        accepted.append((answer.json()["request_id"], len(records)))
                    else:
                        failures.append(answer.status_code)

    # Each keep-alive session stays on the worker that accepted its connection; a second round
    # only runs in the unlikely case that every connection of the first went to one worker.
    for round_number in range(3):
        threads = [threading.Thread(target=client, args=(round_number * 10 + s,)) for s in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if len(served_by) >= 2:
            break

    assert failures == []
    assert len(served_by) == 2, served_by
    logged = Counter(
        (row["request_id"], row["row"]) for row in read_log(service.folder) if row["kind"] == "prediction"
    )
    expected = {(request_id, row) for request_id, rows in accepted for row in range(rows)}
    assert all(logged[key] == 1 for key in expected)
    assert len(expected) == sum(rows for _, rows in accepted)
    assert max(logged.values()) == 1  # nothing anywhere in the log is there twice


def _metric_sum(text: str, name: str, **labels) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def test_metrics_add_up_both_workers(service):
    labels = {"endpoint": "risk", "version": "1", "role": "primary"}
    before = _metric_sum(
        requests.get(service.url + "/metrics", headers=SCRAPER, timeout=5).text,
        "inference_request_duration_seconds_count",
        **labels,
    )
    pids = set()
    for _ in range(4):  # new connections each time: both workers answer some
        with requests.Session() as session:
            for i in range(5):
                answer = session.post(
                    f"{service.url}/v1/endpoints/risk/predict",
                    json={"records": _records(1, seed=i)},
                    timeout=10,
                )
                assert answer.status_code == 200
                pids.add(answer.headers["X-Served-By"])
    text = requests.get(service.url + "/metrics", headers=SCRAPER, timeout=5).text
    assert _metric_sum(text, "inference_request_duration_seconds_count", **labels) - before == 20
    assert _metric_sum(text, "inference_request_duration_seconds_bucket", le="0.0005", **labels) >= 0
    assert _metric_sum(text, "inference_requests_total", endpoint="risk", status="200") >= 20
    gauges = {
        sample.labels["pid"]
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "inference_process_rss_bytes" and sample.value > 0
    }
    assert len(gauges) == 2  # one per worker


def test_a_new_route_is_served_after_a_refresh(service):
    write_routes(
        service.folder,
        [_route("risk", service.folder / "risk.joblib"), _route("risk-b", service.folder / "risk.joblib", 2)],
    )
    deadline = time.monotonic() + 10
    statuses = []
    while time.monotonic() < deadline:
        answer = requests.post(
            f"{service.url}/v1/endpoints/risk-b/predict", json={"records": _records(1, seed=9)}, timeout=10
        )
        statuses.append(answer.status_code)
        if statuses[-5:] == [200] * 5:  # several new connections: every worker has it
            break
        time.sleep(0.1)
    assert statuses[-5:] == [200] * 5, statuses
    assert answer.json()["deployment"] == 2
