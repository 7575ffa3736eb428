"""A KPI value as people read it: a percent, an amount of money or a number, to the KPI's decimals."""


def format_value(kpi, value: float | None) -> str:
    """``kpi`` needs ``unit``, ``decimals`` and ``currency`` (a KpiDefinition will do)."""
    if value is None:
        return "–"
    decimals = kpi.decimals
    if kpi.unit == "percent":
        return f"{value * 100:.{decimals}f}%"
    if kpi.unit == "currency":
        return f"{value:,.{decimals}f} {kpi.currency}".strip()
    return f"{value:,.{decimals}f}"
