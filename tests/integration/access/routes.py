"""Every page and API route of the URL configuration, as the access matrix sees it: its name
(``namespace:name``), its pattern, the URL keyword arguments it takes and the HTTP methods it
answers. Read from Django's resolver, so a new route shows up here without anyone listing it."""

import inspect
import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

# Left out on purpose: the admin has its own test (it walks every change form), and static and
# media files are served by whitenoise / the web server, not by a view.
SKIPPED_PREFIXES = ("admin/", "static/", "media/")


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name", the key of the matrix
    pattern: str  # as written in the URL configuration, for messages
    kwargs: tuple[str, ...]  # the URL keyword arguments, e.g. ("pk",)
    methods: frozenset[str]  # the methods the view certainly answers
    optional: frozenset[str] = frozenset()  # methods an unrestricted page view may also serve (POST)


def all_routes() -> dict[str, Route]:
    routes: dict[str, Route] = {}
    for name, pattern, url in _walk(get_resolver().url_patterns):
        if pattern.startswith(SKIPPED_PREFIXES) or "format" in url.pattern.regex.groupindex:
            continue  # DRF's ``.json`` suffix variants repeat the route they suffix
        methods, optional = _methods(url.callback)
        kwargs = tuple(k for k in url.pattern.regex.groupindex if k != "format")
        routes[name] = Route(name, _readable(pattern), kwargs, methods, optional)
    return routes


def _readable(pattern: str) -> str:
    """DRF's router writes regular expressions: ``^kpis/(?P<pk>[^/.]+)/$`` reads ``kpis/<pk>/``."""
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", pattern).replace("^", "").replace("$", "")


def _walk(patterns, prefix: str = "", namespace: str | None = None):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            pattern = prefix + str(entry.pattern)
            if entry.name is None:  # the matrix needs a name to key the route by, and reverse() too
                yield f"(unnamed: give /{pattern} a name)", pattern, entry
                continue
            yield f"{namespace}:{entry.name}" if namespace else entry.name, pattern, entry


def _methods(view) -> tuple[frozenset[str], frozenset[str]]:
    """(methods the view answers, methods it may answer too). DRF viewsets list their actions,
    DRF and Django class-based views their handler methods; a function view restricted with
    ``require_http_methods`` (``require_POST``, ``require_GET``) keeps the list in its closure.
    An unrestricted function view serves GET and may serve POST (a form)."""
    actions = getattr(view, "actions", None)
    if actions:  # a DRF viewset route
        return frozenset(m.upper() for m in actions), frozenset()
    view_class = getattr(view, "cls", None) or getattr(view, "view_class", None)
    if view_class is not None:  # an APIView / @api_view, or a Django class-based view
        names = view_class.http_method_names
        handled = {m.upper() for m in names if hasattr(view_class, m)} - {"OPTIONS", "HEAD", "TRACE"}
        return frozenset(handled), frozenset()
    restricted = _required_methods(view)
    if restricted is not None:
        return frozenset(restricted), frozenset()
    return frozenset({"GET"}), frozenset({"POST"})


def _required_methods(view) -> set[str] | None:
    function = view
    while function is not None:
        methods = inspect.getclosurevars(function).nonlocals.get("request_method_list")
        if methods:
            return {m.upper() for m in methods} - {"HEAD"}
        function = getattr(function, "__wrapped__", None)
    return None
