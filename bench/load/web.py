"""Load: the web app as production starts it, under a minute of mixed page and API traffic.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/modelyard REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/load/web.py                      # 60 s at concurrency 16
    .venv/bin/python bench/load/web.py --workers 3 --threads 4  # another worker model
    .venv/bin/python bench/load/web.py --reseed --duration 30

The data is the demo's (apps/demo/seed.py on ../shared/data: credit-default v1 and v2, a week of
backfilled credit-risk predictions with outcomes and a planted shift, KPIs, monitoring alerts,
library findings, review-sentiment), seeded once into a database of the bench's own (PostgreSQL
``modelyard_bench_web`` beside the one DATABASE_URL names; SQLite under var/bench-load-web
otherwise) with Celery tasks run eagerly, and reused by later runs (``--reseed`` starts again).
REDIS_URL is required: production settings use Redis as broker and cache.

The web app is started the documented way (``gunicorn -c config/gunicorn.py config.wsgi``) on
production settings over plain HTTP (static files collected into a temporary folder), with
``--workers``/``--threads`` passed as MODELYARD_WEB_WORKERS/THREADS (config/gunicorn.py's defaults
otherwise). Users of the three roles sign in through the sign-in page (sessions, for pages) and
``/api/v1/auth/token/`` (tokens, for the API). ``--concurrency`` keep-alive clients then each send
their next GET as soon as the last is answered, walking the same mix from different offsets:
every main page of each role (home pages, models, model detail and monitoring, drift alerts and
feature panels, the IT SLA and library pages, deployments, KPI list and KPI detail pages) and the
main API lists and details. It prints requests/s, latency p50/p95/p99 overall and per route,
errors (any answer but 2xx, and lost connections), worker memory and the load average.
"""

import argparse
import asyncio
import http.cookiejar
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "serving"))

import run as serving  # noqa: E402  (bench/serving/run.py: ports, process trees, stop)

BENCH_DB = "modelyard_bench_web"
VAR = ROOT / "var" / "bench-load-web"
PASSWORD = "modelyard-demo"  # apps/demo/seed.py's DEMO_PASSWORD
ROLES = {"data scientist": "dana", "IT": "ivan", "business": "bea"}


# --- set-up ---------------------------------------------------------------------------------------


def bench_environment(args) -> dict:
    """Production settings over plain HTTP, on the bench's own database and var folder."""
    if not os.environ.get("REDIS_URL"):
        sys.exit("REDIS_URL is required: production settings use Redis as broker and cache")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "bench-load-web-" + "x" * 40,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_SECURE_COOKIES": "false",
        "MODELYARD_VAR_DIR": str(VAR),
        # Nothing here may block on a broker: tasks queued by the seed run in the seeding process.
        "CELERY_TASK_ALWAYS_EAGER": "true",
    }
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        env["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + BENCH_DB
    else:
        env["DATABASE_URL"] = f"sqlite:///{VAR / 'modelyard.sqlite3'}"
    if args.workers:
        env["MODELYARD_WEB_WORKERS"] = str(args.workers)
    if args.threads:
        env["MODELYARD_WEB_THREADS"] = str(args.threads)
    return env


def drop_database(env: dict) -> None:
    url = env["DATABASE_URL"]
    if url.startswith("postgres"):
        import psycopg

        with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    shutil.rmtree(VAR, ignore_errors=True)


def ensure_seeded(env: dict, reseed: bool) -> None:
    """Migrate and seed the demo data once (a few minutes); later runs reuse it."""
    if reseed:
        drop_database(env)
    VAR.mkdir(parents=True, exist_ok=True)
    stamp = VAR / "seeded"
    url = env["DATABASE_URL"]
    if url.startswith("postgres"):
        serving.BENCH_DB = BENCH_DB
        serving.create_postgres_database(os.environ["DATABASE_URL"])
    if stamp.exists():
        return
    print(f"seeding the demo data into {url.rsplit('/', 1)[-1]} (a few minutes, once) …", flush=True)
    manage = [sys.executable, "manage.py"]
    log = VAR / "seed.log"
    with open(log, "w") as out:
        for command in (["migrate", "--verbosity", "0"], ["seed_demo"]):
            done = subprocess.run(manage + command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
            if done.returncode:
                sys.exit(f"{' '.join(command)} failed:\n{log.read_text()[-3000:]}")
    stamp.write_text(time.strftime("%Y-%m-%d %H:%M:%S\n"))


def start_web(env: dict, port: int, work: Path) -> subprocess.Popen:
    static = work / "static"
    env = {**env, "DJANGO_STATIC_ROOT": str(static)}
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    command = [gunicorn, "-c", "config/gunicorn.py", "config.wsgi", "--bind", f"127.0.0.1:{port}"]
    log = work / "web.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    serving.wait_until_ready(f"http://127.0.0.1:{port}/accounts/login/", proc, log)
    return proc


# --- signing in and the mix -----------------------------------------------------------------------


def sign_in(base: str, username: str) -> str:
    """The session cookie of ``username``, through the sign-in page as a browser gets it."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/accounts/login/", timeout=30).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode(
        {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token}
    ).encode()
    request = urllib.request.Request(f"{base}/accounts/login/", data=form, headers={"Referer": base + "/"})
    opener.open(request, timeout=30).read()
    session = next((c.value for c in jar if c.name == "sessionid"), None)
    if session is None:
        sys.exit(f"{username} could not sign in")
    return session


def api_token(base: str, username: str) -> str:
    body = json.dumps({"username": username, "password": PASSWORD, "name": "bench-load-web"}).encode()
    request = urllib.request.Request(
        f"{base}/api/v1/auth/token/", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())["token"]


def get_json(base: str, path: str, token: str):
    request = urllib.request.Request(base + path, headers={"Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def answers(url: str, session: str) -> bool:
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers={"Cookie": f"sessionid={session}"}), timeout=60
        ):
            return True
    except OSError:
        return False


def results(page) -> list:
    return page["results"] if isinstance(page, dict) and "results" in page else page


def the_mix(base: str) -> list[tuple[str, str, str]]:
    """(route, path, Cookie or Authorization header) for every request of the mix; the ids come
    from the API, as each role sees them."""
    sessions = {role: sign_in(base, user) for role, user in ROLES.items()}
    tokens = {role: api_token(base, user) for role, user in ROLES.items()}

    def page(role):
        return f"Cookie: sessionid={sessions[role]}"

    def api(role):
        return f"Authorization: Token {tokens[role]}"

    ds, it, biz = "data scientist", "IT", "business"
    models = results(get_json(base, "/api/v1/models/", tokens[ds]))
    versions = results(get_json(base, "/api/v1/versions/", tokens[ds]))
    alerts = results(get_json(base, "/api/v1/alerts/", tokens[ds]))
    monitors = results(get_json(base, "/api/v1/monitors/", tokens[ds]))
    kpis = results(get_json(base, "/api/v1/kpis/", tokens[biz]))
    credit = next(m for m in models if m["name"] == "credit-default")
    # The feature panels of the monitor with finished runs (credit-risk in production).
    panels = [
        f"/monitoring/monitors/{m['id']}/feature/?feature={f}"
        for m in monitors
        for f in ("Income", "Home", "Seniority")
    ]
    panels = [p for p in panels if answers(base + p, sessions[ds])][:3]
    mix = [
        ("page ds home", "/", page(ds)),
        ("page ds models", "/models/", page(ds)),
        ("page ds model detail", f"/models/{credit['id']}/", page(ds)),
        ("page ds version detail", f"/versions/{versions[0]['id']}/", page(ds)),
        ("page ds monitoring", "/monitoring/", page(ds)),
        ("page ds model monitoring", f"/models/{credit['id']}/monitoring/", page(ds)),
        ("page ds drift alerts", "/monitoring/alerts/", page(ds)),
        *[("page ds drift alert", f"/monitoring/alerts/{a['id']}/", page(ds)) for a in alerts[:2]],
        *[("page ds feature panel", p, page(ds)) for p in panels],
        ("page it home", "/", page(it)),
        ("page it sla", "/it/sla/?endpoint=credit-risk&environment=production&period=24h", page(it)),
        ("page it libraries", "/it/libraries/", page(it)),
        ("page it deployments", "/deployments/", page(it)),
        ("page it model detail", f"/models/{credit['id']}/", page(it)),
        ("page biz home", "/", page(biz)),
        ("page biz kpis", "/kpis/", page(biz)),
        *[("page biz kpi detail", f"/kpis/{k['id']}/", page(biz)) for k in kpis],
        ("page biz kpi alerts", "/kpis/alerts/", page(biz)),
        ("page biz model detail", f"/models/{credit['id']}/", page(biz)),
        ("api models", "/api/v1/models/", api(ds)),
        ("api model", f"/api/v1/models/{credit['id']}/", api(ds)),
        ("api versions", "/api/v1/versions/", api(ds)),
        ("api version", f"/api/v1/versions/{versions[0]['id']}/", api(ds)),
        ("api alerts", "/api/v1/alerts/", api(ds)),
        ("api findings", "/api/v1/findings/", api(ds)),
        ("api deployments", "/api/v1/deployments/", api(it)),
        ("api endpoints", "/api/v1/endpoints/", api(it)),
        ("api jobs", "/api/v1/jobs/", api(it)),
        ("api library findings", "/api/v1/library-findings/", api(it)),
        ("api kpis", "/api/v1/kpis/", api(biz)),
        *[("api kpi", f"/api/v1/kpis/{k['id']}/", api(biz)) for k in kpis[:1]],
    ]
    return mix


# --- the load -------------------------------------------------------------------------------------


class Run:
    def __init__(self, warmup: float, duration: float):
        self.start = time.perf_counter()
        self.window_start = self.start + warmup
        self.deadline = self.window_start + duration
        self.latencies: dict[str, list[float]] = defaultdict(list)  # measured window only
        self.statuses: dict[str, Counter] = defaultdict(Counter)  # measured window only
        self.completed = 0
        self.errors: Counter = Counter()
        self.retried = 0  # GETs sent again after a kept-alive connection closed under them


async def read_answer(reader: asyncio.StreamReader) -> int:
    """Read one whole answer (Content-Length or chunked); its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    at = lower.find(b"content-length:")
    if at >= 0:
        await reader.readexactly(int(lower[at + 15 : lower.find(b"\r\n", at)]))
    elif b"transfer-encoding: chunked" in lower:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def one_client(run: Run, port: int, mix: list, offset: int) -> None:
    index = offset
    retry = None  # a request to send again on a new connection (see below)
    while time.perf_counter() < run.deadline:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError as exc:
            run.errors[type(exc).__name__] += 1
            await asyncio.sleep(0.1)
            continue
        answered_here = 0
        try:
            while time.perf_counter() < run.deadline:
                if retry is None:
                    route, path, header = mix[index % len(mix)]
                    index += 1
                    sent = time.perf_counter()
                else:
                    (route, path, header), sent = retry
                    retry = None
                writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{header}\r\n\r\n".encode())
                status = await asyncio.wait_for(read_answer(reader), timeout=120)
                answered_here += 1
                now = time.perf_counter()
                if sent >= run.window_start:
                    run.latencies[route].append(now - sent)
                    run.statuses[route][status] += 1
                    run.completed += now < run.deadline
        except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError) as exc:
            stale = answered_here and not getattr(exc, "partial", b"")
            if stale and retry is None:
                # The server closed a kept-alive connection just as this request went out (a worker
                # replaced after max_requests does that). Nothing of the answer came back, so the GET
                # is sent again on a new connection, as browsers and urllib3 do (RFC 9112 §9.3.1);
                # its latency counts from the first attempt.
                retry = ((route, path, header), sent)
                run.retried += 1
            else:
                run.errors[type(exc).__name__] += 1
        except (TimeoutError, OSError) as exc:
            run.errors[type(exc).__name__] += 1  # the request in flight is lost; a new connection
        finally:
            writer.close()


async def load(port: int, mix: list, *, concurrency: int, duration: float, warmup: float, root: int) -> dict:
    run = Run(warmup, duration)
    step = max(1, len(mix) // concurrency)
    clients = [asyncio.ensure_future(one_client(run, port, mix, i * step + i)) for i in range(concurrency)]
    await asyncio.sleep(max(0.0, run.window_start - time.perf_counter()))
    cpu_before = tree_cpu(root)
    own_before = own_cpu()
    await asyncio.sleep(max(0.0, run.deadline - time.perf_counter()))
    cpu_after = tree_cpu(root)
    own_after = own_cpu()
    loadavg = os.getloadavg()
    await asyncio.wait(clients, timeout=130)
    return {
        "run": run,
        "server_cpu_s": cpu_after - cpu_before,
        "generator_cpu_s": own_after - own_before,
        "loadavg": loadavg,
    }


def tree_cpu(root: int) -> float:
    """User + system CPU of the gunicorn tree: the live processes' own, plus what the arbiter's
    exited workers used (its reaped children's times), so a worker replaced during the run
    (max_requests) is still counted."""
    from loadgen import _TICKS, cpu_seconds

    with open(f"/proc/{root}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    reaped = (int(fields[13]) + int(fields[14])) / _TICKS  # cutime, cstime: fields 16 and 17
    return reaped + sum(cpu_seconds(pid) for pid in serving.descendants(root))


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000.0 if values else 0.0


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of a process in MB: PSS shares pages copied on fork among the workers."""
    rss = pss = 0.0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1]) / 1024
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss, pss


def report(result: dict, args, env: dict, workers: list[int]) -> None:
    run = result["run"]
    everything = [x for values in run.latencies.values() for x in values]
    errors = Counter()
    for route, statuses in run.statuses.items():
        for status, n in statuses.items():
            if not 200 <= status < 300:
                errors[f"{status} {route}"] += n
    errors.update(run.errors)
    done = max(run.completed, 1)
    memory = [memory_mb(pid) for pid in workers]
    lines = [
        ("requests/s", f"{run.completed / args.duration:,.1f}"),
        (
            "latency p50 / p95 / p99 / max",
            " / ".join(f"{percentile(everything, q):.0f}" for q in (0.5, 0.95, 0.99, 1.0)) + " ms",
        ),
        ("errors (non-2xx, lost connections)", f"{sum(errors.values())} {dict(errors) or ''}".strip()),
        ("sent again (kept-alive conn. closed)", f"{run.retried}"),
        ("server CPU per request", f"{1000 * result['server_cpu_s'] / done:.1f} ms"),
        ("generator CPU per request", f"{1000 * result['generator_cpu_s'] / done:.2f} ms"),
        (
            "worker memory RSS / PSS",
            " · ".join(f"{rss:.0f}/{pss:.0f}" for rss, pss in memory) + " MB",
        ),
        ("load average at the end (1, 5 min)", f"{result['loadavg'][0]:.2f}, {result['loadavg'][1]:.2f}"),
        (
            "server",
            f"gunicorn -c config/gunicorn.py: {len(workers)} workers × "
            f"{env.get('MODELYARD_WEB_THREADS', '4 (default)')} threads (gthread), "
            f"{'PostgreSQL' if env['DATABASE_URL'].startswith('postgres') else 'SQLite'}, "
            f"concurrency {args.concurrency}, {args.duration:.0f} s",
        ),
    ]
    width = max(len(name) for name, _ in lines)
    for name, value in lines:
        print(f"{name:<{width}}  {value}")
    print()
    print(f"{'route':<28} {'n':>6} {'p50':>7} {'p95':>7} {'p99':>7}  errors")
    for route, values in sorted(run.latencies.items(), key=lambda kv: -percentile(kv[1], 0.95)):
        bad = sum(n for s, n in run.statuses[route].items() if not 200 <= s < 300)
        shown = "  ".join(f"{percentile(values, q):>6.0f}" for q in (0.5, 0.95, 0.99))
        print(f"{route:<28} {len(values):>6} {shown}  {bad or ''}")
    if args.json:
        summary = {
            "requests_per_s": run.completed / args.duration,
            "p50_ms": percentile(everything, 0.5),
            "p95_ms": percentile(everything, 0.95),
            "p99_ms": percentile(everything, 0.99),
            "errors": dict(errors),
            "sent_again": run.retried,
            "routes": {r: {"n": len(v), "p95_ms": percentile(v, 0.95)} for r, v in run.latencies.items()},
            "workers": len(workers),
            "threads": env.get("MODELYARD_WEB_THREADS"),
            "memory_mb": memory,
            "loadavg": result["loadavg"],
        }
        Path(args.json).write_text(json.dumps(summary, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of load before measuring")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive clients")
    parser.add_argument("--workers", type=int, help="MODELYARD_WEB_WORKERS (default: config/gunicorn.py's)")
    parser.add_argument("--threads", type=int, help="MODELYARD_WEB_THREADS (default: config/gunicorn.py's)")
    parser.add_argument("--reseed", action="store_true", help="drop the bench's database and seed again")
    parser.add_argument("--json", help="also write the summary to this file")
    args = parser.parse_args()

    env = bench_environment(args)
    ensure_seeded(env, args.reseed)
    work = Path(tempfile.mkdtemp(prefix="bench-load-web-"))
    port = serving.free_port()
    print(f"load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    server = start_web(env, port, work)
    try:
        workers = [pid for pid in serving.descendants(server.pid) if pid != server.pid]
        base = f"http://127.0.0.1:{port}"
        mix = the_mix(base)
        print(
            f"{len(mix)} requests in the mix ({len({r for r, _, _ in mix})} routes); "
            f"{args.duration:.0f} s at concurrency {args.concurrency} …",
            flush=True,
        )
        result = asyncio.run(
            load(
                port,
                mix,
                concurrency=args.concurrency,
                duration=args.duration,
                warmup=args.warmup,
                root=server.pid,
            )
        )
        workers = [pid for pid in serving.descendants(server.pid) if pid != server.pid]
        report(result, args, env, workers)
    finally:
        serving.stop(server)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
