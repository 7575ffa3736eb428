"""Where a single-row request's time goes, without HTTP: the inference app called as WSGI in this
process with the benchmark's model, and the prediction log of the configured buffer (a Redis stream
with REDIS_URL, spool files otherwise) under a key prefix of its own, deleted afterwards.

    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/serving/profile_app.py --requests 3000
    … --profile          # also print cProfile's top functions by own and cumulative time
    … --log none         # without the prediction log, to see what the append costs
    … --client-ids       # each request with an X-Request-ID of its own, claimed in the store

Prints the CPU microseconds per request (the process's user + system time over the loop)."""

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

from model import FEATURES, TARGET, load_frame, train  # noqa: E402


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--log", choices=["buffer", "none"], default="buffer")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--client-ids", action="store_true", help="send X-Request-ID (claimed per endpoint) with each request"
    )
    args = parser.parse_args()

    import joblib

    frame = load_frame().sample(frac=1.0, random_state=7).reset_index(drop=True)
    train_rows, request_rows = frame.iloc[:8000], frame.iloc[8000:]
    model = train(train_rows)
    folder = Path(tempfile.mkdtemp(prefix="modelyard-profile-"))
    joblib.dump(model, folder / "model.joblib")

    import django

    os.environ["MODELYARD_PREDICTION_LOG_PREFIX"] = f"modelyard-profile-{uuid.uuid4().hex[:8]}:"
    os.environ.setdefault("MODELYARD_SPOOL_DIR", str(folder / "spool"))
    django.setup()
    from apps.registry.datasets import infer_schema
    from apps.serving.inference.app import make_app
    from apps.serving.inference.routes import Arm, Route, RouteTable

    schema = infer_schema(train_rows, target=TARGET)
    inside = (
        (request_rows[FEATURES] >= train_rows[FEATURES].min())
        & (request_rows[FEATURES] <= train_rows[FEATURES].max())
    ).all(axis=1)
    rows = request_rows[inside][FEATURES].to_dict("records")
    bodies = [json.dumps({"records": [row]}).encode() for row in rows]
    arm = Arm(
        deployment_id=1,
        version_id=1,
        model_name="bench",
        version_number=1,
        role="primary",
        percent=0.0,
        artifact_path=str(folder / "model.joblib"),
        format="joblib",
        input_schema=schema,
    )
    from apps.serving.inference.keys import generate_key, hash_key

    key = generate_key()  # checked on every request, as in production
    route = Route(
        environment="production",
        endpoint="bench",
        allow_extra=False,
        sticky_key=None,
        arms=(arm,),
        key_hashes=frozenset({hash_key(key)}),
    )
    table = RouteTable(lambda: [route])
    table.refresh()
    buffer = None
    if args.log == "buffer":
        from apps.serving.logbuffer import open_buffer

        buffer = open_buffer()
        log = buffer.append
    else:

        def log(rows):
            return None

    request_ids = None
    if args.client_ids:
        from apps.serving.logbuffer import open_request_ids

        request_ids = open_request_ids()  # Redis with REDIS_URL, SQLite in the spool folder otherwise
    app = make_app(table, log, warm_models=False, require_keys=True, request_ids=request_ids)
    run = uuid.uuid4().hex[:8]
    counter = iter(range(10**9))

    def start_response(status, headers):
        if not status.startswith("200"):
            raise RuntimeError(status)

    def one(body: bytes) -> None:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/v1/endpoints/bench/predict",
            "QUERY_STRING": "",
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_AUTHORIZATION": f"Bearer {key}",
            "wsgi.input": io.BytesIO(body),
        }
        if args.client_ids:
            environ["HTTP_X_REQUEST_ID"] = f"profile-{run}-{next(counter)}"
        b"".join(app(environ, start_response))

    for body in bodies[:200]:  # loads the model, warms caches
        one(body)
    profiler = cProfile.Profile() if args.profile else None
    started_cpu, started = cpu(), time.perf_counter()
    if profiler:
        profiler.enable()
    for i in range(args.requests):
        one(bodies[i % len(bodies)])
    if profiler:
        profiler.disable()
    used, wall = cpu() - started_cpu, time.perf_counter() - started
    print(
        f"{args.requests} requests, log={args.log}: {1e6 * used / args.requests:.0f} µs CPU and "
        f"{1e6 * wall / args.requests:.0f} µs wall per request"
    )
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)
    if buffer is not None and hasattr(buffer, "_redis"):
        buffer._redis.delete(buffer.key)
    if request_ids is not None and hasattr(request_ids, "_redis"):
        for name in request_ids._redis.scan_iter(f"{request_ids.prefix}*", count=1000):
            request_ids._redis.delete(name)


if __name__ == "__main__":
    main()
