"""The SLA page's Plotly figures: latency against the SLO, throughput, error rates, error budget
and worker CPU and memory, with the endpoint's deployments drawn as labelled vertical lines."""

import plotly.graph_objects as go

from apps.core.charts import _LAYOUT, cached, to_json

_VERSION_COLOURS = ("#3b6ea5", "#c2682b", "#2e8b57", "#8e44ad", "#b03a48", "#5d6d7e")
_PERCENTILE_STYLE = {50: ("#8fb3d9", "dot"), 95: ("#3b6ea5", "dash"), 99: ("#1d3f66", "solid")}


def _times(points: list[dict]) -> list[str]:
    return [p["t"] for p in points]


def _figure(title: str, yaxis: str, events: list[dict], **layout) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        title=title,
        yaxis_title=yaxis,
        hovermode="x unified",
        legend={"orientation": "h", "y": -0.2},
        **{**_LAYOUT, "height": 320, **layout},
    )
    for event in events:
        when = event["t"].isoformat() if hasattr(event["t"], "isoformat") else event["t"]
        fig.add_shape(
            type="line",
            x0=when,
            x1=when,
            xref="x",
            yref="paper",
            y0=0,
            y1=1,
            line={"color": "#888", "dash": "dot"},
        )
        fig.add_annotation(
            x=when,
            y=1,
            xref="x",
            yref="paper",
            text=event["label"],
            showarrow=False,
            yanchor="bottom",
            font={"size": 10},
        )
    return fig


def latency_chart(report: dict) -> go.Figure:
    slo = report["slo"]
    fig = _figure("Latency (ms)", "ms", report["events"])
    times = _times(report["total"])
    for q, (colour, dash) in _PERCENTILE_STYLE.items():
        fig.add_trace(
            go.Scatter(
                x=times,
                y=[p[f"p{q}"] for p in report["total"]],
                name=f"p{q}",
                mode="lines",
                line={"color": colour, "dash": dash},
            )
        )
    if len(report["versions"]) > 1:
        for i, (number, points) in enumerate(report["versions"].items()):
            fig.add_trace(
                go.Scatter(
                    x=times,
                    y=[p[f"p{slo.latency_percentile}"] for p in points],
                    name=f"v{number} p{slo.latency_percentile}",
                    mode="lines",
                    line={"color": _VERSION_COLOURS[i % len(_VERSION_COLOURS)], "width": 1},
                )
            )
    fig.add_trace(
        go.Scatter(
            x=[times[0], times[-1]] if times else [],
            y=[slo.latency_ms, slo.latency_ms],
            name=f"SLO p{slo.latency_percentile} ≤ {slo.latency_ms:g} ms",
            mode="lines",
            line={"color": "#b3261e", "dash": "dash"},
        )
    )
    return fig


def throughput_chart(report: dict) -> go.Figure:
    fig = _figure("Throughput (requests/s)", "req/s", report["events"])
    for i, (number, points) in enumerate(report["versions"].items()):
        fig.add_trace(
            go.Scatter(
                x=_times(points),
                y=[p["rps"] for p in points],
                name=f"v{number}" if number else "no version chosen",
                stackgroup="rps",
                line={"color": _VERSION_COLOURS[i % len(_VERSION_COLOURS)]},
            )
        )
    return fig


def error_chart(report: dict) -> go.Figure:
    fig = _figure("Error rate (%)", "% of requests", report["events"])
    times = _times(report["total"])
    for key, name, colour in (
        ("error_rate", "server errors (5xx)", "#b3261e"),
        ("client_error_rate", "client errors (4xx)", "#a86b00"),
    ):
        fig.add_trace(
            go.Scatter(
                x=times,
                y=[None if p[key] is None else 100 * p[key] for p in report["total"]],
                name=name,
                mode="lines+markers",
                marker={"size": 4},
                line={"color": colour},
            )
        )
    allowed = 100 - report["slo"].availability_percent
    fig.add_trace(
        go.Scatter(
            x=[times[0], times[-1]] if times else [],
            y=[allowed, allowed],
            name=f"allowed by the SLO ({allowed:.3g}%)",
            mode="lines",
            line={"color": "#888", "dash": "dash"},
        )
    )
    return fig


def budget_chart(report: dict) -> go.Figure:
    fig = _figure(
        "Error budget",
        "budget remaining (%)",
        report["events"],
        yaxis2={"title": "burn rate", "overlaying": "y", "side": "right", "rangemode": "tozero"},
    )
    times = _times(report["budget"])
    fig.add_trace(
        go.Scatter(
            x=times,
            y=[None if p["remaining"] is None else 100 * p["remaining"] for p in report["budget"]],
            name="remaining since the period began",
            mode="lines",
            line={"color": "#1f7a4d"},
        )
    )
    fig.add_trace(
        go.Bar(
            x=times,
            y=[p["burn_rate"] for p in report["budget"]],
            name="burn rate (1 = exactly on target)",
            yaxis="y2",
            marker_color="#f1b9b4",
            opacity=0.6,
        )
    )
    return fig


def worker_charts(workers: list[dict], events: list[dict]) -> tuple[go.Figure, go.Figure]:
    cpu = _figure("Worker CPU (% of one core)", "%", events)
    rss = _figure("Worker memory (resident, MiB)", "MiB", events)
    for i, worker in enumerate(workers):
        name = f"{worker['host']}:{worker['pid']}"
        colour = _VERSION_COLOURS[i % len(_VERSION_COLOURS)]
        times = [s["t"] for s in worker["samples"]]
        cpu.add_trace(
            go.Scatter(
                x=times,
                y=[s["cpu_percent"] for s in worker["samples"]],
                name=name,
                mode="lines",
                line={"color": colour},
            )
        )
        rss.add_trace(
            go.Scatter(
                x=times,
                y=[round(s["rss_bytes"] / 2**20, 1) for s in worker["samples"]],
                name=name,
                mode="lines",
                line={"color": colour},
            )
        )
    return cpu, rss


def sla_figures(report: dict, workers: list[dict] | None) -> dict[str, str]:
    """Chart id → figure JSON; worker charts only when ``workers`` is given (IT) and not empty."""
    figures = {
        "latency": cached(latency_chart, report),
        "throughput": cached(throughput_chart, report),
        "errors": cached(error_chart, report),
        "budget": cached(budget_chart, report),
    }
    if workers:
        figures["cpu"], figures["memory"] = (
            cached(_cpu_chart, workers, report["events"]),
            cached(_memory_chart, workers, report["events"]),
        )
    return {name: to_json(fig) for name, fig in figures.items()}


def _cpu_chart(workers: list[dict], events: list[dict]) -> go.Figure:
    return worker_charts(workers, events)[0]


def _memory_chart(workers: list[dict], events: list[dict]) -> go.Figure:
    return worker_charts(workers, events)[1]
