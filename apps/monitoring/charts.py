"""The monitoring pages' Plotly figures: the drift heatmap, a feature's reference-versus-current
distribution, predicted-class shares over time, and performance over time (realised beside the
CBPE estimate). Time charts mark the endpoint's deployments (apps/sla/charts.py, _figure)."""

import math
from zoneinfo import ZoneInfo

import plotly.graph_objects as go

from apps.core.charts import _LAYOUT, Cached, cached, to_json  # noqa: F401  (cached: for the views)
from apps.monitoring.alerts import short_number
from apps.monitoring.display_names import (
    check_display,
    effect_display,
    feature_display,
    test_display,
    window_adjective,
    window_label,
    window_times,
    zone_name,
)
from apps.sla.charts import _figure

REFERENCE, CURRENT = "#3b6ea5", "#c2682b"
CLASS_COLOURS = ("#3b6ea5", "#c2682b", "#2e8b57", "#8e44ad", "#b03a48", "#5d6d7e")
# Effect ÷ floor: 0 (nothing) → 1 (the floor, the smallest effect worth flagging) → 3 and above.
HEATMAP_SCALE = [[0, "#f4f8fb"], [0.2, "#cfe3d6"], [1 / 3, "#f1d9a6"], [0.67, "#e8875b"], [1, "#b3261e"]]
HEATMAP_CAP = 3.0
COARSE_BINS = 30
SHARE_HOVER = "%{y:.1%} (95% CI %{customdata[0]:.1%}–%{customdata[1]:.1%}, n=%{customdata[2]})"


def cell_hover(feature: str, cell: dict, period: str = "") -> str:
    lines = [
        f"<b>{feature_display(feature)}</b> — {check_display(cell['check_name'])}",
        *([period] if period else []),
        f"{test_display(cell['test'])}: statistic {short_number(cell['statistic'])}",
        f"p {short_number(cell['p_value'])}, adjusted p {short_number(cell['adjusted_p'])}",
        f"{effect_display(cell['effect_name'])} {short_number(cell['effect_size'])} "
        f"(floor {short_number(cell['floor'])})",
        f"n = {cell['n_current']} vs {cell['n_reference']}",
        f"<b>flagged ({cell['severity']})</b>" if cell["flagged"] else "not flagged",
    ]
    if cell.get("quality_flags"):
        lines.append("also flagged: " + ", ".join(check_display(q) for q in cell["quality_flags"]))
    return "<br>".join(lines)


def heatmap_chart(data: dict, window: str, zone: str = "") -> go.Figure:
    """Features (rows) × windows (columns), coloured by effect ÷ floor, flagged cells marked ✕.
    customdata holds each cell's run id, for the page's click handler. ``zone`` names the reader's
    time zone (Django's current one by default); it is an argument so that it is in the cache key."""
    tz = ZoneInfo(zone) if zone else None
    # Each column is named by the period its window covers ([start, end), in the reader's zone),
    # not by its end: the daily window of 5 Dec ends at 6 Dec 00:00.
    x = [window_label(r["start"], r["end"], tz=tz, short=True) for r in data["runs"]]
    periods = [window_times(r["start"], r["end"], tz=tz) for r in data["runs"]]
    y = [feature_display(n) for n in data["features"]]
    z, hover, runs, flag_x, flag_y = [], [], [], [], []
    for name, line in zip(data["features"], data["cells"], strict=True):
        z.append([None if c is None or c["ratio"] is None else min(c["ratio"], HEATMAP_CAP) for c in line])
        hover.append(
            [
                "not tested" if c is None else cell_hover(name, c, period)
                for c, period in zip(line, periods, strict=True)
            ]
        )
        runs.append([[r["id"], name] for r in data["runs"]])
        for label, cell in zip(x, line, strict=True):
            if cell is not None and cell["flagged"]:
                flag_x.append(label)
                flag_y.append(feature_display(name))
    fig = go.Figure(
        go.Heatmap(
            x=x,
            y=y,
            z=z,
            zmin=0,
            zmax=HEATMAP_CAP,
            colorscale=HEATMAP_SCALE,
            hovertext=hover,
            hoverinfo="text",
            customdata=runs,
            xgap=1,
            ygap=1,
            colorbar={
                "title": {"text": "effect ÷ floor"},
                "tickvals": [0, 1, 2, 3],
                "ticktext": ["0", "1 (floor)", "2", "≥3"],
            },
        )
    )
    fig.add_trace(
        go.Scatter(
            x=flag_x,
            y=flag_y,
            mode="markers",
            marker={"symbol": "x-thin", "size": 9, "line": {"width": 2, "color": "#1d2430"}},
            name="flagged",
            hoverinfo="skip",
            showlegend=True,
        )
    )
    height = max(260, 90 + 24 * len(y))
    fig.update_layout(
        **{**_LAYOUT, "height": height, "margin": {"l": 110, "r": 20, "t": 30, "b": 70}},
        xaxis={
            "type": "category",
            "tickangle": -45,
            "title": {"text": f"{window_adjective(window)} windows ({zone_name(tz)})"},
        },
        yaxis={"type": "category", "autorange": "reversed"},
        legend={"orientation": "h", "y": 1.08, "x": 1, "xanchor": "right"},
    )
    return fig


def _coarse(edges: list[float], shares: list[float], low: float, high: float) -> list[float]:
    """Shares on the reference's fine quantile bins spread over COARSE_BINS equal-width bins of
    [low, high] (mass assumed uniform inside a fine bin, which holds about 1% of the reference);
    mass outside [low, high] goes to the end bins."""
    out = [0.0] * COARSE_BINS
    width = (high - low) / COARSE_BINS
    for a, b, share in zip(edges[:-1], edges[1:], shares, strict=True):
        if share == 0:
            continue
        if b <= a:
            out[min(max(int((a - low) / width), 0), COARSE_BINS - 1)] += share
            continue
        for i in range(COARSE_BINS):
            lo, hi = low + i * width, low + (i + 1) * width
            if i == 0:
                lo = -math.inf
            if i == COARSE_BINS - 1:
                hi = math.inf
            overlap = min(b, hi) - max(a, lo)
            if overlap > 0:
                out[i] += share * overlap / (b - a)
    return out


def distribution_chart(dist: dict, title: str) -> go.Figure:
    """Reference and current side by side: shares on equal-width bins for numbers (built from the
    reference's quantile bins, the range clipped at the reference's 1st and 99th percentiles so a
    long tail does not squash the rest, the tails counted in the end bins; values outside the
    reference's whole range are drawn as bars of their own), category shares for categoricals,
    text lengths for text."""
    fig = go.Figure()
    layout = {**_LAYOUT, "height": 320, "barmode": "group", "title": title, "yaxis_title": "share"}
    layout["legend"] = {"orientation": "h", "y": -0.25}
    if dist["kind"] == "categorical":
        names = dist["categories"]
        fig.add_trace(go.Bar(x=names, y=dist["reference"], name="reference", marker_color=REFERENCE))
        fig.add_trace(go.Bar(x=names, y=dist["current"], name="current window", marker_color=CURRENT))
        fig.update_layout(**layout, xaxis={"type": "category"})
        return fig
    edges = dist["edges"]
    if len(edges) < 2:
        fig.update_layout(**layout)
        return fig
    # With the fine grid (about 100 quantile bins), edges[1] and edges[-2] are the reference's 1st
    # and 99th percentiles; the rest of the tails is added to the end bins.
    fine = dist["kind"] == "numeric" and len(edges) >= 20
    low, high = (edges[1], edges[-2]) if fine else (edges[0], edges[-1])
    if high <= low:
        low, high = edges[0], edges[-1] if edges[-1] > edges[0] else edges[0] + 1
    width = (high - low) / COARSE_BINS
    centres = [low + (i + 0.5) * width for i in range(COARSE_BINS)]
    for label, shares, colour in (
        ("reference", dist["reference"], REFERENCE),
        ("current window", dist["current"], CURRENT),
    ):
        fig.add_trace(go.Bar(x=centres, y=_coarse(edges, shares, low, high), name=label, marker_color=colour))
    below, above = dist.get("below", 0.0), dist.get("above", 0.0)
    if below or above:
        fig.add_trace(
            go.Bar(
                x=[low - 2 * width, high + 2 * width],
                y=[below, above],
                name="current, outside the reference range",
                marker_color="#b3261e",
                width=width,
            )
        )
    axis = "length (characters)" if dist["kind"] == "text" else feature_display(dist["feature"])
    fig.update_layout(**layout, xaxis_title=axis, bargap=0.05)
    return fig


def shares_chart(shares: dict, events: list[dict]) -> go.Figure:
    """Each predicted class's share per window with its 95% band, and its reference share dashed."""
    fig = _figure("Predicted class shares", "share of predictions", events)
    times = [p["t"] for p in shares["points"]]
    for i, name in enumerate(shares["classes"]):
        colour = CLASS_COLOURS[i % len(CLASS_COLOURS)]
        rows = [p["shares"].get(name, {"share": 0.0, "low": 0.0, "high": 0.0}) for p in shares["points"]]
        fig.add_trace(
            go.Scatter(
                x=times + times[::-1],
                y=[r["high"] for r in rows] + [r["low"] for r in rows][::-1],
                fill="toself",
                fillcolor=colour,
                opacity=0.18,
                line={"width": 0},
                hoverinfo="skip",
                name=f'"{name}" 95% CI',
                showlegend=False,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=times,
                y=[r["share"] for r in rows],
                name=f'"{name}"',
                mode="lines+markers",
                marker={"size": 3},
                line={"color": colour},
                customdata=[
                    [r["low"], r["high"], p["n"]] for r, p in zip(rows, shares["points"], strict=True)
                ],
                hovertemplate=SHARE_HOVER,
            )
        )
        reference = shares["reference"].get(name)
        if reference is not None and times:
            fig.add_trace(
                go.Scatter(
                    x=[times[0], times[-1]],
                    y=[reference, reference],
                    name=f'"{name}" in the reference',
                    mode="lines",
                    line={"color": colour, "dash": "dash", "width": 1},
                )
            )
    fig.update_layout(yaxis={"tickformat": ".0%", "rangemode": "tozero"})
    return fig


def performance_chart(perf: dict, events: list[dict], metrics: tuple[str, ...]) -> go.Figure:
    """Realised metrics (solid, with their intervals) and CBPE estimates (dashed) per window."""
    fig = _figure("Performance", "value", events)
    for i, name in enumerate(metrics):
        colour = CLASS_COLOURS[i % len(CLASS_COLOURS)]
        for kind, dash, label in (
            ("realised", "solid", "realised"),
            ("estimated", "dash", "estimated (CBPE)"),
        ):
            points = perf[kind].get(name) or []
            if not points:
                continue
            fig.add_trace(
                go.Scatter(
                    x=[p["t"] for p in points],
                    y=[p["value"] for p in points],
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": [(p["high"] - p["value"]) if p["high"] is not None else 0 for p in points],
                        "arrayminus": [
                            (p["value"] - p["low"]) if p["low"] is not None else 0 for p in points
                        ],
                        "thickness": 1,
                        "width": 2,
                    },
                    name=f"{name} {label}",
                    mode="lines+markers",
                    line={"color": colour, "dash": dash},
                    customdata=[p["n"] for p in points],
                    hovertemplate="%{y:.3f} (n=%{customdata})",
                )
            )
    return fig


def figures(**named: go.Figure | Cached | None) -> dict[str, str]:
    return {name: to_json(fig) for name, fig in named.items() if fig is not None}
