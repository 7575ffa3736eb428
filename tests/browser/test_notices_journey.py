"""The bell in the top bar: a notice shows as an unread count, the bell opens the inbox, the notice
links to its object, and marking it read clears the count."""

import pytest

from apps.notices.models import Notice

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "browser-pass-1"


def test_the_bell_counts_unread_notices_and_the_inbox_clears_them(make_user, login):
    dana = make_user("dana", password=PASSWORD)
    for number in (1, 2):
        Notice.objects.create(
            recipient=dana, kind=Notice.Kind.ALERT, title=f"drift alert {number}", url="/monitoring/alerts/"
        )
    page = login("dana", PASSWORD)
    assert page.get_by_test_id("bell-count").inner_text() == "2"

    page.get_by_test_id("bell").click()
    page.wait_for_url("**/notices/")
    rows = page.get_by_test_id("notice")
    assert rows.count() == 2
    rows.filter(has_text="drift alert 1").get_by_role("button", name="Mark read").click()
    assert page.get_by_test_id("bell-count").inner_text() == "1"
    page.get_by_test_id("read-all").click()
    assert page.get_by_test_id("bell-count").count() == 0
    assert Notice.objects.filter(recipient=dana, read_at__isnull=True).count() == 0
