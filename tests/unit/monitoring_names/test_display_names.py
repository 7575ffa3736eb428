"""The naming table (apps/monitoring/display_names.py): every internal name the checks produce has
words, and a window is labelled by the period it covers in the reader's time zone."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from apps.monitoring import display_names as names
from apps.monitoring.stats import checks, drift, quality, text

PARIS = ZoneInfo("Europe/Paris")


def test_every_check_test_and_effect_the_statistics_produce_has_words():
    produced_checks = set(checks.CHECKS) | set(quality.FLOORS) | set(text.FLOORS)
    produced_tests = set(drift.TESTS) | {"two_proportion_z", "binomial_vs_baseline", "beyond_reference_range"}
    produced_effects = set(drift.EFFECTS) | {"rate_change", "share_change"}
    assert produced_checks <= set(names.NAMES["check"])
    assert produced_tests <= set(names.NAMES["test"])
    assert produced_effects <= set(names.NAMES["effect"])
    for kind, table in names.NAMES.items():
        for internal, shown in table.items():
            assert "__" not in shown and "_" not in shown, (kind, internal, shown)


def test_internal_names_become_words():
    assert names.feature_display("__prediction__") == "prediction"
    assert names.feature_display(checks.SCORE) == "score"
    assert names.feature_display("Income") == "Income"  # a column keeps its own name
    assert names.feature_phrase("__prediction__") == "the prediction"
    assert names.feature_phrase("Home") == "Home"
    assert names.test_display("two_proportion_z") == "two-proportion z-test"
    assert names.check_display("class_share") == "class share"
    assert names.effect_display("cramers_v") == "Cramér's V"
    assert names.words("__score__") == "score" and names.words("null_rate") == "null rate"
    # Names the table does not know yet still lose their underscores.
    assert names.check_display("some_new_check") == "some new check"
    assert names.feature_display("__other__") == "other"


@pytest.mark.parametrize(("kind", "adjective"), [("hour", "hourly"), ("day", "daily"), ("week", "weekly")])
def test_window_kinds(kind, adjective):
    assert names.window_adjective(kind) == adjective
    assert names.window_noun(kind) == kind


def test_a_daily_window_is_labelled_by_the_day_it_covers_not_by_its_end():
    start = datetime(2026, 12, 5, tzinfo=UTC)
    end = start + timedelta(days=1)
    assert names.window_label(start, end, tz=UTC) == "Sat 5 Dec 2026"
    assert names.window_label(start, end, tz=UTC, short=True) == "Sat 5 Dec"
    assert names.window_times(start, end, tz=UTC) == "2026-12-05 00:00 – 2026-12-06 00:00 UTC"


def test_labels_follow_the_readers_zone():
    # The window of 5 Dec in Paris starts at 4 Dec 23:00 UTC.
    start = datetime(2026, 12, 5, tzinfo=PARIS)
    end = datetime(2026, 12, 6, tzinfo=PARIS)
    assert names.window_label(start.astimezone(UTC), end.astimezone(UTC), tz=PARIS) == "Sat 5 Dec 2026"
    # The UTC day, read in Paris, is not a whole day there: both ends are shown.
    utc_day = datetime(2026, 12, 5, tzinfo=UTC)
    assert (
        names.window_label(utc_day, utc_day + timedelta(days=1), tz=PARIS)
        == "Sat 5 Dec 2026 01:00 – Sun 6 Dec 2026 01:00"
    )
    assert names.zone_name(PARIS) == "Europe/Paris"


def test_hourly_and_weekly_windows():
    hour = datetime(2026, 12, 5, 14, tzinfo=UTC)
    assert names.window_label(hour, hour + timedelta(hours=1), tz=UTC) == "Sat 5 Dec 2026 14:00–15:00"
    last = datetime(2026, 12, 5, 23, tzinfo=UTC)
    assert names.window_label(last, last + timedelta(hours=1), tz=UTC) == "Sat 5 Dec 2026 23:00–24:00"
    week_end = datetime(2026, 12, 6, tzinfo=UTC)
    assert names.window_label(week_end - timedelta(days=7), week_end, tz=UTC) == "Sun 29 Nov – Sat 5 Dec 2026"
    # A rolling day that ends on the hour: its two ends.
    end = datetime(2026, 12, 5, 14, tzinfo=UTC)
    assert (
        names.window_label(end - timedelta(days=1), end, tz=UTC)
        == "Fri 4 Dec 2026 14:00 – Sat 5 Dec 2026 14:00"
    )
