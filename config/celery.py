"""The Celery app. Queues and routes are declared here, in one place."""

import os

from celery import Celery, signals
from celery.schedules import crontab
from kombu import Queue
from kombu.transport import TRANSPORT_ALIASES

from config.logfilters import quiet_routine_tasks

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

# The embedded broker (config/broker.py), `modelyard+sqlite:///<file>`: kombu takes the transport of
# such a URL from its aliases only, never from an import path. Imported when first connected.
TRANSPORT_ALIASES.setdefault("modelyard", "config.broker:Transport")

app = Celery("modelyard")
app.config_from_object("django.conf:settings", namespace="CELERY")

QUEUES = ("default", "packaging", "deployments", "monitoring", "ingestion")
app.conf.task_queues = [Queue(name) for name in QUEUES]
app.conf.task_default_queue = "default"
app.conf.task_routes = {
    "registry.*": {"queue": "monitoring"},
    "packaging.*": {"queue": "packaging"},
    # A library patch builds an environment and a package: packaging work. Before any libraries.*.
    "libraries.patch.*": {"queue": "packaging"},
    "deployments.*": {"queue": "deployments"},
    "monitoring.*": {"queue": "monitoring"},
    # KPI roll-ups read the prediction log like monitoring does.
    "kpis.*": {"queue": "monitoring"},
    # Batch scoring loads models (in the sandbox) like a rollout does, so it runs beside
    # deployments; listed before serving.* because the first matching pattern wins.
    "serving.batch.*": {"queue": "deployments"},
    "serving.*": {"queue": "ingestion"},
    # Scans and notifications are light database work (patches are routed above).
    "libraries.*": {"queue": "default"},
    "sla.*": {"queue": "default"},
    "notices.*": {"queue": "default"},
}
# Tasks are idempotent (a Job row guards each), so a task lost with its worker is redelivered.
app.conf.task_acks_late = True
app.conf.task_reject_on_worker_lost = True
app.conf.worker_prefetch_multiplier = 1
app.conf.broker_connection_retry_on_startup = True
app.conf.beat_schedule = {
    # The prediction log: from its buffer into the database, a few seconds behind the service.
    "serving.ingest": {"task": "serving.ingest", "schedule": 2.0, "options": {"expires": 10}},
    # Monitoring: new predictions → hourly window profiles, then the check runs that are due.
    "monitoring.profile_windows": {
        "task": "monitoring.profile_windows",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "monitoring.run_due_checks": {
        "task": "monitoring.run_due_checks",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Business KPIs: windows touched by new predictions or outcomes are recomputed.
    "kpis.rollup": {"task": "kpis.rollup", "schedule": 60.0, "options": {"expires": 55}},
    # Service levels: old per-minute rollups and worker samples go (apps/sla/retention.py).
    "sla.prune": {"task": "sla.prune", "schedule": crontab(hour=3, minute=10), "options": {"expires": 3600}},
    # Notices: the daily digest for those who chose it (each person at most once a day).
    "notices.digest": {"task": "notices.digest", "schedule": crontab(minute=0), "options": {"expires": 3000}},
    # Libraries: every version's latest lock against the advisories, nightly (imports scan too).
    "libraries.scan_locks": {
        "task": "libraries.scan_locks",
        "schedule": crontab(hour=2, minute=30),
        "kwargs": {"trigger": "nightly"},
        "options": {"expires": 3600},
    },
}

# Beat sends serving.ingest every 2 s: its lines, and those of the other tasks due every few minutes
# or more often, are DEBUG (config/logfilters.py).
quiet_routine_tasks(app.conf.beat_schedule)


@signals.worker_init.connect
@signals.beat_init.connect
def _forbid_inspection(**_kwargs):
    """Before the pool forks: model code in a sandbox cannot read the worker's environment
    (see apps/packaging/sandbox/isolation.py)."""
    from apps.packaging.sandbox.isolation import forbid_inspection

    forbid_inspection()


@signals.worker_init.connect
def _probe_sandbox_isolation(**_kwargs):
    """Probe once, before the pool forks (its processes inherit the answer), and log which
    isolation the packaging sandbox has here: without any, models whose loading runs code are refused."""
    from apps.packaging.sandbox.confinement import confinement

    confinement()


app.autodiscover_tasks()
app.autodiscover_tasks(["apps.libraries.patching"])  # a subpackage: not found by the app scan
