"""While PostgreSQL cannot be reached the web app says so: the API answers JSON 503 with Retry-After and
the pages a plain 503 page, never an HTML 500 or a traceback (issue 13, point 7). A real gunicorn is
pointed at a port where no database listens; the shared PostgreSQL is never stopped."""

import pytest
import requests

from apps.accounts.unavailable import MESSAGE, RETRY_AFTER_SECONDS
from tests.conftest import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def web_without_database(start_web):
    url, _ = start_web(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/modelyard", MODELYARD_TEST_DB_NAME=None
    )
    return url


def assert_api_503(response):
    assert response.status_code == 503, response.text[:500]
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.json() == {"detail": MESSAGE}


def test_the_api_answers_json_503_with_retry_after(web_without_database):
    token = {"Authorization": "Token myt_some-token-the-database-would-have-checked"}
    assert_api_503(requests.get(f"{web_without_database}/api/v1/models/", headers=token, timeout=30))
    assert_api_503(
        requests.post(
            f"{web_without_database}/api/v1/outcomes/", headers=token, json={"outcomes": []}, timeout=30
        )
    )
    assert_api_503(requests.get(f"{web_without_database}/api/schema/", headers=token, timeout=30))


def test_a_signed_in_browser_gets_503_before_any_view_runs(web_without_database):
    """With a session cookie the session is read by a middleware, outside any DRF view."""
    cookies = {"sessionid": "a" * 32}
    assert_api_503(requests.get(f"{web_without_database}/api/v1/models/", cookies=cookies, timeout=30))
    page = requests.get(f"{web_without_database}/models/", cookies=cookies, timeout=30)
    assert page.status_code == 503
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert MESSAGE in page.text and "Traceback" not in page.text and "OperationalError" not in page.text
