"""The web app started the documented way (`make web`: collectstatic, then gunicorn with
config/gunicorn.py) on production settings with DEBUG off answers its pages and their static files;
gunicorn refuses to start where static files were never collected (every page would be a 500);
and Django's deployment check has only the HTTPS warnings to make on a plain-HTTP trial."""

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from apps.accounts.roles import Role
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def _production_env(tmp_path: Path, port: int) -> dict:
    """Production settings over plain HTTP, on the test database, as docs/operations.md's trial has them."""
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("postgresql"):
        database_url = (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
        )
    else:
        database_url = f"sqlite:///{tmp_path / 'unused.sqlite3'}"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MODELYARD_WEB_"))}
    return {
        **base,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_SECURE_COOKIES": "false",
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "MODELYARD_WEB_BIND": f"127.0.0.1:{port}",
        "MODELYARD_WEB_WORKERS": "1",
        "MODELYARD_WEB_THREADS": "2",
    }


def _start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _wait_for(url: str, process: subprocess.Popen, log: Path, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the web app exited early:\n{log.read_text()[-3000:]}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.3)
    pytest.fail(f"the web app did not answer within {seconds} s:\n{log.read_text()[-3000:]}")


@pytest.mark.django_db(transaction=True)
def test_make_web_on_production_settings_serves_pages_and_their_static_files(tmp_path, make_user):
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("production settings run on PostgreSQL (DATABASE_URL)")
    ivan = make_user("ivan", role=Role.IT_OPERATOR, team="Platform")
    # Hashed as production hashes (the tests' settings use a fast hasher production does not know).
    ivan.password = PBKDF2PasswordHasher().encode("a long enough password 1", PBKDF2PasswordHasher().salt())
    ivan.save(update_fields=["password"])
    port, log = free_port(), tmp_path / "web.log"
    url = f"http://127.0.0.1:{port}"
    # `-o` keeps make from reinstalling the environment; BIN is this test's own environment.
    web = _start(
        ["make", "-o", ".venv/.installed-stamp", "web", f"BIN={BIN}"], _production_env(tmp_path, port), log
    )
    try:
        _wait_for(f"{url}/accounts/login/", web, log)
        session = requests.Session()
        login = session.get(f"{url}/accounts/login/", timeout=10)
        assert login.status_code == 200, login.text[:500]
        # Static files by their hashed names from the manifest, served by the app itself.
        assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', login.text)
        assert assets and all(re.search(r"\.[0-9a-f]{12}\.", asset) for asset in assets), assets
        for asset in assets:
            answer = session.get(url + asset, timeout=10)
            assert answer.status_code == 200 and answer.content, asset

        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
        signed_in = session.post(
            f"{url}/accounts/login/",
            data={"username": "ivan", "password": "a long enough password 1", "csrfmiddlewaretoken": token},
            headers={"Referer": f"{url}/accounts/login/"},
            timeout=10,
        )
        assert signed_in.status_code == 200 and "ivan" in signed_in.text, signed_in.text[-800:]
        for page in ("/", "/it/sla/", "/it/libraries/", "/models/", "/monitoring/", "/kpis/"):
            answer = session.get(url + page, timeout=30)
            assert answer.status_code == 200, (page, answer.status_code, answer.text[:300])
        plotly = session.get(url + "/it/sla/", timeout=30)
        chart_js = re.findall(r'src="(/static/vendor/plotly/[^"]+)"', plotly.text)
        assert chart_js and session.get(url + chart_js[0], timeout=10).status_code == 200
        assert (tmp_path / "static" / "staticfiles.json").exists()
    finally:
        _stop(web)
    assert "Booting worker" in log.read_text()


def test_gunicorn_refuses_to_start_without_collected_static_files(tmp_path):
    port, log = free_port(), tmp_path / "web.log"
    env = _production_env(tmp_path, port)
    web = _start([str(BIN / "gunicorn"), "-c", "config/gunicorn.py", "config.wsgi"], env, log)
    try:
        web.wait(timeout=60)
    finally:
        _stop(web)
    assert web.returncode != 0
    assert "static files have not been collected" in log.read_text()
    assert "collectstatic" in log.read_text()


def test_the_deployment_check_warns_only_about_https_on_a_plain_http_trial(tmp_path):
    env = _production_env(tmp_path, free_port())
    run = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = sorted(set(re.findall(r"\((\w+\.[EW]\d+)\)", run.stdout + run.stderr)))
    assert found == ["security.W008", "security.W012", "security.W016"], run.stdout + run.stderr
