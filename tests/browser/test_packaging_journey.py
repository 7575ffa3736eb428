"""IT operator, in a real browser: sees a failed validation and accepts it with a written reason."""

import pytest

from apps.accounts.roles import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "browser-pass-1"


def test_it_overrides_a_failed_validation_then_the_version_can_go_to_production(
    make_user, login, failed_validation_build
):
    version = failed_validation_build.version
    make_user("ivan", Role.IT_OPERATOR, team=None, password=PASSWORD)
    page = login("ivan", PASSWORD)
    page.goto(page.url.rstrip("/") + f"/versions/{version.pk}/")
    assert page.get_by_test_id("validation-verdict").inner_text() == "validation failed"
    report = page.get_by_test_id("validation-report")
    assert "holdout accuracy" in report.inner_text()

    # Production is refused while the validation stands failed.
    page.select_option("#id_stage", "production")
    page.get_by_role("button", name="Change stage").click()
    assert "stage: v1's validation failed" in page.locator(".messages").inner_text()

    page.fill("#id_override_reason", "pilot branch only; the business accepts 0.7 accuracy")
    page.get_by_role("button", name="Override").click()
    assert "overridden by ivan" in page.get_by_test_id("package").inner_text()
    page.select_option("#id_stage", "production")
    page.get_by_role("button", name="Change stage").click()
    assert "is now production" in page.locator(".messages").inner_text()
    assert page.get_by_test_id("package-download").is_visible()
