"""Small display helpers for the monitoring templates."""

from datetime import datetime

from django import template

from apps.monitoring import display_names

register = template.Library()


@register.filter
def words(name) -> str:
    """A feature, check or effect in display_names' words (__prediction__ → prediction)."""
    return display_names.words(name)


@register.filter
def test_words(name) -> str:
    """two_proportion_z → two-proportion z-test."""
    return display_names.test_display(name)


@register.filter
def window_adjective(kind) -> str:
    """day → daily (never "dayly")."""
    return display_names.window_adjective(kind)


@register.simple_tag
def window_period(start, end) -> str:
    """A window [start, end) as the period it covers in the reader's zone: "Sat 5 Dec 2026 (UTC)"."""
    if not start or not end:
        return ""
    if isinstance(start, str):
        start, end = datetime.fromisoformat(start), datetime.fromisoformat(end)
    return f"{display_names.window_label(start, end)} ({display_names.zone_name()})"


@register.filter
def num(value, digits: int = 3) -> str:
    """A statistic or p-value as a person reads it: 3 significant digits, tiny ones in e-notation."""
    if value is None or value == "":
        return "—"
    value = float(value)
    if value != 0 and abs(value) < 10 ** -int(digits):
        return f"{value:.1e}"
    return f"{value:.{int(digits)}g}"
