"""Payloads that cost the service far more than their bytes: one valid record and 99,999 empty
ones (600 kB in the issue, under the body cap) are refused at once for their record count, and a
request of many bad records gets a bounded error list, in its answer and in its log row."""

import json
import time

import pytest
import requests

from tests.integration.serving_inference.fixtures import read_log
from tests.integration.serving_inference.service import FEATURES, records, running_service, wait_for_models

PATH = "/v1/endpoints/risk/predict"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    with running_service(tmp_path_factory.mktemp("payloads")) as running:  # 1,000,000-byte body cap
        wait_for_models(running)
        yield running


def _post(service, payload: dict, request_id: str) -> tuple[requests.Response, float]:
    data = json.dumps(payload).encode()
    started = time.perf_counter()
    answer = requests.post(
        service.url + PATH,
        data=data,
        headers={"Content-Type": "application/json", "X-Request-ID": request_id},
        timeout=60,
    )
    return answer, time.perf_counter() - started


def test_a_hundred_thousand_records_are_refused_at_once(service):
    payload = {"records": records(1, seed=1) + [{}] * 99_999}
    assert len(json.dumps(payload)) < 1_000_000  # under the body cap: the record count decides
    answer, seconds = _post(service, payload, "many-empty-records")
    print(f"100,000 records: {answer.status_code} in {seconds:.3f} s, {len(answer.content)} bytes")

    assert answer.status_code == 413
    assert answer.json()["detail"] == (
        "100000 records in one request; at most 10000 are accepted: "
        "send them in several requests, or score a file with a batch job"
    )
    assert len(answer.content) < 1_000
    assert seconds < 1.0
    assert not [row for row in read_log(service.folder) if row.get("request_id") == "many-empty-records"]


def test_many_bad_records_get_a_bounded_error_list_and_log_row(service):
    payload = {"records": records(1, seed=2) + [{}] * 9_999}  # the most the cap lets in
    answer, seconds = _post(service, payload, "capped-errors")
    print(f"10,000 records: {answer.status_code} in {seconds:.3f} s, {len(answer.content)} bytes")

    assert answer.status_code == 422
    body = answer.json()
    every = 9_999 * len(FEATURES)  # each empty record misses every feature
    assert body["error_count"] == every
    assert len(body["errors"]) == 100
    assert body["errors"][:2] == ["records[1]: missing feature x0", "records[1]: missing feature x1"]
    assert len(answer.content) < 10_000
    assert seconds < 1.0

    [row] = [row for row in read_log(service.folder) if row.get("request_id") == "capped-errors"]
    assert row["kind"] == "rejected"
    assert row["errors"][:100] == body["errors"]
    assert row["errors"][100:] == [f"… and {every - 100} more errors not listed ({every} in all)"]
    assert row["error_count"] == every
    assert len(json.dumps(row)) < 10_000
