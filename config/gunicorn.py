"""How gunicorn runs the web app: `gunicorn -c config/gunicorn.py config.wsgi`. `make web`, the
Docker image and `make demo` all start it this way; each value can be changed from the environment.

Pages are CPU-bound Python (templates, pandas, Plotly figures), so the web app scales with
processes, and threads only cover the time a request waits on PostgreSQL, Redis or the disk. The
figures behind the defaults are in bench/README.md ("Web under load")."""

import os
import sys
from pathlib import Path


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        sys.exit(f"{name} must be a whole number, not {value!r}")


# Each request thread keeps its database connection for a minute (config/settings/base.py): one
# connection per thread, workers × threads in all, instead of a new one for every request.
os.environ.setdefault("MODELYARD_DB_CONN_MAX_AGE", "60")

bind = os.environ.get("MODELYARD_WEB_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = _int("MODELYARD_WEB_WORKERS", 2 * (os.cpu_count() or 1) + 1)
threads = _int("MODELYARD_WEB_THREADS", 4)
# A page that takes longer than this is a bug; the worker is replaced rather than left hung.
timeout = _int("MODELYARD_WEB_TIMEOUT", 60)
graceful_timeout = 30
keepalive = 5
# A worker is replaced after this many requests (with jitter, so they do not all restart at once):
# whatever a long-running process accumulates (pandas' caches, fragmentation) is given back.
max_requests = _int("MODELYARD_WEB_MAX_REQUESTS", 5000)
max_requests_jitter = max_requests // 10
accesslog = os.environ.get("MODELYARD_WEB_ACCESS_LOG") or None
errorlog = "-"
# The request line and headers are bounded by gunicorn's defaults (4,094 bytes, 100 fields).


def on_starting(server):
    """Refuse to start where every page would be a 500: production settings serve static files
    through a manifest that only `manage.py collectstatic` writes."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    from django.conf import settings

    backend = settings.STORAGES["staticfiles"]["BACKEND"]
    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if "Manifest" in backend and not manifest.exists():
        sys.exit(
            f"static files have not been collected ({manifest} is missing), so every page would "
            "be a 500: run `python manage.py collectstatic --noinput` first (`make web` and the "
            "Docker image do)."
        )
