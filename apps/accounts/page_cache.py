"""Pages cached per user, under the versions of the tables they read.

Every connection gets an execute wrapper that notices each INSERT, UPDATE or DELETE (the ORM's
saves, ``update()``, ``bulk_create`` and raw SQL through Django's cursors alike) and gives the
table a new random version in the shared cache: once when the statement runs (so that a test's
never-committed transaction, or a later read in the same transaction, sees it) and again when the
transaction commits (a page built between the two from the old rows was stored under the first
version, which is now dead). A page's key holds the user, the user's flags, the path and query and
the versions of every table it depends on, so new data is a new key: nothing is ever invalidated
by hand, nobody sees stale data, and no user ever gets another user's (or another team's) page. Versions are
random tokens rather than counters, so two processes bumping at once can never agree on a value
that existed before either change.

The cache must be shared by every process that writes (Redis with REDIS_URL; the file cache in
the embedded default): a worker's check run then invalidates the web's pages."""

import functools
import hashlib
import logging
import re
import uuid
from collections.abc import Iterable

from django.apps import apps
from django.core.cache import cache
from django.db import connections, transaction
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.utils import timezone

log = logging.getLogger(__name__)
# Short enough that a write made while the cache was unreachable (its bump lost) shows soon.
PAGE_SECONDS = 600
VERSION_SECONDS = 7 * 24 * 3600
_WRITE = re.compile(r'\s*(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)
# What a page shows depends on who asks: their teams and roles. The user's own row is not here
# (last_login is written at every sign-in); the flags that matter go into the key directly.
SCOPE_TABLES = ("accounts_team", "accounts_team_members", "auth_user_groups", "auth_group")


def _key(table: str, database: str) -> str:
    # The database's name too: two databases behind one cache (tests beside a demo) never
    # invalidate each other's pages.
    return f"table-version:{database}:{table}"


def _bump(tables: Iterable[str], database: str) -> None:
    try:
        cache.set_many({_key(t, database): uuid.uuid4().hex[:16] for t in tables}, VERSION_SECONDS)
    except Exception:  # a write must not fail because the cache is away
        log.warning("could not give %s new versions: cached pages may lag", sorted(tables), exc_info=True)


class _BumpOnCommit:
    """One per transaction: the tables it wrote, given new versions once it commits."""

    def __init__(self, database: str):
        self.database = database
        self.tables: set[str] = set()

    def __call__(self):
        _bump(self.tables, self.database)


def _note_write(connection, table: str) -> None:
    database = connection.settings_dict["NAME"]
    _bump([table], database)
    if not connection.in_atomic_block:
        return  # autocommit: the statement has committed; the bump above came after it
    for _sids, func, _robust in connection.run_on_commit:
        if isinstance(func, _BumpOnCommit):
            func.tables.add(table)
            return
    pending = _BumpOnCommit(database)
    pending.tables.add(table)
    transaction.on_commit(pending, using=connection.alias, robust=True)


def _track_writes(connection):
    def wrapper(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        written = _WRITE.match(sql) if isinstance(sql, str) else None
        if written:
            _note_write(connection, written.group(1))
        return result

    return wrapper


def install(sender=None, connection=None, **kwargs) -> None:
    """``connection_created`` receiver: track the writes of every new connection."""
    if connection is None or getattr(connection, "_modelyard_tracks_writes", False):
        return
    connection.execute_wrappers.append(_track_writes(connection))
    connection._modelyard_tracks_writes = True


def install_on_open_connections() -> None:
    for connection in connections.all(initialized_only=True):
        install(connection=connection)


def tables_of(*labels: str) -> tuple[str, ...]:
    """The tables of apps (``"monitoring"``) or models (``"registry.RegisteredModel"``), with their
    many-to-many tables."""
    models = []
    for label in labels:
        if "." in label:
            models.append(apps.get_model(label))
        else:
            models.extend(apps.get_app_config(label).get_models())
    tables = set()
    for model in models:
        tables.add(model._meta.db_table)
        tables.update(f.remote_field.through._meta.db_table for f in model._meta.local_many_to_many)
    return tuple(sorted(tables))


def versions(tables: Iterable[str]) -> str:
    """The current versions of ``tables``; a table never written (or whose version the cache
    dropped) gets one now, so a page is never keyed on a version that could come back."""
    database = connections["default"].settings_dict["NAME"]
    keys = [_key(t, database) for t in sorted(set(tables))]
    found = cache.get_many(keys)
    missing = {k: uuid.uuid4().hex[:16] for k in keys if k not in found}
    if missing:
        for k, v in missing.items():
            # add(): if another process gave the table a version meanwhile, use that one.
            found[k] = v if cache.add(k, v, VERSION_SECONDS) else cache.get(k, v)
    return ".".join(found[k] for k in keys)


_CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')
_CSRF_SLOT = 'name="csrfmiddlewaretoken" value="\x00csrf\x00"'
# Everything a page may read, for pages that do not name their tables.
EVERY_DOMAIN = (
    "jobs",
    "registry",
    "packaging",
    "deployments",
    "libraries",
    "sla",
    "serving",
    "monitoring",
    "kpis",
    "notices",
)


def cached_page(*labels: str, per_minute: bool = True):
    """Cache a page view's HTML per user, full path and the versions of the tables of ``labels``
    (apps or models, see ``tables_of``; every domain app by default) and of notices (the bell in
    the header). ``per_minute``: the key holds the current minute too, for pages that show a
    period ending now or times relative to now. Only a 200 HTML answer to a GET with no message
    waiting and no cookie set is kept; the form's CSRF tokens are filled in afresh for each browser
    on the way out, so a cached page never carries another session's token."""

    def decorator(view):
        tables: list[tuple[str, ...]] = []  # resolved on first use, once the app registry is ready

        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method != "GET" or _messages_waiting(request):
                return view(request, *args, **kwargs)
            if not tables:
                tables.append(tables_of(*(labels or EVERY_DOMAIN), "notices"))
            user = request.user
            now = timezone.now().replace(second=0, microsecond=0) if per_minute else None
            scope = (
                (user.pk, user.username, user.is_superuser, user.is_staff, user.is_active),
                request.get_full_path(),
                # htmx asks the same address for a part of the page
                request.headers.get("HX-Request"),
                request.headers.get("HX-Target"),
                now and now.isoformat(),
                timezone.get_current_timezone_name(),  # each person reads times in their own zone
                versions([*tables[0], *SCOPE_TABLES]),
            )
            digest = hashlib.sha256(repr(scope).encode()).hexdigest()
            key = f"page:{view.__module__}.{view.__qualname__}:{digest}"
            stored = cache.get(key)
            if stored is None:
                response = view(request, *args, **kwargs)
                if _keepable(response):
                    content = _CSRF_FIELD.sub(_CSRF_SLOT, response.content.decode(response.charset))
                    cache.set(key, (response["Content-Type"], content), PAGE_SECONDS)
                return response
            content_type, content = stored
            fresh = f'name="csrfmiddlewaretoken" value="{get_token(request)}"'
            return HttpResponse(content.replace(_CSRF_SLOT, fresh), content_type=content_type)

        return wrapped

    return decorator


def _messages_waiting(request) -> bool:
    """A message to show once (from the last POST) makes this answer one of a kind."""
    return "messages" in request.COOKIES or bool(getattr(request, "session", {}).get("_messages"))


def _keepable(response) -> bool:
    return (
        response.status_code == 200
        and not response.streaming
        and not response.cookies
        and response.get("Content-Type", "").startswith("text/html")
    )
