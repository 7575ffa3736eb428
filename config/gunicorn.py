"""How gunicorn runs the web app: `gunicorn -c config/gunicorn.py config.wsgi`. `make web`, the
Docker image and `make demo` all start it this way; each value can be changed from the environment.

Pages are CPU-bound Python (templates, the ORM, DRF), so the web app scales with processes, and
threads cover the time a request waits on PostgreSQL, Redis or the disk. Measured with
bench/load/web.py (60 s of the three roles' pages and API at concurrency 16, 2 cores, 2026-12-07):
on a quiet machine 5 workers × 4 threads (the default on 2 cores) 173-205 requests/s, p95 212-257 ms;
2 × 4 198-215, 161-174 ms; 3 × 4 204, 215 ms. With other work on the machine (load average 3.5-11)
5 × 4 had the most requests/s (63.6 against 40-48 for 2 × 4, 3 × 4 and 5 × 2): more processes keep
the two cores busy while a slow page holds one worker's GIL, so the default stays 2 × cores + 1.
A worker holds 280–350 MB (RSS; 180–250 MB PSS, pages shared after fork counted
once), so 5 workers take about 1.1 GB.
Figures and how they were taken: bench/README.md ("Web under load")."""

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
# whatever a long-running process accumulates (pandas' caches, fragmentation) is given back. At
# 5,000 a worker was replaced every 25-50 s under bench/load/web.py's load (its kept-alive
# connections closed, its caches cold again); the 2-hour soak saw memory flat, so 50,000.
max_requests = _int("MODELYARD_WEB_MAX_REQUESTS", 50000)
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
