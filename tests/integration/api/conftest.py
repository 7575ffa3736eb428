"""A real web server for the tests that need one: gunicorn running config.wsgi as production does,
with one sync worker so that its memory can be read from /proc."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, free_port, wait_for


def worker_of(master: subprocess.Popen) -> int:
    """The pid of gunicorn's one worker process (the master's child)."""

    def child():
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                fields = dict(
                    line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
                )
            except OSError:
                continue
            if fields.get("PPid", "").strip() == str(master.pid):
                return int(status.parent.name)
        return None

    return wait_for(child, timeout=30)


def peak_rss_mb(pid: int) -> float:
    """The high-water mark of a process's resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for {pid}")


@pytest.fixture
def start_web(django_db_setup, tmp_path_factory):
    """start(**environment) → (url, master process) of `gunicorn config.wsgi` with one worker on the
    test database (test settings, DEBUG off). ``environment`` adds to, or with None removes from,
    the server's environment."""
    from django.db import connection

    started: list[subprocess.Popen] = []

    def start(**environment):
        port = free_port()
        log = tmp_path_factory.mktemp("web") / "gunicorn.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "MODELYARD_TEST_DB_NAME": str(connection.settings_dict["NAME"]),
            "PYTHONUNBUFFERED": "1",
        }
        for name, value in environment.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        command = [
            str(Path(sys.executable).parent / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
        ]
        command += ["--workers", "1", "--timeout", "120"]
        with open(log, "w") as out:
            proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        started.append(proc)
        url = f"http://127.0.0.1:{port}"

        def answering():
            if proc.poll() is not None:
                raise AssertionError(f"gunicorn exited:\n{log.read_text()[-3000:]}")
            try:
                return requests.get(f"{url}/accounts/login/", timeout=2) is not None  # any answer
            except requests.RequestException:
                return False

        wait_for(answering, timeout=60)
        return url, proc

    try:
        yield start
    finally:
        for proc in started:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
