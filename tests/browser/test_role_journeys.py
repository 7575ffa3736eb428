"""Each role logs in through a real browser and lands on its own home page."""

import joblib
import numpy
import pytest
import sklearn

from apps.accounts.roles import Role
from tests.conftest import DATA
from tests.shared_data import require

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "browser-pass-1"


@pytest.mark.parametrize(
    ("username", "role", "team", "title", "nav"),
    [
        ("dana", Role.DATA_SCIENTIST, "Credit Risk", "Data science — Credit Risk", "Register a model"),
        ("ivan", Role.IT_OPERATOR, None, "Operations — every team's models", "Models"),
        ("bea", Role.BUSINESS_OWNER, None, "Business — the models you sponsor", "Models"),
        ("root", Role.ADMIN, None, "Operations — every team's models", "Admin"),
    ],
)
def test_each_role_sees_its_home_page(make_user, login, username, role, team, title, nav):
    make_user(username, role, team=team, password=PASSWORD)
    page = login(username, PASSWORD)
    assert page.get_by_test_id("home-title").inner_text() == title
    assert page.get_by_role("navigation").get_by_text(nav, exact=True).is_visible()
    assert role.label in page.get_by_test_id("who").inner_text()
    if role == Role.BUSINESS_OWNER:
        assert page.get_by_role("navigation").get_by_text("Register a model").count() == 0


def test_wrong_password_stays_on_login(make_user, login):
    make_user("dana", password=PASSWORD)
    page = login("dana", "not-the-password")
    assert "/accounts/login/" in page.url
    assert page.get_by_text("Wrong username or password").is_visible()


def test_repeated_wrong_passwords_lead_to_the_lockout_page(make_user, login, live_server):
    make_user("dana", password=PASSWORD)
    for _ in range(5):
        login("dana", "not-the-password")
    page = login("dana", PASSWORD)  # the right password, too late
    locked = page.get_by_test_id("locked-out")
    assert "Sign-in locked" in locked.inner_text() and "15 minutes" in locked.inner_text()
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url


def test_the_api_docs_open_for_a_signed_in_user_only(make_user, login, page, live_server):
    page.goto(f"{live_server.url}/api/docs/")
    assert "/accounts/login/" in page.url
    make_user("dana", password=PASSWORD)
    page = login("dana", PASSWORD)
    page.goto(f"{live_server.url}/api/docs/")
    # Swagger UI fetched the schema with the session and lists the operations.
    page.get_by_text("/api/v1/auth/token/", exact=True).first.wait_for()
    assert page.get_by_text("Modelyard API").first.is_visible()


def test_data_scientist_registers_in_the_browser_and_sees_schema_and_profile(
    celery_worker, make_user, login, tmp_path, credit_model_bytes, credit_csv_bytes
):
    require(DATA)
    make_user("dana", password=PASSWORD)
    model_file, csv_file = tmp_path / "credit.joblib", tmp_path / "train.csv"
    model_file.write_bytes(credit_model_bytes)
    csv_file.write_bytes(credit_csv_bytes)
    page = login("dana", PASSWORD)
    page.get_by_role("navigation").get_by_role("link", name="Register a model").click()

    # A bad file first: the error names the field, and nothing is registered.
    bad = tmp_path / "notes.txt"
    bad.write_text("not a model")
    page.fill("#id_model", "credit-default")
    page.set_input_files("#id_artifact", str(bad))
    page.get_by_role("button", name="Register", exact=True).click()
    assert "unrecognised model format" in page.locator(".errorlist").first.inner_text()

    page.fill("#id_model", "credit-default")
    page.set_input_files("#id_artifact", str(model_file))
    page.set_input_files("#id_reference", str(csv_file))
    page.fill("#id_target", "Status")
    # What the pickle imports must be pinned (the browser cannot read the environment it came from).
    pins = f"scikit-learn=={sklearn.__version__}\njoblib=={joblib.__version__}\nnumpy=={numpy.__version__}"
    page.fill("#id_requirements", pins)
    page.get_by_role("button", name="Register", exact=True).click()
    page.wait_for_url("**/versions/*/")
    assert "credit-default v1" in page.locator("h1").inner_text()
    assert "unsafe format" in page.content()
    schema = page.get_by_test_id("schema")
    assert schema.get_by_text("Income", exact=True).is_visible()
    # htmx polls the job until the worker has profiled the reference data.
    page.get_by_test_id("profile-job").get_by_test_id("job-status").filter(has_text="succeeded").wait_for(
        timeout=60_000
    )
    page.reload()
    page.locator("#profile-chart .main-svg").first.wait_for()
    page.get_by_role("link", name="Income").first.click()
    page.locator("#profile-chart .main-svg").first.wait_for()
    assert "Income" in page.locator("#profile-chart").inner_text()

    # The package built on registration: its job's progress, then the report and the lock table.
    package = page.get_by_test_id("package")
    package.get_by_test_id("job-status").filter(has_text="succeeded").wait_for(timeout=120_000)
    assert "100%" in package.get_by_test_id("job-progress").inner_text()
    page.reload()
    assert package.get_by_test_id("validation-verdict").inner_text() == "validation passed"
    lock = package.get_by_test_id("lock-table").inner_text()
    assert "scikit-learn" in lock and sklearn.__version__ in lock
    assert package.get_by_test_id("package-download").is_visible()
