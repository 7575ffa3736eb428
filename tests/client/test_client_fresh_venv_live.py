"""Issue 14: a model file registered from the CLI gives a working package.

A fresh virtual environment (no system site-packages) holds only scikit-learn, pandas and the
client. It trains a pipeline, saves it with joblib and registers the file with `modelyard register`
against a live server; a real worker builds the package. The lock pins scikit-learn at the fresh
environment's exact version, the SBOM lists it, and a second fresh environment built from the lock
(plus what the package's Dockerfile adds to it) serves the package's serve.py.

Cheap on purpose: venvs are made --without-pip and filled by this interpreter's pip with
--no-compile (compiling bytecode is most of an install's time); about a minute in all.
"""

import json
import os
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
import requests
from client_helpers import CREDIT_CSV, PROJECT_ROOT, TARGET

from modelyard import Client
from tests.conftest import free_port
from tests.shared_data import require

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

FEATURES = ["Seniority", "Time", "Age", "Expenses", "Amount", "Price"]
TRAIN = f"""
import sys
import joblib, pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
frame = pd.read_csv(sys.argv[1])
model = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=500))
model.fit(frame[{FEATURES!r}], frame[{TARGET!r}])
joblib.dump(model, sys.argv[2], compress=3)
"""


def fresh_venv(path: Path, *requirements: str) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-compile",
            "--disable-pip-version-check",
            *requirements,
        ],
        check=True,
    )
    return python


def run(python: Path, *args, **kwargs) -> str:
    done = subprocess.run([str(python), *args], capture_output=True, text=True, timeout=120, **kwargs)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_a_joblib_file_registered_from_a_fresh_venv_gives_a_package_that_serves(
    scientist, celery_worker, tmp_path
):
    require(CREDIT_CSV)
    import pandas as pd

    frame = pd.read_csv(CREDIT_CSV)[FEATURES + [TARGET]].dropna().sample(400, random_state=3)
    reference = tmp_path / "reference.csv"
    frame.to_csv(reference, index=False)

    laptop = fresh_venv(tmp_path / "laptop", "scikit-learn", "pandas", str(PROJECT_ROOT / "client"))
    assert "include-system-site-packages = false" in (tmp_path / "laptop" / "pyvenv.cfg").read_text()
    isolated = subprocess.run([str(laptop), "-c", "import django"], capture_output=True)
    assert isolated.returncode != 0  # nothing of the project's environment leaks in
    sklearn_version = run(laptop, "-c", "import sklearn; print(sklearn.__version__)").strip()
    artifact = tmp_path / "credit.joblib"
    run(laptop, "-c", TRAIN, str(reference), str(artifact))

    cli_env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "MODELYARD_CONFIG": str(tmp_path / "config.json"),
        "MODELYARD_URL": scientist.url,
        "MODELYARD_TOKEN": scientist.token,
    }
    out = run(
        laptop.parent / "modelyard",
        "register",
        str(artifact),
        "--name",
        "credit",
        "--reference",
        str(reference),
        "--target",
        TARGET,
        "--no-wait",
        env=cli_env,
    )
    assert "warning" not in out, out

    client = Client(url=scientist.url, token=scientist.token)
    (version,) = client.versions("credit")
    version_id = version.id
    captured = client.http.get(f"versions/{version_id}/")["environment"]
    assert captured["packages"]["scikit-learn"] == sklearn_version
    build = client.build_package(version_id, wait=True, progress=False)
    assert build["status"] == "succeeded", build
    checks = {c["name"]: c for c in build["report"]["checks"]}
    assert checks["lock provides the model's modules"]["status"] == "pass", checks
    assert build["validation_passed"] is True, checks

    archive = client.download_package(version_id, tmp_path)
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "package", filter="data")
    package = tmp_path / "package" / "credit-v1"
    lock = (package / "requirements.lock").read_text()
    assert f"scikit-learn=={sklearn_version}" in lock.split()
    sbom = json.loads((package / "sbom.cdx.json").read_text())
    assert {"name": "scikit-learn", "version": sklearn_version} in [
        {"name": c["name"], "version": c["version"]} for c in sbom["components"]
    ]

    # The Dockerfile's own install line: the lock, plus the scripts' packages it does not hold.
    install = re.search(
        r"RUN pip install --no-cache-dir -r requirements.lock(.*)", (package / "Dockerfile").read_text()
    )
    assert install, (package / "Dockerfile").read_text()
    server = fresh_venv(
        tmp_path / "serving", "-r", str(package / "requirements.lock"), *install.group(1).split()
    )
    port = free_port()
    env = {"PATH": os.environ["PATH"], "PORT": str(port), "HOST": "127.0.0.1", "MODEL_DIR": str(package)}
    with open(tmp_path / "serve.log", "wb") as log:
        proc = subprocess.Popen([str(server), str(package / "serve.py")], env=env, stdout=log, stderr=log)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.3)
        records = frame[FEATURES].head(3).to_dict(orient="records")
        answer = requests.post(f"{url}/predict", json={"records": records}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["predictions"]) == 3
    finally:
        proc.terminate()
        proc.wait(timeout=10)
