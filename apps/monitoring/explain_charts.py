"""A small Plotly figure per explanation, built from the stored analysis: the metric in the slice
in the baseline and in the window (bars), beside the same metric over all rows in scope (a dashed
line), so a reader sees at once how far the slice moved against everyone else. No Django here."""

import json


def _scale(value, percent: bool):
    if value is None:
        return None
    return round(100 * value, 2) if percent else value


def explanation_figure(explanation: dict, overall: dict, *, percent: bool, baseline: str) -> str:
    """The figure as JSON for a ``data-figure`` attribute (static/js/charts.js draws it)."""
    x = [baseline, "window"]
    unit = "%" if percent else ""
    inside = [_scale(explanation.get(k), percent) for k in ("metric_reference", "metric_current")]
    everyone = [_scale(overall.get(k), percent) for k in ("reference", "current")]
    figure = {
        "data": [
            {
                "type": "bar",
                "x": x,
                "y": inside,
                "name": "in the slice",
                "marker": {"color": ["#9db4d3", "#c0392b" if inside[1] > inside[0] else "#2e86c1"]},
                "hovertemplate": f"%{{x}}: %{{y:.3g}}{unit} in the slice<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": x,
                "y": everyone,
                "name": "all rows",
                "line": {"dash": "dash", "color": "#555"},
                "hovertemplate": f"%{{x}}: %{{y:.3g}}{unit} over all rows<extra></extra>",
            },
        ],
        "layout": {
            "height": 150,
            "width": 260,
            "margin": {"l": 40, "r": 8, "t": 8, "b": 24},
            "showlegend": False,
            "yaxis": {"ticksuffix": unit, "rangemode": "tozero"},
            "bargap": 0.45,
        },
    }
    return json.dumps(figure)
