"""The KPI pages' Plotly figures: a KPI's series with its interval band, the target band shaded and
the annotations (apps/kpis/annotations.py) as vertical markers with hover labels; a tile's
sparkline; the impact breakdown by segment. Drawn by our own copy of plotly.js (static/js)."""

import plotly.graph_objects as go

from apps.core.charts import _LAYOUT, Cached, cached, to_json

LINE, BAND, TARGET = "#3b6ea5", "#3b6ea5", "#2e8b57"
OUT_OF_BAND = "#b3261e"
MARKER_COLOURS = {
    "deployment": "#1d3f66",
    "canary": "#8e44ad",
    "promotion": "#1d3f66",
    "rollback": "#c2682b",
    "retired": "#5d6d7e",
    "patch": "#2e8b57",
    "alert": "#b3261e",
    "decision": "#a86b00",
    "kpi_alert": "#b3261e",
}


def _axis_format(unit: str, decimals: int) -> dict:
    if unit == "percent":
        return {"tickformat": f".{max(decimals - 1, 0)}%"}
    return {"tickformat": f",.{decimals}f"}


def _hover_value(unit: str, decimals: int) -> str:
    return f"%{{y:.{decimals}%}}" if unit == "percent" else f"%{{y:,.{decimals}f}}"


def series_chart(kpi, points: list[dict], annotations: list[dict], *, title: str = "") -> go.Figure:
    """The KPI per window (x = window start) with its 95% interval as a band, the target band
    shaded, out-of-band points in red, and one dotted vertical line per annotation; hovering the
    small triangle at the top of a line shows its label (a second y axis holds them)."""
    fig = go.Figure()
    xs = [p["start"] for p in points]
    valued = [p for p in points if p["value"] is not None]
    if kpi.band_low is not None or kpi.band_high is not None:
        low = kpi.band_low if kpi.band_low is not None else min([p["value"] for p in valued] or [0])
        high = kpi.band_high if kpi.band_high is not None else max([p["value"] for p in valued] or [1])
        fig.add_hrect(y0=low, y1=high, fillcolor=TARGET, opacity=0.08, line_width=0, layer="below")
        for edge in (kpi.band_low, kpi.band_high):
            if edge is not None:
                fig.add_hline(y=edge, line={"color": TARGET, "width": 1, "dash": "dot"})
    if kpi.target is not None:
        fig.add_hline(y=kpi.target, line={"color": TARGET, "width": 1.5, "dash": "dash"})
    with_interval = [p for p in valued if p["low"] is not None and p["high"] is not None]
    if with_interval:
        fig.add_trace(
            go.Scatter(
                x=[p["start"] for p in with_interval] + [p["start"] for p in with_interval][::-1],
                y=[p["high"] for p in with_interval] + [p["low"] for p in with_interval][::-1],
                fill="toself",
                fillcolor=BAND,
                opacity=0.18,
                line={"width": 0},
                hoverinfo="skip",
                name="95% interval",
            )
        )
    hover = _hover_value(kpi.unit, kpi.decimals)
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=[p["value"] for p in points],
            mode="lines+markers",
            name=kpi.name,
            line={"color": LINE},
            marker={
                "size": 8,
                "color": [OUT_OF_BAND if p["status"] == "out_of_band" else LINE for p in points],
            },
            customdata=[[p["label"], p["n"], p["status"].replace("_", " "), p["message"]] for p in points],
            hovertemplate=f"%{{customdata[0]}}: {hover} (n=%{{customdata[1]}}, %{{customdata[2]}})"
            "<br>%{customdata[3]}<extra></extra>",
        )
    )
    for a in annotations:
        colour = MARKER_COLOURS.get(a["kind"], "#888")
        fig.add_vline(x=a["ts"], line={"color": colour, "width": 1, "dash": "dot"})
    if annotations:
        fig.add_trace(
            go.Scatter(
                x=[a["ts"] for a in annotations],
                y=[1.0] * len(annotations),
                yaxis="y2",
                mode="markers",
                marker={
                    "symbol": "triangle-down",
                    "size": 11,
                    "color": [MARKER_COLOURS.get(a["kind"], "#888") for a in annotations],
                },
                hovertext=[f"{a['ts']:%Y-%m-%d %H:%M} UTC · {a['label']}" for a in annotations],
                hoverinfo="text",
                name="events",
            )
        )
    fig.update_layout(
        **{**_LAYOUT, "height": 380, "margin": {"l": 60, "r": 20, "t": 40, "b": 40}},
        title=title or kpi.name,
        hovermode="closest",
        legend={"orientation": "h", "y": -0.15},
        yaxis=_axis_format(kpi.unit, kpi.decimals),
        yaxis2={"overlaying": "y", "range": [0, 1.05], "visible": False, "fixedrange": True},
    )
    return fig


def sparkline(points: list[dict]) -> go.Figure:
    """A tile's last windows, no axes."""
    fig = go.Figure(
        go.Scatter(
            x=[p["start"] for p in points],
            y=[p["value"] for p in points],
            mode="lines+markers",
            line={"color": LINE, "width": 1.5},
            marker={
                "size": 4,
                "color": [OUT_OF_BAND if p["status"] == "out_of_band" else LINE for p in points],
            },
            hoverinfo="skip",
        )
    )
    fig.update_layout(
        height=60,
        margin={"l": 2, "r": 2, "t": 2, "b": 2},
        xaxis={"visible": False},
        yaxis={"visible": False},
        showlegend=False,
        template="none",  # no theme: a tile's figure stays a few hundred bytes
    )
    return fig


def breakdown_chart(
    kpi, rows: list[dict], field: str, labels: tuple[str, str] = ("before", "after")
) -> go.Figure:
    """Before and after (or the two canary arms) per segment value, each with its 95% interval."""
    fig = go.Figure()
    names = [str(r["segment"]) for r in rows]
    for key, label, colour in (("before", labels[0], "#8fb3d9"), ("after", labels[1], "#c2682b")):
        est = [r[key] for r in rows]
        fig.add_trace(
            go.Bar(
                x=names,
                y=[e["value"] for e in est],
                name=label,
                marker_color=colour,
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [
                        (e["high"] - e["value"]) if e["value"] is not None and e["high"] is not None else 0
                        for e in est
                    ],
                    "arrayminus": [
                        (e["value"] - e["low"]) if e["value"] is not None and e["low"] is not None else 0
                        for e in est
                    ],
                },
            )
        )
    fig.update_layout(
        **{**_LAYOUT, "height": 300},
        title=f"{kpi.name} by {field}",
        barmode="group",
        xaxis={"type": "category"},
        yaxis=_axis_format(kpi.unit, kpi.decimals),
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


__all__ = ["cached", "to_json"]


def figures(**named: go.Figure | Cached | None) -> dict[str, str]:
    return {name: to_json(fig) for name, fig in named.items() if fig is not None}
