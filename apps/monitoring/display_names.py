"""The words people read for the platform's internal names, in one table: checks, statistical
tests, effect measures, the model's outputs as pseudo-features, and window kinds; and the label of
a window ``[start, end)`` by the period it covers, in the reader's time zone.

Pages, alert titles, e-mails, the business dashboard and the API's ``*_display`` fields all read
this module, so one thing has one name everywhere. Plain Python (the time zone is passed in, or
Django's current one is used), so kpis and dashboards, above monitoring, may import it too."""

from datetime import datetime, timedelta, tzinfo

NAMES: dict[str, dict[str, str]] = {
    # The model's outputs, profiled and checked like input features.
    "feature": {
        "__prediction__": "prediction",
        "__score__": "score",
    },
    "check": {
        "drift": "drift",
        "prediction_drift": "prediction drift",
        "score_drift": "score drift",
        "null_rate": "null rate",
        "zero_rate": "zero rate",
        "out_of_range": "out of range",
        "unseen_categories": "unseen categories",
        "type_errors": "type errors",
        "class_share": "class share",
        "performance": "performance",
        "text_length": "text length",
        "empty_rate": "empty rate",
        "oov_rate": "out-of-vocabulary rate",
        "top_tokens": "top tokens",
    },
    "test": {
        "ks": "Kolmogorov–Smirnov test",
        "wasserstein": "Wasserstein distance",
        "psi": "population stability index",
        "jensen_shannon": "Jensen–Shannon distance",
        "chi_squared": "chi-squared test",
        "two_proportion_z": "two-proportion z-test",
        "binomial_vs_baseline": "binomial test against the baseline",
        "beyond_reference_range": "share beyond the reference's range",
    },
    "effect": {
        "ks_d": "KS distance",
        "wasserstein": "Wasserstein distance",
        "psi": "PSI",
        "jensen_shannon": "Jensen–Shannon distance",
        "cramers_v": "Cramér's V",
        "rate_change": "rate change",
        "share_change": "share change",
    },
    # A window kind as a noun ("the last day") and as an adjective ("daily windows").
    "window": {"hour": "hour", "day": "day", "week": "week"},
    "window_adjective": {"hour": "hourly", "day": "daily", "week": "weekly"},
}


def _plain(name) -> str:
    """A name the table does not know: dunders and underscores become spaces (null_rate → null rate)."""
    text = str(name or "")
    if text.startswith("__") and text.endswith("__"):
        text = text.strip("_")
    return text.replace("_", " ")


def display(kind: str, name) -> str:
    """The words for ``name`` of one kind (feature, check, test, effect, window, window_adjective)."""
    return NAMES[kind].get(str(name or ""), _plain(name))


def feature_display(name) -> str:
    return display("feature", name)


def check_display(name) -> str:
    return display("check", name)


def test_display(name) -> str:
    return display("test", name)


def effect_display(name) -> str:
    return display("effect", name)


def window_noun(kind) -> str:
    """hour, day, week ("the last day")."""
    return display("window", kind)


def window_adjective(kind) -> str:
    """hour → hourly, day → daily, week → weekly."""
    return display("window_adjective", kind)


def words(name) -> str:
    """Any internal name, looked up as a feature, check, test or effect in that order."""
    key = str(name or "")
    for kind in ("feature", "check", "test", "effect"):
        if key in NAMES[kind]:
            return NAMES[kind][key]
    return _plain(name)


def feature_phrase(name) -> str:
    """A feature inside a sentence: "the prediction", "the score", or the column's own name."""
    key = str(name or "")
    return f"the {NAMES['feature'][key]}" if key in NAMES["feature"] else key


# --- windows ------------------------------------------------------------------------------------


def _zone(tz: tzinfo | None) -> tzinfo:
    if tz is not None:
        return tz
    from django.utils import timezone  # the reader's zone: Django's current one

    return timezone.get_current_timezone()


def zone_name(tz: tzinfo | None = None) -> str:
    zone = _zone(tz)
    return getattr(zone, "key", None) or str(zone)


def _day(moment: datetime, year: bool = True) -> str:
    return f"{moment:%a} {moment.day} {moment:%b}" + (f" {moment.year}" if year else "")


def _midnight(moment: datetime) -> bool:
    return (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0)


def window_label(start: datetime, end: datetime, *, tz: tzinfo | None = None, short: bool = False) -> str:
    """The period ``[start, end)`` covers, in ``tz`` (by default the reader's zone):

    whole days   "Sat 5 Dec 2026", or "Sun 29 Nov – Sat 5 Dec 2026" for a week (the last day in it);
    within a day "Sat 5 Dec 2026 14:00–15:00";
    otherwise    "Fri 4 Dec 2026 14:00 – Sat 5 Dec 2026 14:00".
    ``short`` leaves out the year (chart axes, where the neighbouring labels give it)."""
    zone = _zone(tz)
    first, last = start.astimezone(zone), end.astimezone(zone)
    year = not short
    if _midnight(first) and _midnight(last) and last.date() > first.date():
        final = last - timedelta(days=1)
        if final.date() == first.date():
            return _day(first, year)
        return f"{_day(first, False)} – {_day(final, year)}"
    if first.date() == last.date() or (_midnight(last) and last - first <= timedelta(days=1)):
        closing = "24:00" if _midnight(last) and last.date() != first.date() else f"{last:%H:%M}"
        return f"{_day(first, year)} {first:%H:%M}–{closing}"
    return f"{_day(first, year)} {first:%H:%M} – {_day(last, year)} {last:%H:%M}"


def window_times(start: datetime, end: datetime, *, tz: tzinfo | None = None) -> str:
    """The exact bounds, for a hover or a tooltip: "2026-12-05 00:00 – 2026-12-06 00:00 UTC"."""
    zone = _zone(tz)
    first, last = start.astimezone(zone), end.astimezone(zone)
    return f"{first:%Y-%m-%d %H:%M} – {last:%Y-%m-%d %H:%M} {zone_name(zone)}"
