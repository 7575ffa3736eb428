import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("MODELYARD_REQUIRE_BROWSER"):
            pytest.fail("Debian's Chromium is required (apt-get install chromium)")
        pytest.skip("Debian's Chromium is not installed (apt-get install chromium); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop; Django must allow its ORM from this thread.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


class LoginPage:
    """Page object for the login form."""

    def __init__(self, page, base_url):
        self.page, self.base_url = page, base_url

    def log_in(self, username, password):
        self.page.goto(f"{self.base_url}/accounts/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state()
        return self.page


@pytest.fixture
def login(page, live_server):
    return LoginPage(page, live_server.url).log_in
