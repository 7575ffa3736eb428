"""Outcomes CSVs are read a row at a time and refused past a row or size cap (issue 13, point 7): an
18.6 MB file pushed a web worker to 858 MB before it was refused. Measured on a real gunicorn worker."""

import io

import pytest
import requests
from django.test import override_settings

from apps.accounts.services import token_create
from apps.serving.models import Outcome
from tests.integration.api.conftest import peak_rss_mb, worker_of
from tests.integration.deployments.test_outcomes_api import logged  # noqa: F401 (fixture)

# 18.6 MB as in the issue: request_id,row,value with a million-odd rows.
ROWS = 945_000


def outcomes_csv(rows: int) -> bytes:
    lines = (f"req-{i:08d},0,{'good' if i % 3 else 'bad'}\n" for i in range(rows))
    return b"request_id,row,value\n" + "".join(lines).encode()


@pytest.mark.django_db(transaction=True)
def test_an_18_mb_outcomes_csv_is_refused_in_bounded_memory(logged, start_web):  # noqa: F811
    url, master = start_web()
    worker = worker_of(master)
    headers = {"Authorization": f"Token {token_create(user=logged, name='memory')}"}
    send = {"endpoint": "credit-risk"}
    warm = requests.post(
        f"{url}/api/v1/outcomes/", headers=headers, data=send, files={"file": ("o.csv", outcomes_csv(3))}
    )
    assert warm.status_code == 200, warm.text
    before = peak_rss_mb(worker)
    content = outcomes_csv(ROWS)
    assert 18.5 < len(content) / 1e6 < 18.7
    answer = requests.post(
        f"{url}/api/v1/outcomes/", headers=headers, data=send, files={"file": ("o.csv", content)}, timeout=120
    )
    grew = peak_rss_mb(worker) - before
    print(f"peak RSS of the web worker: {before:.0f} MB before, +{grew:.0f} MB for the 18.6 MB CSV")
    assert grew < 100, f"the worker's peak memory grew by {grew:.0f} MB"
    assert answer.status_code == 400, answer.text
    assert answer.json()["file"] == [
        "has more than 100000 rows; send at most 100000 outcomes per call (MODELYARD_OUTCOMES_MAX_ROWS): "
        "split the file"
    ]
    assert not Outcome.objects.exists()


@pytest.mark.django_db
def test_caps_are_configured_and_named_on_the_api_and_the_page(logged, api_for, client):  # noqa: F811
    def named(content: bytes) -> io.BytesIO:
        handle = io.BytesIO(content)
        handle.name = "outcomes.csv"
        return handle

    api = api_for(logged)
    with override_settings(MODELYARD_OUTCOMES_MAX_ROWS=3):
        refused = api.post(
            "/api/v1/outcomes/",
            {"endpoint": "credit-risk", "file": named(outcomes_csv(4))},
            format="multipart",
        )
        assert refused.status_code == 400 and "more than 3 rows" in refused.json()["file"][0]
        client.force_login(logged)
        page = client.post(
            "/deployments/outcomes/", {"endpoint": "credit-risk", "file": named(outcomes_csv(4))}, follow=True
        )
        assert "more than 3 rows; send at most 3 outcomes per call" in page.content.decode()
    with override_settings(MODELYARD_OUTCOMES_MAX_MB=0.001):
        refused = api.post(
            "/api/v1/outcomes/",
            {"endpoint": "credit-risk", "file": named(outcomes_csv(100))},
            format="multipart",
        )
        assert refused.json()["file"] == [
            "is larger than 0.001 MB, the most an outcomes file may be (MODELYARD_OUTCOMES_MAX_MB): split it"
        ]
    ragged = api.post(
        "/api/v1/outcomes/",
        {"endpoint": "credit-risk", "file": named(b"request_id,value\nreq-1,bad,extra\n")},
        format="multipart",
    )
    assert ragged.json()["file"] == ["line 2 has more cells than the header"]
    accepted = api.post(
        "/api/v1/outcomes/",
        {
            "endpoint": "credit-risk",
            "file": named(b"\xef\xbb\xbfrequest_id,value\r\nreq-1,bad\r\n\r\nreq-2,good\r\n"),
        },
        format="multipart",
    )
    assert accepted.json()["accepted"] == 2 and Outcome.objects.count() == 2
