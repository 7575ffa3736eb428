"""The web mix in one process: CPU milliseconds and queries per request, which the load on the
machine does not change (the load bench's latencies do).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/modelyard REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/load/inprocess.py              # 5 passes after one warm-up pass
    .venv/bin/python bench/load/inprocess.py --profile 20     # and cProfile's top 20 functions

The same data, settings and mix as bench/load/web.py (its database must have been seeded by one
run of it), sent through Django's test client instead of gunicorn: the first pass fills the
caches as the first minute of the load does; the passes after it are measured. CPU is this
process's (user + system), so PostgreSQL's and Redis's own work is not in it, as the load
bench's server CPU leaves it out too.
"""

import argparse
import cProfile
import os
import pstats
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import web  # noqa: E402  (bench/load/web.py: the environment and the mix)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passes", type=int, default=5, help="measured passes over the mix")
    parser.add_argument("--profile", type=int, default=0, help="print cProfile's top N functions")
    args = parser.parse_args()

    env = web.bench_environment(argparse.Namespace(workers=None, threads=None))
    if not (web.VAR / "seeded").exists():
        sys.exit("seed the bench's database first: one run of bench/load/web.py")
    env["DJANGO_STATIC_ROOT"] = str(web.VAR / "static")  # production's manifest of static files
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection
    from django.http import HttpRequest
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")

    def sign_in(base, username):
        c = Client(HTTP_HOST="127.0.0.1")
        if not c.login(request=HttpRequest(), username=username, password=web.PASSWORD):
            sys.exit(f"{username} could not sign in")
        return c.cookies["sessionid"].value

    def api_token(base, username):
        body = {"username": username, "password": web.PASSWORD, "name": "bench-load-web"}
        return client.post("/api/v1/auth/token/", body, content_type="application/json").json()["token"]

    def get_json(base, path, token):
        return client.get(path, HTTP_AUTHORIZATION=f"Token {token}").json()

    def answers(url, session):
        return client.get(url.removeprefix(base), HTTP_COOKIE=f"sessionid={session}").status_code == 200

    base = "http://127.0.0.1"
    web.sign_in, web.api_token, web.get_json, web.answers = sign_in, api_token, get_json, answers
    mix = web.the_mix(base)

    def send(path, header):
        name, value = header.split(": ", 1)
        extra = {"HTTP_COOKIE": value} if name == "Cookie" else {"HTTP_AUTHORIZATION": value}
        return client.get(path, **extra)

    for _route, path, header in mix:  # warm-up: caches filled, as in the load's first minute
        status = send(path, header).status_code
        if status != 200:
            sys.exit(f"{path}: {status}")
    cpu, queries = defaultdict(list), defaultdict(list)
    profiler = cProfile.Profile() if args.profile else None
    for _ in range(args.passes):
        for route, path, header in mix:
            with CaptureQueriesContext(connection) as captured:
                started = time.process_time()
                if profiler:
                    profiler.enable()
                send(path, header)
                if profiler:
                    profiler.disable()
                cpu[route].append(1000 * (time.process_time() - started))
            queries[route].append(len(captured))
    every = [x for values in cpu.values() for x in values]
    print(f"{len(mix)} requests in the mix, {args.passes} passes after a warm-up pass")
    print(f"mean CPU per request: {sum(every) / len(every):.1f} ms")
    print(f"\n{'route':<28} {'CPU ms':>7} {'queries (median)':>8}")
    for route, values in sorted(cpu.items(), key=lambda kv: -sum(kv[1]) / len(kv[1])):
        print(f"{route:<28} {sum(values) / len(values):>7.1f} {sorted(queries[route])[len(values) // 2]:>8}")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)


if __name__ == "__main__":
    main()
