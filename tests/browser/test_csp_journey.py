"""Each role clicks through the pages that draw charts or swap htmx fragments, in a real Chromium
that enforces the Content-Security-Policy: every page arrives with the strict policy, the browser
reports no violation and no script error, and the charts and widgets still work — heatmap, alert
and explanation charts, the KPI page, the SLA charts, a job's progress polled by htmx, the
libraries page's select-all box, Swagger UI and the Django admin."""

import pytest

from apps.jobs.services import job_succeed
from apps.monitoring.models import Alert, Monitor
from tests.integration.headers.policy import policy_problems
from tests.integration.headers.site import PASSWORD, demo, site  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Runs before any script of every page: hands each violation the browser reports to the test.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => window.reportCspViolation(
  `${e.effectiveDirective} refused ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`
  + ` ${e.sample}`));
"""


class PolicyWatch:
    """Everything the browser says about the policy while the test clicks: violations, refusals
    in the console, uncaught script errors, and the policy of every page loaded."""

    def __init__(self, page):
        self.page, self.problems, self.pages = page, [], 0
        page.expose_function("reportCspViolation", lambda text: self.problems.append(f"violation: {text}"))
        page.add_init_script(REPORT_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"script error on {page.url}: {error}"))
        page.on("response", self._response)

    def _console(self, message):
        # Chromium's words for a refusal; a missing /favicon.ico is its business, not the policy's.
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            self.problems.append(f"console {message.type} on {self.page.url}: {message.text}")

    def _response(self, response):
        if response.request.resource_type != "document" or response.status != 200:
            return
        self.pages += 1
        for problem in policy_problems(response.headers.get("content-security-policy")):
            self.problems.append(f"{response.url}: {problem}")

    def drawn(self, selector: str, timeout: int = 15_000) -> None:
        """Plotly drew this chart: its SVG is there."""
        self.page.wait_for_selector(f"{selector} .main-svg", timeout=timeout)


@pytest.fixture
def watched(page):
    return PolicyWatch(page)


def test_each_role_clicks_through_charts_htmx_swagger_and_admin_under_the_policy(
    site,  # noqa: F811
    watched,
    login,
    live_server,
):
    monitor = Monitor.objects.get(deployment=site["deployment"])
    drift = Alert.objects.get(monitor=monitor, check_name="drift", feature="Income")

    # The data scientist: monitoring charts, a feature swapped in by htmx, an alert, explanations.
    page = login("dana", PASSWORD)
    page.click("nav >> text=Monitoring")
    page.click('[data-testid="monitor-table"] >> text=credit-default')
    for chart in ("heatmap", "chart-shares", "chart-score", "chart-performance", "chart-distribution"):
        watched.drawn(f'[data-testid="{chart}"]')
    page.select_option("#feature-picker", "Home")  # htmx swaps the feature's panel in
    watched.drawn('[data-testid="feature-panel"][data-feature="Home"] [data-testid="chart-distribution"]')
    page.click('[data-testid="alert-table"] >> text=drift · Income')
    watched.drawn('[data-testid="chart-distribution"]')
    share = Alert.objects.get(monitor=monitor, check_name="class_share", feature="__prediction__")
    page.goto(f"{live_server.url}/monitoring/alerts/{share.pk}/")
    watched.drawn('[data-testid="explanation-chart"]')  # the explanations, loaded by htmx

    # A job still running: htmx polls its progress until it is done, then stops.
    job = site["running_job"]
    with page.expect_response(f"**/jobs/{job.pk}/progress/"):
        page.goto(f"{live_server.url}/versions/{job.subject_id}/")
    watched.drawn("#profile-chart")
    assert "40%" in page.get_by_test_id("profile-job").inner_text()
    job_succeed(job)
    page.get_by_test_id("profile-job").get_by_test_id("job-status").filter(has_text="succeeded").wait_for()

    page.click("nav >> text=Service levels")
    for chart in ("latency", "throughput", "errors", "budget"):
        watched.drawn(f"#chart-{chart}")
    page.click("nav >> text=API")
    page.wait_for_selector(".swagger-ui .opblock-tag")  # Swagger UI read the schema and drew it
    assert page.locator(".swagger-ui .opblock").count() > 10
    page.goto(f"{live_server.url}/")
    page.click("text=Log out")

    # The business owner: KPI sparklines on her home, the KPI page and its impact breakdown.
    page = login("bea", PASSWORD)
    watched.drawn('[data-kpi="Approval rate"] .spark')
    page.locator('[data-testid="home-kpis"] [data-kpi="Approval rate"]').click()
    watched.drawn('[data-testid="kpi-chart"]')
    page.select_option("#id_segment", "inputs.Home")
    page.click('[data-testid="impact"] button[type=submit]')
    watched.drawn('[data-testid="impact-chart"]')
    page.goto(f"{live_server.url}/monitoring/alerts/{drift.pk}/")
    watched.drawn('[data-testid="chart-distribution"]')
    page.click("text=Log out")

    # IT: the libraries page's select-all box (static/js/app.js), the SLA page, the admin.
    page = login("ivan", PASSWORD)
    page.click("nav >> text=Libraries")
    boxes = page.locator('[data-testid="bulk-form"] input[name=finding]')
    assert boxes.count() >= 1
    select_all = page.get_by_label("select all", exact=True)
    select_all.check()
    assert all(boxes.nth(i).is_checked() for i in range(boxes.count()))
    select_all.uncheck()
    assert not any(boxes.nth(i).is_checked() for i in range(boxes.count()))
    page.click("nav >> text=Service levels")
    for chart in ("latency", "budget"):
        watched.drawn(f"#chart-{chart}")
    page.click("nav >> text=Packaging policy")
    page.wait_for_selector("#content-main")
    page.click("text=Log out")

    # The admin: a list, one of its filters, a change form, and the admin's own sidebar script.
    page = login("root", PASSWORD)
    page.click("nav >> text=Admin")
    page.click("#content-main >> text=Model versions")
    page.click("#changelist-filter a >> nth=1")
    page.click("#result_list tbody a >> nth=0")
    page.wait_for_selector("#content-main form")
    page.click("#toggle-nav-sidebar")
    page.wait_for_selector("#nav-sidebar", state="hidden")

    assert watched.pages >= 20
    assert not watched.problems, "\n".join(watched.problems)
