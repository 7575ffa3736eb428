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
