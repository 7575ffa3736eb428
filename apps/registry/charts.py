"""The registry's figures, drawn through the chart cache of ``apps.core.charts``."""

import plotly.graph_objects as go

from apps.core.charts import _LAYOUT


def profile_chart(column: dict) -> go.Figure | None:
    """The reference distribution of one feature: a histogram for numbers and text lengths,
    bars of category counts for categoricals."""
    title = column["name"]
    if "histogram" in column:
        edges, counts = column["histogram"]["edges"], column["histogram"]["counts"]
        centres = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)]
        widths = [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]
        label = "length (characters)" if column["type"] == "text" else column["name"]
        fig = go.Figure(go.Bar(x=centres, y=counts, width=widths, marker_color="#3b6ea5", name="reference"))
        fig.update_layout(title=title, xaxis_title=label, yaxis_title="rows", bargap=0.02, **_LAYOUT)
        return fig
    if "categories" in column:
        cats = column["categories"]
        fig = go.Figure(go.Bar(x=list(cats), y=list(cats.values()), marker_color="#3b6ea5", name="reference"))
        fig.update_layout(title=title, yaxis_title="rows", **_LAYOUT)
        return fig
    return None
