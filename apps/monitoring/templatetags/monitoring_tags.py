"""Small display helpers for the monitoring templates."""

from django import template

register = template.Library()


@register.filter
def words(name) -> str:
    """null_rate → null rate; __prediction__ → prediction."""
    text = str(name or "")
    if text.startswith("__") and text.endswith("__"):
        text = text.strip("_")
    return text.replace("_", " ")


@register.filter
def num(value, digits: int = 3) -> str:
    """A statistic or p-value as a person reads it: 3 significant digits, tiny ones in e-notation."""
    if value is None or value == "":
        return "—"
    value = float(value)
    if value != 0 and abs(value) < 10 ** -int(digits):
        return f"{value:.1e}"
    return f"{value:.{int(digits)}g}"
