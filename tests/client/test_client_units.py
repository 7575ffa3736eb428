"""Small pieces with no server: tables, the job follower, and that the client never imports Django."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import modelyard
from modelyard.errors import JobFailed
from modelyard.progress import follow
from modelyard.tables import render, render_pairs

SERVER_PACKAGES = ("django", "rest_framework", "apps", "config", "celery")


def test_table_is_aligned_with_numbers_on_the_right():
    rows = [{"name": "credit", "n": 12, "tags": ["a", "b"]}, {"name": "fraud-detector", "n": 3, "tags": []}]
    text = render(rows, [("NAME", "name"), ("N", "n"), ("TAGS", "tags")])
    assert text.splitlines() == [
        "NAME             N  TAGS",
        "credit          12  a,b",
        "fraud-detector   3  -",
    ]
    assert render([], [("NAME", "name")], empty="(no models)") == "(no models)"
    assert render_pairs([("user", "dana"), ("role", None)]) == "user  dana\nrole  -"


def _jobs(*states):
    seen = list(states)

    def fetch(job_id):
        return seen.pop(0) if len(seen) > 1 else seen[0]

    return fetch


def test_follow_returns_the_finished_job():
    fetch = _jobs(
        {"id": 1, "status": "queued", "progress": 0, "done": False, "steps": []},
        {"id": 1, "status": "running", "progress": 50, "done": False, "steps": [{"message": "half"}]},
        {"id": 1, "status": "succeeded", "progress": 100, "done": True, "steps": [{"message": "ok"}]},
    )
    assert follow(fetch, 1, interval=0)["status"] == "succeeded"


def test_follow_draws_a_progress_bar_on_a_terminal(monkeypatch):
    """On a terminal the bar shows the job's percent and its latest step; piped, nothing is drawn."""
    import fcntl
    import io
    import os
    import pty
    import struct
    import sys
    import termios

    states = (
        {"id": 1, "status": "running", "progress": 40, "done": False, "steps": [{"message": "locking"}]},
        {"id": 1, "status": "succeeded", "progress": 100, "done": True, "steps": [{"message": "ready"}]},
    )
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a 120-column terminal
    with os.fdopen(follower, "w") as terminal:
        monkeypatch.setattr(sys, "stderr", terminal)
        follow(_jobs(*states), 1, interval=0)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the follower side is closed: all has been read
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    text = drawn.decode()
    assert "job 1  40%" in text and "running: locking" in text
    assert "job 1 100%" in text and "succeeded: ready" in text

    piped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", piped)
    follow(_jobs(*states), 1, interval=0)
    assert piped.getvalue() == ""


def test_follow_raises_when_the_job_failed():
    fetch = _jobs(
        {"id": 2, "kind": "k", "status": "failed", "done": True, "error": "bad column", "steps": []}
    )
    with pytest.raises(JobFailed, match="bad column") as caught:
        follow(fetch, 2, interval=0)
    assert caught.value.job["status"] == "failed"


def test_follow_gives_up_after_timeout():
    fetch = _jobs({"id": 3, "status": "queued", "progress": 0, "done": False, "steps": []})
    with pytest.raises(JobFailed, match="still queued"):
        follow(fetch, 3, interval=0.01, timeout=0.05)


def test_client_source_never_imports_the_server():
    for path in Path(modelyard.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in SERVER_PACKAGES, f"{path.name} imports {name}"


def test_importing_the_client_loads_no_server_module(tmp_path):
    code = (
        "import sys, modelyard, modelyard.cli\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {SERVER_PACKAGES!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_predict_sends_the_endpoint_key_and_never_the_api_token(monkeypatch):
    """The inference service gets the consumer key (argument, else $MODELYARD_ENDPOINT_KEY) and the
    caller's request id; the API token stays with the web app. A real local HTTP server listens."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from modelyard import Client

    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the standard library's name
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(dict(self.headers))
            body = json.dumps({"request_id": "r", "predictions": [1]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("MODELYARD_INFERENCE_URL", f"http://127.0.0.1:{server.server_port}")
        client = Client(url="http://127.0.0.1:9", token="my_api-token")
        client.predict("credit", {"Age": 30}, key="myk_argument", request_id="order-1")
        monkeypatch.setenv("MODELYARD_ENDPOINT_KEY", "myk_environment")
        client.predict("credit", {"Age": 30})
        monkeypatch.delenv("MODELYARD_ENDPOINT_KEY")
        client.predict("credit", {"Age": 30})
    finally:
        server.shutdown()
    assert [h.get("Authorization") for h in seen] == ["Bearer myk_argument", "Bearer myk_environment", None]
    assert seen[0]["X-Request-ID"] == "order-1" and "X-Request-ID" not in seen[1]
    assert not any("my_api-token" in str(h) for h in seen)


def test_predict_asks_for_partial_scoring_only_when_told(monkeypatch):
    """--partial / partial=True add ?partial=true; the CLI says how many records were refused."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from click.testing import CliRunner

    from modelyard import Client
    from modelyard.cli import cli

    paths = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the standard library's name
            self.rfile.read(int(self.headers["Content-Length"]))
            paths.append(self.path)
            answer = {"request_id": "r", "predictions": [1]}
            if "partial=true" in self.path:
                answer = {"request_id": "r", "predictions": [1, None], "refused": [1], "errors": ["…"]}
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("MODELYARD_INFERENCE_URL", f"http://127.0.0.1:{server.server_port}")
        monkeypatch.setenv("MODELYARD_URL", "http://127.0.0.1:9")
        monkeypatch.setenv("MODELYARD_TOKEN", "t")
        client = Client(url="http://127.0.0.1:9", token="t")
        client.predict("credit", {"Age": 30})
        client.predict("credit", [{"Age": 30}, {"Age": "x"}], partial=True)
        out = CliRunner().invoke(
            cli, ["predict", "credit", "--partial", "--json", '[{"Age": 30}, {"Age": "x"}]']
        )
    finally:
        server.shutdown()
    assert out.exit_code == 0, out.output
    assert "1 of 2 records refused: see errors" in out.stderr
    assert ["partial=true" in path for path in paths] == [False, True, True]
