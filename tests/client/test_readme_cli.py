"""The command-line walk-through (docs/cli.md, linked from the README), run as written by bash
against a live server and a real Celery worker. Only what differs on a test machine is replaced,
and each replacement must apply: the server's address and the examples folder (``make demo``
writes it under ``var/examples``)."""

import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from client_helpers import CREDIT_CSV

from apps.demo.examples import write_examples
from tests.shared_data import require

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


def readme_cli_block() -> str:
    """The first sh block under "From Python and the command line" (docs/cli.md)."""
    text = (ROOT / "docs" / "cli.md").read_text()
    section = text[text.index("# From Python and the command line") :]
    return re.search(r"```sh\n(.*?)```", section, re.DOTALL).group(1)


def replaced(script: str, old: str, new: str) -> str:
    assert old in script, f"docs/cli.md's walk-through no longer has {old!r}: update this test"
    return script.replace(old, new)


def test_the_readmes_cli_walk_through_runs_as_written(scientist, celery_worker, tmp_path):
    require(CREDIT_CSV)
    examples = write_examples(tmp_path / "examples", CREDIT_CSV.parents[1])
    script = readme_cli_block()
    script = replaced(script, "http://127.0.0.1:8000", scientist.url)
    script = replaced(script, "cd var/examples", f"cd {examples}")
    if not (ROOT / ".venv" / "bin" / "activate").exists():  # tests run from another environment
        script = replaced(script, ". .venv/bin/activate", f". {Path(sys.executable).parent}/activate")
    script = "set -euo pipefail\n" + script
    # A session of its own: no terminal, so the password prompt reads standard input as a pipe.
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=ROOT,
        input=f"{scientist.username}\n{scientist.password}\n",
        capture_output=True,
        text=True,
        timeout=600,
        start_new_session=True,
    )
    out = done.stdout
    assert done.returncode == 0, f"stdout:\n{out}\nstderr:\n{done.stderr[-3000:]}"
    assert f"as {scientist.username}" in out
    assert "Registered credit-scorecard version 1 in team credit-risk" in out
    assert "Registered credit-scorecard version 2 in team credit-risk" in out
    assert re.search(r"^status\s+ready$", out, re.MULTILINE)
    assert re.search(r"^validation\s+passed$", out, re.MULTILINE)
    assert re.search(r"^holdout roc_auc\s+pass\s+roc_auc = 0\.\d+ on 500 holdout rows", out, re.MULTILINE)
    archive = examples / "credit-scorecard-v2.tar.gz"
    assert f"saved {archive.name} (checksum verified)" in out
    with tarfile.open(archive) as tar:
        assert "credit-scorecard-v2/serve.py" in tar.getnames()
