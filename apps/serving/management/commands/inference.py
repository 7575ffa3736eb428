"""``python manage.py inference``: the inference service, a gunicorn server of its own.

The master only supervises; each worker process builds its app after the fork: a route table
refreshed from the deployments app, a model cache, the prediction log and its metrics. Django is set
up in the master by manage.py and inherited by the workers; only the route source touches it.
"""

import hashlib
import importlib
import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


def import_callable(spec: str):
    """``dotted.module:function`` → the function."""
    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise CommandError(f"'{spec}' is not of the form dotted.module:function")
    try:
        target = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise CommandError(f"cannot import {spec}: {exc}") from exc
    if not callable(target):
        raise CommandError(f"{spec} is not callable")
    return target


def _default_route_source():
    try:
        from apps.deployments.routing import load_routes
    except ImportError as exc:
        raise CommandError(
            f"the deployments app's route source is missing ({exc}); pass --routes-module"
        ) from exc
    return load_routes


def _default_log_factory():
    try:
        from apps.serving.logbuffer import open_buffer
    except ImportError as exc:
        raise CommandError(f"the prediction log buffer is missing ({exc}); pass --log-module") from exc
    return lambda: open_buffer().append


def _with_fresh_connections(source):
    """The source runs in each worker's refresh thread, outside any request, so nothing else closes
    a database connection that has gone stale or outlived CONN_MAX_AGE."""
    from django.db import close_old_connections

    def refreshed():
        close_old_connections()
        try:
            return source()
        finally:
            close_old_connections()

    return refreshed


def default_routes_file(routes_module: str | None) -> Path:
    """Where each worker keeps the last route table it got (served when it starts while the
    database is down): MODELYARD_INFERENCE_ROUTES_FILE, else a file under the var folder named after
    the database and route source, so services of different databases never share one."""
    from django.conf import settings

    if settings.MODELYARD_INFERENCE_ROUTES_FILE:
        return Path(settings.MODELYARD_INFERENCE_ROUTES_FILE)
    database = settings.DATABASES["default"]
    identity = [str(database.get(key) or "") for key in ("ENGINE", "HOST", "PORT", "NAME")]
    digest = hashlib.sha256("|".join([*identity, routes_module or ""]).encode()).hexdigest()[:16]
    return Path(settings.VAR_DIR) / "inference" / f"routes-{digest}.json"


def _warn_if_the_log_can_lose_answers(stderr) -> None:
    """A Redis that does not write every command to disk before answering loses answered
    predictions when it crashes: say so at start (docs/operations.md)."""
    from apps.serving.logbuffer import durability_problem

    problem = durability_problem()
    if problem:
        stderr.write(f"warning: {problem}")


def _post_fork(server, worker):
    """gunicorn's post_fork hook. The master closed its connections before forking, so a worker
    never shares a database socket with it; the ORM opens its own on first use."""
    import django
    from django.apps import apps
    from django.db import connections

    if not apps.ready:
        django.setup()
    connections.close_all()


class Command(BaseCommand):
    help = (
        "Run the inference service (gunicorn, asyncio workers that read whole requests, then a "
        "thread each) that scores requests to deployed endpoints."
    )

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1:8100", help="host:port to listen on")
        parser.add_argument("--workers", type=int, default=2, help="worker processes")
        parser.add_argument(
            "--threads", type=int, default=4, help="request threads per worker (requests scored at once)"
        )
        parser.add_argument(
            "--environment", default="production", help="environment of requests without ?environment="
        )
        parser.add_argument(
            "--keepalive", type=int, default=5, help="seconds an idle keep-alive connection stays"
        )
        parser.add_argument(
            "--timeout", type=int, default=30, help="seconds before a stuck worker is restarted"
        )
        parser.add_argument(
            "--refresh-seconds", type=float, default=2.0, help="how often routes are reloaded"
        )
        parser.add_argument("--max-body-bytes", type=int, default=1_000_000)
        parser.add_argument(
            "--body-timeout",
            type=float,
            default=10.0,
            help="seconds a request's whole body may take to arrive after its headers (then a 408)",
        )
        parser.add_argument("--max-depth", type=int, default=20, help="deepest JSON nesting accepted")
        parser.add_argument(
            "--max-records",
            type=int,
            help="most records in one request [default: MODELYARD_INFERENCE_MAX_RECORDS, 10000]",
        )
        parser.add_argument("--max-models", type=int, default=16, help="models kept loaded per worker")
        parser.add_argument(
            "--sla-flush-seconds",
            type=float,
            default=5.0,
            help="how often each worker logs its per-minute service levels and CPU/memory (0: never)",
        )
        parser.add_argument(
            "--routes-file",
            help="where workers keep the last route table, to serve it when they start while the "
            "database is down (default: MODELYARD_INFERENCE_ROUTES_FILE, else under the var folder)",
        )
        parser.add_argument(
            "--routes-module",
            help="dotted.module:function returning the routes (default apps.deployments.routing:load_routes)",
        )
        parser.add_argument(
            "--log-module",
            help="dotted.module:function called with each list of log rows "
            "(default: apps.serving.logbuffer.open_buffer().append, opened in each worker)",
        )

    def handle(self, *args, **options):
        from django.conf import settings
        from django.db import connections

        from apps.serving.inference import server

        if options["workers"] < 1 or options["threads"] < 1:
            raise CommandError("--workers and --threads must be at least 1")
        if options["body_timeout"] <= 0:
            raise CommandError("--body-timeout must be positive")
        if options["sla_flush_seconds"] < 0:
            raise CommandError("--sla-flush-seconds cannot be negative")
        max_records = options["max_records"]
        if max_records is None:
            max_records = settings.MODELYARD_INFERENCE_MAX_RECORDS
        if max_records < 1:
            raise CommandError("--max-records (MODELYARD_INFERENCE_MAX_RECORDS) must be at least 1")
        require_keys = settings.MODELYARD_INFERENCE_REQUIRE_KEYS
        metrics_token = settings.MODELYARD_METRICS_TOKEN
        if metrics_token and len(metrics_token) < 16:
            raise CommandError("MODELYARD_METRICS_TOKEN must be at least 16 characters (a random one)")
        source = (
            import_callable(options["routes_module"]) if options["routes_module"] else _default_route_source()
        )
        if options["log_module"]:
            log_fn = import_callable(options["log_module"])

            def log_factory():
                return log_fn
        else:
            log_factory = _default_log_factory()
        source = _with_fresh_connections(source)
        routes_file = Path(options["routes_file"] or default_routes_file(options["routes_module"]))
        if not options["log_module"]:
            _warn_if_the_log_can_lose_answers(self.stderr)

        metrics_dir, master_pid = None, os.getpid()
        if options["workers"] > 1 and not server.multiprocess_dir_set():
            metrics_dir = server.fresh_multiprocess_dir()

        def build_app():  # in each worker, after the fork
            from apps.serving.inference.app import make_app
            from apps.serving.inference.asgi import BufferedWsgi
            from apps.serving.inference.cache import ModelCache
            from apps.serving.inference.metrics import Metrics
            from apps.serving.inference.routes import RouteTable
            from apps.serving.inference.sla import SlaAccumulator
            from apps.serving.logbuffer import open_request_ids

            metrics = Metrics()
            metrics.start_sampling(10.0)
            table = RouteTable(source, refresh_seconds=options["refresh_seconds"], saved=routes_file).start()
            connections.close_all()  # the first load ran in this thread, which serves no queries
            log_fn = log_factory()
            sla = None
            if options["sla_flush_seconds"]:
                sla = SlaAccumulator(log_fn).start(options["sla_flush_seconds"])
            app = make_app(
                table,
                log_fn,
                max_body_bytes=options["max_body_bytes"],
                max_depth=options["max_depth"],
                max_records=max_records,
                default_environment=options["environment"],
                cache=ModelCache(options["max_models"]),
                metrics=metrics,
                sla=sla,
                require_keys=require_keys,
                request_ids=open_request_ids(),
                metrics_token=metrics_token,
            )
            return BufferedWsgi(
                app,
                max_body_bytes=options["max_body_bytes"],
                body_seconds=options["body_timeout"],
                threads=options["threads"],
            )

        connections.close_all()  # before the fork: see _post_fork
        gunicorn_options = server.gunicorn_options(
            bind=options["bind"],
            workers=options["workers"],
            keepalive=options["keepalive"],
            timeout=options["timeout"],
            post_fork=_post_fork,
            child_exit=server.mark_worker_dead,
            worker_exit=server.flush_at_worker_exit,
        )
        self.stderr.write(
            f"inference service on http://{options['bind']}: {options['workers']} workers × "
            f"{options['threads']} threads, default environment {options['environment']}; consumer keys "
            f"{'required' if require_keys else 'checked when sent'}; /metrics "
            f"{'to the scraper token' if metrics_token else 'off (no MODELYARD_METRICS_TOKEN)'}"
        )
        try:
            server.InferenceServer(build_app, gunicorn_options).run()
        finally:
            # A worker leaves gunicorn by SystemExit through this same frame (it was forked inside
            # run()); only the master may remove the folder the other workers still write to.
            if metrics_dir and os.getpid() == master_pid:
                server.remove_multiprocess_dir(metrics_dir)
