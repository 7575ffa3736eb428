"""Run the whole platform in the foreground: web, Celery workers and beat, the inference service and
demo traffic. A process that dies is started again (apps/demo/supervisor.py); Ctrl-C stops them all."""

import json
import os
import signal
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand

from apps.demo.seed import DEMO_PASSWORD, USERS, examples_dir, seed
from apps.demo.supervisor import Supervisor
from config.celery import QUEUES

DEMO_KEY_NAME = "demo traffic"  # the consumer keys the demo's traffic uses, one per environment


class Command(BaseCommand):
    help = "Migrate, seed the demo data and run every process, restarting one that dies, until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1:8000")
        parser.add_argument("--inference-bind", default="127.0.0.1:8100")
        parser.add_argument("--no-seed", action="store_true")
        parser.add_argument(
            "--traffic-rate", type=float, default=5.0, help="demo requests/s to credit-risk (0: none)"
        )

    def handle(self, *args, bind, inference_bind, no_seed, traffic_rate, **options):
        call_command("migrate", interactive=False, verbosity=0)
        # Links in the demo's e-mails point at this web server (the children inherit it).
        os.environ.setdefault("MODELYARD_BASE_URL", f"http://{bind}")
        python = sys.executable
        bin_dir = os.path.dirname(python)
        celery = os.path.join(bin_dir, "celery")
        processes = {
            "worker": [
                celery,
                "-A",
                "config",
                "worker",
                "-Q",
                ",".join(q for q in QUEUES if q != "ingestion"),
                "--concurrency",
                "2",
                "--loglevel",
                "INFO",
                "--hostname",
                "demo@%h",
            ],
            # The prediction log has a worker of its own: long packaging or monitoring jobs must
            # never hold up the drain that moves predictions and service levels into the database.
            "ingestion": [
                celery,
                "-A",
                "config",
                "worker",
                "-Q",
                "ingestion",
                "--concurrency",
                "1",
                "--loglevel",
                "WARNING",
                "--hostname",
                "demo-ingestion@%h",
            ],
            "beat": [celery, "-A", "config", "beat", "--loglevel", "INFO"],
            # As production starts it (config/gunicorn.py); the demo's settings serve static
            # files without collecting them.
            "web": [
                os.path.join(bin_dir, "gunicorn"),
                "-c",
                "config/gunicorn.py",
                "config.wsgi",
                "--bind",
                bind,
                "--workers",  # one machine shared with every other process of the demo
                "2",
                "--access-logfile",
                "-",
            ],
        }
        processes["inference"] = [
            python,
            "manage.py",
            "inference",
            "--bind",
            inference_bind,
            "--workers",
            "2",
        ]
        # Real credit applications for the SLA page, once the inference service answers.
        processes["traffic"] = [
            python,
            "-m",
            "apps.demo.traffic",
            "--url",
            f"http://{inference_bind}",
            "--rate",
            str(traffic_rate),
        ]
        supervisor = Supervisor(out=self.stderr)
        supervisor.handle_signals()
        # The worker starts first so that the demo's profiling jobs run as soon as they are queued.
        supervisor.start("worker", processes["worker"], env=_worker_env())
        supervisor.start("ingestion", processes["ingestion"], env=_worker_env())
        try:
            if not no_seed:
                self.stdout.write("Seeding demo data (training two small models on ../shared/data)…")
                seed()
            _demo_slo()
            keys = _demo_traffic_keys()
        except BaseException:  # the workers already started must not outlive a failed seed
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            supervisor.stop()
            raise
        for name in ("beat", "web", "inference"):
            supervisor.start(name, processes[name])
        if traffic_rate > 0:
            # The keys go in the environment, not the command line that `ps` shows.
            traffic_env = {**os.environ, "MODELYARD_DEMO_TRAFFIC_KEYS": json.dumps(keys)}
            supervisor.start("traffic", processes["traffic"], env=traffic_env)
        url = f"http://{bind}/"
        self.stdout.write(self.style.SUCCESS(f"\nModelyard is running at {url}   (Ctrl-C stops everything)"))
        self.stdout.write(f"Log in with any of these (password: {DEMO_PASSWORD}):")
        for u in USERS:
            self.stdout.write(f"  {u.username:<6} {u.what}")
        self.stdout.write(f"API docs: {url}api/docs/")
        if examples_dir().is_dir():
            self.stdout.write(f"Files for the command-line walk-through in docs/cli.md: {examples_dir()}/")
        auth = f"-H 'Authorization: Bearer {keys['production']}' " if keys.get("production") else ""
        self.stdout.write(
            f"Predictions: curl -X POST http://{inference_bind}/v1/endpoints/credit-risk/predict "
            f"{auth}-H 'Content-Type: application/json' -d @- (see docs/features/serving.md)"
        )
        if keys.get("production"):
            self.stdout.write(
                "  (a consumer key of credit-risk in production, made for this run; its team and IT "
                "manage keys under Deployments → Consumer keys)"
            )
        if traffic_rate > 0:
            self.stdout.write(
                f"Demo traffic: about {traffic_rate:g} requests/s to credit-risk; "
                f"service levels at {url}it/sla/"
            )
        self.stdout.write("")
        supervisor.run()


def _worker_env() -> dict[str, str]:
    """The demo's workers run as whoever typed `make demo`, root in a container. Celery then warns
    (celery.platforms.check_privileges) with a screenful that a newcomer can do nothing about here;
    the risk it names is the pickle serializer, which Celery refuses outright as root (a
    SecurityError no warning filter hides) and which Modelyard never accepts (JSON only). So the
    demo, and only the demo, leaves that one warning out."""
    ignore = "ignore:You're running the worker with superuser privileges:UserWarning"
    current = os.environ.get("PYTHONWARNINGS", "")
    return {**os.environ, "PYTHONWARNINGS": f"{current},{ignore}" if current else ignore}


def _demo_slo() -> None:
    """IT's objective for credit-risk in production (p99 ≤ 50 ms, 99.5 % available), set once."""
    from django.contrib.auth import get_user_model

    from apps.deployments.models import Endpoint
    from apps.sla.models import Slo
    from apps.sla.services import slo_set

    endpoint = Endpoint.objects.filter(name="credit-risk", environment__name="production").first()
    ivan = get_user_model().objects.filter(username="ivan").first()
    if endpoint is not None and ivan is not None and not Slo.objects.filter(endpoint=endpoint).exists():
        slo_set(user=ivan, endpoint=endpoint, latency_ms=50, latency_percentile=99, availability_percent=99.5)


def _demo_traffic_keys() -> dict[str, str]:
    """A fresh consumer key of credit-risk per environment for the demo traffic, made by dana (its
    team's data scientist); the previous run's demo keys are revoked first. Both audited."""
    from django.contrib.auth import get_user_model

    from apps.deployments.models import Endpoint, EndpointKey
    from apps.deployments.services import endpoint_key_create, endpoint_key_revoke

    dana = get_user_model().objects.filter(username="dana").first()
    if dana is None:
        return {}
    keys = {}
    for endpoint in Endpoint.objects.filter(name="credit-risk").select_related("environment", "team"):
        for old in EndpointKey.objects.filter(endpoint=endpoint, name=DEMO_KEY_NAME, revoked_at__isnull=True):
            endpoint_key_revoke(user=dana, key=old)
        _, keys[endpoint.environment.name] = endpoint_key_create(
            user=dana, endpoint=endpoint, name=DEMO_KEY_NAME
        )
    return keys
