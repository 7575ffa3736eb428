"""Serving: one scikit-learn model (20 numeric features) behind Modelyard's inference service and
behind MLflow's ``mlflow models serve``, single-row requests from keep-alive clients at
concurrency 8 and 32, prediction logging on; plus the model's raw in-process predict() rate.

    .venv/bin/python bench/serving/run.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/modelyard REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/serving/run.py --duration 10

Modelyard is set up in a database of its own (PostgreSQL database ``modelyard_bench`` beside the one
DATABASE_URL names; SQLite under the bench's var folder otherwise), migrated, with a user, a
registered version, its package and a staging deployment made by calling the services directly.
The inference service runs as ``manage.py inference`` (2 workers: the reference machine has 2
cores) and logs every prediction to the configured buffer under a key prefix of its own; after the
load the log is drained into the database and the stored rows are counted against the 200 answers.
MLflow runs from a venv of its own (bench/serving/.venv-mlflow, created on the first run with pip:
mlflow and the scikit-learn this venv has) with ``--env-manager local``; --skip-mlflow leaves it out.
The load generator is bench/serving/loadgen.py (asyncio, standard library) in a process of its own,
so its CPU is measured apart from the servers'."""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from model import FEATURES, TARGET, load_frame, train  # noqa: E402

ENDPOINT = "bench-serving"
MLFLOW_VENV = HERE / ".venv-mlflow"
BENCH_DB = "modelyard_bench"


# --- processes ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def wait_until_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the server exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    sys.exit(f"the server did not answer {url} within {timeout}s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def run_load(port: int, path: str, bodies: Path, *, concurrency, duration, warmup, pids, headers=()) -> dict:
    command = [
        sys.executable,
        str(HERE / "loadgen.py"),
        "--port",
        str(port),
        "--path",
        path,
        "--bodies",
        str(bodies),
        "--concurrency",
        str(concurrency),
        "--duration",
        str(duration),
        "--warmup",
        str(warmup),
        "--watch-pids",
        ",".join(map(str, pids)),
    ]
    for header in headers:
        command += ["--header", header]
    result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    result["server_cpu_total_s"] = sum(result["server_cpu_s"].values())
    done = result["requests_per_s"] * duration
    result["server_cpu_ms_per_request"] = 1000.0 * result["server_cpu_total_s"] / max(done, 1)
    result["generator_cpu_ms_per_request"] = 1000.0 * result["generator_cpu_s"] / max(done, 1)
    return result


# --- Modelyard ------------------------------------------------------------------------------------


def bench_environment(args, var_dir: Path, run: str) -> dict:
    """The environment of this process and the inference service: a database, var folder and
    prediction-log prefix of the bench's own, and no broker (Celery messages go nowhere: the
    services are called directly)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "false",
        "MODELYARD_VAR_DIR": str(var_dir),
        "MODELYARD_PREDICTION_LOG_PREFIX": f"modelyard-bench-serving-{run}:",
        "CELERY_BROKER_URL": "memory://",
        # As in production: every request presents the endpoint's consumer key.
        "MODELYARD_INFERENCE_REQUIRE_KEYS": "true",
    }
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        env["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + BENCH_DB
        create_postgres_database(url)
    else:
        env.pop("DATABASE_URL", None)  # SQLite in the bench's var folder
    return env


def create_postgres_database(url: str) -> None:
    import psycopg

    maintenance = url.rsplit("/", 1)[0] + "/postgres"  # the named database need not exist
    with psycopg.connect(maintenance, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{BENCH_DB}"')


def deploy(train_csv: Path, model_bytes: bytes):
    """Migrate, then user, version, package, a live staging deployment and a consumer key of its
    endpoint through the services: (version, key)."""
    import io

    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from apps.accounts.roles import Role
    from apps.accounts.services import user_create
    from apps.deployments.models import Deployment
    from apps.deployments.services import (
        deployment_request,
        deployment_rollout_run,
        endpoint_key_create,
        seed_environments,
    )
    from apps.packaging.services import package_build_enqueue, package_build_run
    from apps.registry.services import Registration, version_register
    from apps.serving.models import Prediction

    seed_environments()
    Deployment.objects.filter(endpoint__name=ENDPOINT, status=Deployment.Status.LIVE).update(
        status=Deployment.Status.RETIRED
    )
    Prediction.objects.filter(endpoint=ENDPOINT).delete()
    user = user_create(username="bench", role=Role.DATA_SCIENTIST, team_name="Bench")
    version = version_register(
        user=user,
        reg=Registration(
            model_name="bench-lending",
            task_type="binary_classification",
            artifact=io.BytesIO(model_bytes),
            artifact_filename="model.joblib",
            reference=io.BytesIO(train_csv.read_bytes()),
            reference_filename="train.csv",
            target=TARGET,
        ),
    )
    build = package_build_run(build=package_build_enqueue(version=version), step=lambda p, m: None)
    if not build.archive_sha256:
        sys.exit(f"the package build failed: {build.report}")
    deployment = deployment_request(user=user, version=version, endpoint=ENDPOINT, environment="staging")
    deployment_rollout_run(deployment=deployment, step=lambda p, m: None)
    _, key = endpoint_key_create(user=user, endpoint=deployment.endpoint, name="bench")
    return version, key


def start_inference(env: dict, port: int, workers: int, threads: int, log: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "manage.py",
        "inference",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--environment",
        "staging",
    ]
    with open(log, "w") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        wait_until_ready(f"http://127.0.0.1:{port}/health", proc, log)
        if len(descendants(proc.pid)) >= workers + 1:
            break
        time.sleep(0.3)
    return proc


def warm_every_worker(port: int, body: bytes, workers: int, key: str) -> tuple[dict, int]:
    """Each worker loads its model in the background once routes arrive; the first request to a
    worker that has not finished waits for it. Fresh connections until every worker has answered:
    the last answer and the rows logged meanwhile."""
    seen, rows, deadline = set(), 0, time.monotonic() + 60
    while len(seen) < workers and time.monotonic() < deadline:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/endpoints/{ENDPOINT}/predict",
            data=body,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            seen.add(answer.headers["X-Served-By"])
            answers = json.loads(answer.read())
        rows += len(answers["predictions"])
    return answers, rows


def drain_and_count() -> tuple[int, int, float, int]:
    """Drain the prediction log into the database: (rows stored for the endpoint, rows inserted by
    this drain, its seconds, records left in the buffer)."""
    from apps.serving.ingest import drain
    from apps.serving.logbuffer import open_buffer
    from apps.serving.models import Prediction

    buffer = open_buffer()
    started = time.perf_counter()
    inserted = drain(buffer, max_batches=None, batch_size=5000)
    seconds = time.perf_counter() - started
    left = buffer.pending()
    discard_buffer()
    return Prediction.objects.filter(endpoint=ENDPOINT).count(), inserted, seconds, left


def discard_buffer() -> None:
    """Remove the run's own prediction-log stream or spool folder (also when a run fails)."""
    from apps.serving.logbuffer import RedisStreamBuffer, open_buffer

    buffer = open_buffer()
    if isinstance(buffer, RedisStreamBuffer):
        buffer._redis.delete(buffer.key)
    else:
        buffer.close()
        shutil.rmtree(buffer.root, ignore_errors=True)


# --- MLflow ---------------------------------------------------------------------------------------


def mlflow_python() -> Path:
    """The MLflow venv's Python, creating the venv first if it is missing."""
    python = MLFLOW_VENV / "bin" / "python"
    if not (MLFLOW_VENV / "bin" / "mlflow").exists():
        import sklearn

        print(f"creating {MLFLOW_VENV} (pip install mlflow scikit-learn=={sklearn.__version__}) …")
        subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "mlflow", f"scikit-learn=={sklearn.__version__}"],
            check=True,
        )
    return python


def start_mlflow(train_csv: Path, work: Path, port: int, workers: int, log: Path) -> subprocess.Popen:
    python = mlflow_python()
    model_dir = work / "mlflow-model"
    subprocess.run([str(python), str(HERE / "mlflow_model.py"), str(train_csv), str(model_dir)], check=True)
    command = [
        str(MLFLOW_VENV / "bin" / "mlflow"),
        "models",
        "serve",
        "-m",
        str(model_dir),
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-w",
        str(workers),
    ]
    env = {
        **os.environ,
        "PATH": f"{MLFLOW_VENV / 'bin'}:{os.environ.get('PATH', '')}",  # MLflow runs `uvicorn` by name
        "MLFLOW_TRACKING_URI": f"file://{work / 'mlruns'}",
    }
    with open(log, "w") as out:
        proc = subprocess.Popen(
            command, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    wait_until_ready(f"http://127.0.0.1:{port}/ping", proc, log)
    return proc


# --- raw predict() --------------------------------------------------------------------------------


def raw_rates(model, rows, seconds: float = 3.0) -> dict:
    """Rows per second of the fitted pipeline called in this process: predict_proba on a one-row
    DataFrame, on a one-row NumPy array, and on a 1,000-row DataFrame."""
    import pandas as pd

    frames = [rows.iloc[[i]] for i in range(min(len(rows), 200))]
    arrays = [frame.to_numpy(dtype=float) for frame in frames]
    batch = pd.concat([rows] * (1000 // len(rows) + 1)).head(1000)

    def rate(calls, per_call: int) -> float:
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            for item in calls:
                model.predict_proba(item)
            count += len(calls)
        return count * per_call / (time.perf_counter() - started)

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an array has no feature names; the scaler says so
        return {
            "one_row_frame": rate(frames, 1),
            "one_row_array": rate(arrays, 1),
            "batch_1000_frame": rate([batch], 1000),
        }


# --- report ---------------------------------------------------------------------------------------


def report(results: dict, raw: dict, extra: list[tuple[str, str]]) -> None:
    columns = ["requests/s", "p50 ms", "p99 ms", "server CPU ms/req", "generator CPU ms/req", "load avg"]
    lines = []
    for name, r in results.items():
        lines.append(
            [
                name,
                f"{r['requests_per_s']:,.0f}",
                f"{r['p50_ms']:.2f}",
                f"{r['p99_ms']:.2f}",
                f"{r['server_cpu_ms_per_request']:.3f}",
                f"{r['generator_cpu_ms_per_request']:.3f}",
                f"{r['loadavg'][0]:.2f}",
            ]
        )
    for name, value in raw.items():
        label = f"raw predict_proba, {name.replace('_', ' ')}"
        lines.append([label, f"{value:,.0f} rows/s", "", "", "", "", ""])
    header = ["", *columns]
    widths = [max(len(str(row[i])) for row in [header, *lines]) for i in range(len(header))]
    for row in [header, *lines]:
        print(
            "  ".join(
                str(cell).rjust(w) if i else str(cell).ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    print()
    width = max(len(name) for name, _ in extra)
    for name, value in extra:
        print(f"{name:<{width}}  {value}")


def main() -> None:
    try:
        _main()
    finally:
        django_apps = sys.modules.get("django.apps")
        if django_apps is not None and django_apps.apps.ready:
            discard_buffer()  # a run that stopped early leaves no stream behind


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per load")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load before measuring")
    parser.add_argument("--concurrency", default="8,32", help="comma-separated client counts")
    parser.add_argument("--workers", type=int, default=2, help="server processes (Modelyard and MLflow)")
    parser.add_argument("--threads", type=int, default=4, help="threads per Modelyard worker")
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the bench's var folder")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]

    run = uuid.uuid4().hex[:8]
    work = ROOT / "var" / f"bench-serving-{run}"
    work.mkdir(parents=True)
    env = bench_environment(args, work / "var", run)
    os.environ.clear()
    os.environ.update(env)

    # The same rows for both servers: training rows are the reference data; requests are the other
    # loans, kept to the training ranges (the inferred schema bounds every feature by them).
    frame = load_frame().sample(frac=1.0, random_state=7).reset_index(drop=True)
    train_rows, request_rows = frame.iloc[:8000], frame.iloc[8000:]
    low, high = train_rows[FEATURES].min(), train_rows[FEATURES].max()
    inside = ((request_rows[FEATURES] >= low) & (request_rows[FEATURES] <= high)).all(axis=1)
    request_rows = request_rows[inside]
    train_csv = work / "train.csv"
    train_rows.to_csv(train_csv, index=False)
    model = train(train_rows)
    import io

    import joblib

    buffer = io.BytesIO()
    joblib.dump(model, buffer)

    import django

    django.setup()
    from django.db import connection, connections

    print(f"setting up Modelyard in {connection.vendor} ({connection.settings_dict['NAME']}) …", flush=True)
    _, key = deploy(train_csv, buffer.getvalue())
    connections.close_all()

    records = request_rows[FEATURES].to_dict(orient="records")
    modelyard_bodies, mlflow_bodies = work / "modelyard.jsonl", work / "mlflow.jsonl"
    modelyard_bodies.write_text("".join(json.dumps({"records": [r]}) + "\n" for r in records))
    mlflow_bodies.write_text("".join(json.dumps({"dataframe_records": [r]}) + "\n" for r in records))
    first = json.dumps({"records": records[:5]}).encode()

    results, extra = {}, []
    port = free_port()
    server = start_inference(env, port, args.workers, args.threads, work / "inference.log")
    try:
        answer, sent = warm_every_worker(port, first, args.workers, key)
        expected = model.predict_proba(request_rows[FEATURES].head(5)).tolist()
        if answer["probabilities"] != expected:
            sys.exit("Modelyard's probabilities differ from the model's own")
        pids = descendants(server.pid)
        for level in levels:
            print(f"Modelyard, concurrency {level} …", flush=True)
            result = run_load(
                port,
                f"/v1/endpoints/{ENDPOINT}/predict",
                modelyard_bodies,
                concurrency=level,
                duration=args.duration,
                warmup=args.warmup,
                pids=pids,
                headers=[f"Authorization: Bearer {key}"],
            )
            results[f"Modelyard c={level}"] = result
            sent += result["statuses"].get("200", 0)
            spread = sorted(result["served_by"].values(), reverse=True)
            extra.append((f"Modelyard c={level}: answers per worker", " / ".join(f"{n:,}" for n in spread)))
            others = {k: v for k, v in result["statuses"].items() if k != "200"}
            if others or result["errors"]:
                extra.append((f"Modelyard c={level}: other answers", f"{others} {result['errors']}"))
    finally:
        stop(server)
    stored, inserted, seconds, left = drain_and_count()
    extra.insert(0, ("rows sent (200 answers) / stored", f"{sent:,} / {stored:,} (left in buffer {left})"))
    rate = inserted / max(seconds, 1e-9)
    extra.insert(1, ("drain into the database", f"{rate:,.0f} rows/s ({inserted:,} rows)"))

    if not args.skip_mlflow:
        port = free_port()
        print("MLflow: saving the model and starting `mlflow models serve` …", flush=True)
        server = start_mlflow(train_csv, work, port, args.workers, work / "mlflow.log")
        try:
            pids = descendants(server.pid)
            for level in levels:
                print(f"MLflow, concurrency {level} …", flush=True)
                results[f"MLflow c={level}"] = run_load(
                    port,
                    "/invocations",
                    mlflow_bodies,
                    concurrency=level,
                    duration=args.duration,
                    warmup=args.warmup,
                    pids=pids,
                )
        finally:
            stop(server)

    print("raw predict_proba in this process …", flush=True)
    raw = raw_rates(model, request_rows[FEATURES])
    extra.append(("database", f"{connection.vendor} {connection.settings_dict['NAME']}"))
    servers = (
        f"Modelyard {args.workers} workers × {args.threads} threads; MLflow {args.workers} uvicorn workers"
    )
    extra.append(("servers", servers))
    extra.append(("cores", str(os.cpu_count())))
    report(results, raw, extra)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
