"""Plotly figures built on the server and drawn in the browser by our own copy of plotly.js.

Building a figure with plotly's graph objects costs 20–300 ms of CPU (validation, the template's
deep copies), more than the rest of a page. So pages pass ``cached(chart_function, *inputs)`` and
``to_json`` draws it only when those exact inputs were not drawn before: the cache key is a digest
of the function and of its inputs (model instances by their field values), so new data is a new
key and nothing has to be invalidated; old figures expire. The key also holds a digest of the
chart modules' source and plotly's version, so changed drawing code never serves an old figure."""

import datetime as dt
import decimal
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import plotly
import plotly.graph_objects as go
from django.core.cache import cache
from django.db.models import Model
from plotly.utils import PlotlyJSONEncoder

_LAYOUT = {"margin": {"l": 50, "r": 20, "t": 40, "b": 40}, "height": 300, "template": "plotly_white"}
FIGURE_CACHE_SECONDS = 6 * 3600

_APPS = Path(__file__).resolve().parents[1]
_CHART_CODE = hashlib.sha256(
    plotly.__version__.encode()
    + b"".join(
        (_APPS / name).read_bytes()
        for name in (
            "dashboards/charts.py",
            "dashboards/monitoring_charts.py",
            "dashboards/sla_charts.py",
            "kpis/charts.py",
        )
    )
).hexdigest()[:12]


@dataclass(frozen=True)
class Cached:
    """A figure to draw with ``build(*args, **kwargs)`` only if the cache does not have it."""

    build: Callable[..., go.Figure]
    args: tuple
    kwargs: dict = field(default_factory=dict)

    def key(self) -> str:
        inputs = json.dumps([self.args, self.kwargs], sort_keys=True, default=_plain, separators=(",", ":"))
        digest = hashlib.sha256(inputs.encode()).hexdigest()
        return f"figure:{_CHART_CODE}:{self.build.__module__}.{self.build.__qualname__}:{digest}"


def cached(build: Callable[..., go.Figure], *args, **kwargs) -> Cached:
    return Cached(build, args, kwargs)


def _plain(value):
    """Inputs that JSON does not know, written out whole so that any change changes the key."""
    if isinstance(value, Model):
        return [
            type(value).__name__,
            {f.attname: getattr(value, f.attname) for f in value._meta.concrete_fields},
        ]
    if isinstance(value, dt.datetime | dt.date | dt.time | dt.timedelta | decimal.Decimal):
        return repr(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    return repr(value)


def to_json(figure: go.Figure | Cached) -> str:
    """The figure's JSON; for a ``Cached`` one whose function drew nothing (None), ""."""
    if isinstance(figure, Cached):
        key = figure.key()
        drawn = cache.get(key)
        if drawn is None:
            built = figure.build(*figure.args, **figure.kwargs)
            drawn = "" if built is None else to_json(built)
            cache.set(key, drawn, FIGURE_CACHE_SECONDS)
        return drawn
    return json.dumps(figure.to_plotly_json(), cls=PlotlyJSONEncoder)


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
