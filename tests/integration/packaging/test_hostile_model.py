"""A data scientist of one team registers a pickle that, when loaded, attacks the platform: it tries
each local service over the network, DNS, and another team's files. Real package builds, against
the real PostgreSQL and Redis: every attempt fails, and a network attempt fails the build with a
clear message. Without any isolation, such formats are refused and the safe ones still build."""

import os
import socket
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from apps.deployments.services import unpack_package
from apps.packaging.models import PackageBuild, PackagingPolicy
from apps.packaging.services import package_build_enqueue, package_build_run
from apps.serving.logbuffer import STREAM, SpoolBuffer
from tests import model_zoo
from tests.conftest import register_credit_version, wait_for
from tests.unit.packaging.helpers import Listener

pytestmark = pytest.mark.django_db

SETTING = (
    "MODELYARD_SANDBOX_ISOLATION"  # narrows the sandbox's isolation (apps/packaging/sandbox/confinement.py)
)

STOPPED = (
    "it tried to open a network connection (a socket or io_uring) and was stopped: model code gets no network"
)


@pytest.fixture(scope="module")
def frame(credit_frame):
    return model_zoo.training_frame(credit_frame)


@pytest.fixture
def teams(make_user):
    """alice of Credit Risk, whose data is attacked; mallory of Growth, who attacks."""
    return make_user("alice", team="Credit Risk"), make_user("mallory", team="Growth")


def build(user, filename, content, frame, name="attack") -> PackageBuild:
    version = register_credit_version(user, filename, content, frame, name=name)
    return package_build_run(build=package_build_enqueue(version=version), step=lambda p, m: None)


@pytest.fixture
def services():
    """Where each local service answers, and a way to see afterwards whether the attack reached it."""
    database = connection.settings_dict
    marker = f"hostile-{uuid.uuid4().hex[:12]}"
    stream = f"modelyard-test:{STREAM}"  # the prediction log's stream in the test settings
    web, inference, dns = Listener(), Listener(), Listener(kind=socket.SOCK_DGRAM)
    found = {
        "database": f"host=127.0.0.1 port={database['PORT'] or 5432} user={database['USER']} "
        f"dbname={database['NAME']}",
        "table": marker.replace("-", "_"),
        "marker": marker,
        "stream": stream,
        "web": web,
        "inference": inference,
        "dns": dns,
    }
    yield found
    for listener in (web, inference, dns):
        listener.close()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {found['table']}")
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(marker)
    for entry_id, fields in client.xrange(stream):
        if marker.encode() in fields.get(b"r", b""):
            client.xdel(stream, entry_id)


# Each attack as its author would write it: quietly, so that the model still loads and scores.
ATTACKS = {
    "PostgreSQL over TCP": (
        "import psycopg\n"
        "try:\n"
        "    with psycopg.connect({database!r}, connect_timeout=3, autocommit=True) as db:\n"
        "        db.execute('CREATE TABLE {table} (forged int)')\n"
        "except Exception:\n"
        "    pass\n"
    ),
    "Redis (and the prediction log's stream)": (
        "import redis\n"
        "try:\n"
        "    r = redis.Redis.from_url({redis!r}, socket_timeout=3)\n"
        "    r.set({marker!r}, 'forged')\n"
        "    r.xadd({stream!r}, {{'r': '{{\"forged\": \"{marker}\"}}'}})\n"
        "except Exception:\n"
        "    pass\n"
    ),
    "the web app": (
        "import urllib.request\n"
        "try:\n"
        "    urllib.request.urlopen('http://127.0.0.1:{web}/api/v1/versions/', timeout=3)\n"
        "except Exception:\n"
        "    pass\n"
    ),
    "the inference service": (
        "import urllib.request\n"
        "try:\n"
        "    urllib.request.urlopen('http://127.0.0.1:{inference}/v1/production/credit-risk/predict', "
        "data=b'{{}}', timeout=3)\n"
        "except Exception:\n"
        "    pass\n"
    ),
    "UDP": (
        "import socket\n"
        "try:\n"
        "    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'forged', ('127.0.0.1', {dns}))\n"
        "except Exception:\n"
        "    pass\n"
    ),
    "DNS": ("import socket\ntry:\n    socket.getaddrinfo('pypi.org', 443)\nexcept Exception:\n    pass\n"),
}


@pytest.mark.parametrize("target", list(ATTACKS))
def test_a_model_that_reaches_for_a_local_service_fails_its_build(target, teams, frame, services):
    _alice, mallory = teams
    code = ATTACKS[target].format(
        redis=settings.REDIS_URL,
        web=services["web"].port,
        inference=services["inference"].port,
        dns=services["dns"].port,
        **{k: v for k, v in services.items() if k in ("database", "table", "marker", "stream")},
    )

    result = build(mallory, *model_zoo.trojan_pickle(frame, code), frame)

    assert result.status == PackageBuild.Status.FAILED, result.report
    assert result.error == f"loads: the sandbox process crashed: {STOPPED}"
    assert not result.archive_sha256
    # ...and it reached nothing.
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [services["table"]])
        assert cursor.fetchone() == (None,)
    client = redis.Redis.from_url(settings.REDIS_URL)
    assert not client.exists(services["marker"])
    assert not [f for _, f in client.xrange(services["stream"]) if services["marker"].encode() in f[b"r"]]
    assert services["web"].reached == services["inference"].reached == services["dns"].reached == 0


POSTGRES_SOCKETS = "/var/run/postgresql"


@pytest.mark.skipif(not Path(POSTGRES_SOCKETS, ".s.PGSQL.5432").exists(), reason="no local PostgreSQL socket")
def test_postgresqls_socket_file_is_out_of_reach(teams, frame, services):
    """A socket file is no network address: the namespace does not hide it, the sandbox's own
    /run and the seccomp filter do. Here the attempt fails quietly and the model loads."""
    _alice, mallory = teams
    through_socket = services["database"].replace("host=127.0.0.1", f"host={POSTGRES_SOCKETS}")
    code = ATTACKS["PostgreSQL over TCP"].format(database=through_socket, table=services["table"])

    result = build(mallory, *model_zoo.trojan_pickle(frame, code), frame)

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [services["table"]])
        assert cursor.fetchone() == (None,)
    assert result.status == PackageBuild.Status.SUCCEEDED, result.error


def test_a_model_cannot_read_another_teams_files(teams, frame, credit_frame):
    """alice's artifact in media, her unpacked deployment and her predictions in the spool."""
    alice, mallory = teams
    own = build(alice, *model_zoo.sklearn_pickle(frame), frame, name="credit-risk")
    assert own.status == PackageBuild.Status.SUCCEEDED, own.error
    deployed = unpack_package(own)
    artifact = deployed / own.version.artifact_filename
    spool = SpoolBuffer(Path(settings.VAR_DIR) / "test-spool")
    spool.append([{"endpoint": "credit-risk", "inputs": {"Income": "ALICE-CUSTOMER-INCOME-7731"}}])
    segment = next((spool.root / "open").iterdir())
    paths = [
        own.version.artifact.path,
        str(Path(settings.MEDIA_ROOT)),
        str(artifact),
        str(deployed),
        str(deployed.parent),
        str(segment),
        str(spool.root),
    ]
    code = (
        "import os\n"
        "found = {}\n"
        f"for path in {paths!r}:\n"
        "    try:\n"
        "        if os.path.isdir(path):\n"
        "            found[path] = 'listed: ' + ', '.join(os.listdir(path))\n"
        "        else:\n"
        "            found[path] = 'read: ' + open(path, 'rb').read(2000).hex()\n"
        "    except OSError as exc:\n"
        "        found[path] = type(exc).__name__\n"
        "raise RuntimeError(repr(found))\n"  # the report shows what it got: here, nothing
    )
    spool_text = segment.read_bytes()

    result = build(mallory, *model_zoo.trojan_pickle(frame, code), frame)

    assert result.status == PackageBuild.Status.FAILED
    assert result.error.startswith("loads: LoadError: could not load the pickle file (RuntimeError: {")
    for secret in (artifact.read_bytes()[:64].hex(), spool_text[:64].hex(), "ALICE-CUSTOMER"):
        assert secret not in result.error
    found = eval(result.error.split("(RuntimeError: ", 1)[1].rsplit("); it is corrupt", 1)[0])  # noqa: S307
    assert set(found) == set(paths)
    assert all(outcome in ("PermissionError", "FileNotFoundError") for outcome in found.values()), found


def test_unpacked_deployments_are_readable_by_their_owner_only(teams, frame):
    alice, _mallory = teams
    own = build(alice, *model_zoo.sklearn_pickle(frame), frame, name="credit-risk")

    folder = unpack_package(own)

    assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o700
    modes = {
        path.relative_to(folder).as_posix(): stat.S_IMODE(path.stat().st_mode)
        for path in [folder, *folder.rglob("*")]
    }
    assert modes["."] == 0o700
    assert modes["model.pkl"] == modes["package.json"] == modes["MODEL_CARD.md"] == 0o600
    assert modes["serve.py"] == modes["batch.py"] == 0o700  # the package's scripts keep their x bit
    assert all(mode & 0o077 == 0 for mode in modes.values()), modes


SAFE_MAKERS = {
    "onnx": lambda f, t: model_zoo.onnx_model(f),
    "skops": lambda f, t: model_zoo.sklearn_skops(f),
    "xgboost": model_zoo.xgboost_json,
    "lightgbm": model_zoo.lightgbm_text,
}


def test_without_isolation_code_running_formats_are_refused_and_safe_ones_build(
    teams, frame, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv(SETTING, "none")
    policy = PackagingPolicy.current()
    policy.skops_trusted_types = [
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.linear_model._logistic.LogisticRegression",
    ]
    policy.save()
    alice, _mallory = teams

    refused = build(alice, *model_zoo.sklearn_joblib(frame), frame, name="joblib-model")

    assert refused.status == PackageBuild.Status.FAILED
    assert refused.error.startswith(
        "loads: refused to load the joblib file: loading it runs code from the file, and this worker "
        "cannot cut that code off the network (isolation: none"
    )
    assert "packaging sandbox: refused to load the joblib file" in caplog.text
    for kind, maker in SAFE_MAKERS.items():
        result = build(alice, *maker(frame, tmp_path), frame, name=f"{kind}-model")
        assert result.status == PackageBuild.Status.SUCCEEDED, (kind, result.error)
        assert result.validation_passed, (kind, result.report)


@pytest.fixture
def no_isolation(monkeypatch):
    """For a worker started after it: as if neither namespaces nor seccomp worked there."""
    monkeypatch.setenv(SETTING, "none")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_without_isolation_says_so_at_start_and_refuses_pickles(
    no_isolation, celery_worker, make_user, frame
):
    version = register_credit_version(make_user("alice"), *model_zoo.sklearn_pickle(frame), frame, name="w")

    queued = package_build_enqueue(version=version)

    done = wait_for(
        lambda: PackageBuild.objects.filter(pk=queued.pk, status=PackageBuild.Status.FAILED).first(), 120
    )
    assert done.error.startswith("loads: refused to load the pickle file")
    log = Path(os.readlink(f"/proc/{celery_worker.pid}/fd/1")).read_text()
    assert (
        "packaging sandbox isolation: none (namespaces: not tried (MODELYARD_SANDBOX_ISOLATION=none); "
        "seccomp: not tried (MODELYARD_SANDBOX_ISOLATION=none)); models whose loading runs code "
        "(pickle, joblib, Python source, MLflow) will be refused"
    ) in log


def test_this_machine_cuts_the_network():
    """The tests above ran with the isolation this machine has; CI must have one of the layers."""
    from apps.packaging.sandbox.confinement import confinement

    assert confinement().cuts_network, confinement().describe()


def test_the_embedded_defaults_files_are_their_owners_only(tmp_path):
    """Without PostgreSQL and Redis everything lives in the var folder: database, broker, cache,
    spool, media. None of it is readable by anyone but its owner (the var folder itself may be
    passed through, not listed)."""
    var = tmp_path / "var"
    script = (
        "import django\n"
        "django.setup()\n"
        "from django.core.cache import cache\n"
        "from django.core.files.base import ContentFile\n"
        "from django.core.files.storage import default_storage\n"
        "from apps.serving.logbuffer import open_buffer\n"
        "cache.set('k', 'v')\n"
        "default_storage.save('artifacts/sha256/ab/abc.pkl', ContentFile(b'model'))\n"
        "open_buffer().append([{'endpoint': 'e', 'inputs': {}}])\n"
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in (
            "DATABASE_URL",
            "REDIS_URL",
            "CELERY_BROKER_URL",
            "MODELYARD_SPOOL_DIR",
            "MODELYARD_MEDIA_ROOT",
        )
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        MODELYARD_VAR_DIR=str(var),
        PYTHONPATH=str(settings.BASE_DIR),
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr

    made = {path.relative_to(var).as_posix(): stat.S_IMODE(path.stat().st_mode) for path in var.rglob("*")}
    for expected in ("modelyard.sqlite3", "broker.sqlite3", "cache", "spool/open", "media/artifacts"):
        assert expected in made, sorted(made)
    assert stat.S_IMODE(var.stat().st_mode) == 0o711
    assert {path: mode for path, mode in made.items() if mode & 0o077} == {}
