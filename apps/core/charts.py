"""Plotly figures built on the server and drawn in the browser by our own copy of plotly.js.

Building a figure with plotly's graph objects costs 20–300 ms of CPU (validation, the template's
deep copies), more than the rest of a page. So pages pass ``cached(chart_function, *inputs)`` and
``to_json`` draws it only when those exact inputs were not drawn before: the cache key is a digest
of the function and of its inputs (model instances by their field values), so new data is a new
key and nothing has to be invalidated; old figures expire. The key also holds a digest of the
chart modules' source and plotly's version, so changed drawing code never serves an old figure."""

import datetime as dt
import decimal
import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import plotly
import plotly.graph_objects as go
from django.apps import apps
from django.core.cache import cache
from django.db.models import Model
from plotly.utils import PlotlyJSONEncoder

_LAYOUT = {"margin": {"l": 50, "r": 20, "t": 40, "b": 40}, "height": 300, "template": "plotly_white"}
FIGURE_CACHE_SECONDS = 6 * 3600


@functools.cache
def _chart_code() -> str:
    """A digest of plotly's version and of every installed app's chart modules (``charts.py``,
    ``*_charts.py``): a change to any of them is a new key for every figure."""
    sources = sorted(
        path
        for config in apps.get_app_configs()
        for pattern in ("charts.py", "*_charts.py")
        for path in Path(config.path).glob(pattern)
    )
    return hashlib.sha256(
        plotly.__version__.encode() + b"".join(p.read_bytes() for p in sources)
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
        return f"figure:{_chart_code()}:{self.build.__module__}.{self.build.__qualname__}:{digest}"


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
