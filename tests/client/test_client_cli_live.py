"""The ``modelyard`` command against a live server, run in-process with click's CliRunner."""

import json
import re
import stat

import joblib
import pytest
from click.testing import CliRunner
from client_helpers import TARGET

from modelyard import Client
from modelyard.cli import cli

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def run(scientist):
    """Invoke the CLI as the scientist, with URL and token from the environment."""
    env = {"MODELYARD_URL": scientist.url, "MODELYARD_TOKEN": scientist.token}

    def invoke(*args, **kwargs):
        return CliRunner().invoke(cli, list(args), env=env, **kwargs)

    return invoke


@pytest.fixture
def model_files(tmp_path, credit_sample, credit_model):
    artifact = tmp_path / "credit.joblib"
    joblib.dump(credit_model, artifact)
    reference = tmp_path / "reference.csv"
    credit_sample.to_csv(reference, index=False)
    return artifact, reference


def test_register_then_list_models_versions_and_status(run, model_files):
    artifact, reference = model_files
    result = run(
        "register", str(artifact), "--name", "cli-model", "--reference", str(reference),
        "--target", TARGET, "--description", "from the CLI", "--no-wait",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Registered cli-model version 1 in team credit-risk" in result.stdout
    assert "framework sklearn, format joblib, status profiling" in result.stdout
    assert "joblib files run code when loaded" in result.stderr

    result = run("models")
    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()
    assert header.split() == ["ID", "NAME", "TEAM", "TASK", "LATEST", "VERSIONS", "OWNER"]
    assert row.split()[1:] == ["cli-model", "credit-risk", "binary_classification", "1", "1", "-"]

    result = run("versions", "cli-model")
    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()
    assert header.split()[:8] == ["ID", "MODEL", "TEAM", "VERSION", "STAGE", "STATUS", "FRAMEWORK", "FORMAT"]
    assert row.split()[1:8] == ["cli-model", "credit-risk", "1", "none", "profiling", "sklearn", "joblib"]
    result = run("status", "cli-model", "1")
    assert result.exit_code == 0, result.output
    assert "cli-model v1" in result.stdout
    assert "reference.csv, 200 rows, target Status" in result.stdout
    assert "job status  queued, 0%" in result.stdout

    result = run("stage", "cli-model", "1", "staging", "--reason", "review passed")
    assert (result.exit_code, result.stdout.strip()) == (0, "cli-model v1 is now in stage staging")


def test_status_wait_follows_the_job(run, scientist, credit_sample, credit_model):
    from apps.registry.tasks import profile_reference

    client = Client(url=scientist.url, token=scientist.token)
    version = client.register(credit_model, name="followed", reference=credit_sample, target=TARGET)
    profile_reference(version.job)  # what a worker would do, run here in-process
    result = run("status", "followed", "1", "--wait")
    assert result.exit_code == 0, result.output
    assert f"waiting for job {version.job}" in result.stderr
    assert re.search(r"^status\s+ready$", result.stdout, re.MULTILINE)
    assert "job status  succeeded, 100%" in result.stdout


def test_bad_registration_exits_1_with_the_servers_field_error(run, tmp_path):
    empty = tmp_path / "empty.joblib"
    empty.write_bytes(b"")
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"features": [{"name": "Age", "type": "integer", "nullable": False}]}))
    result = run("register", str(empty), "--name", "broken", "--input-schema", str(schema), "--no-wait")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: HTTP 400:")
    assert "artifact" in result.stderr
    assert "file is empty" in result.stderr
    assert "Traceback" not in result.output


def test_unknown_version_and_empty_lists(run):
    result = run("status", "no-such-model", "1")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: no version 1 of a model named 'no-such-model' that you can see "
        "(`modelyard versions no-such-model` lists them)"
    )
    result = run("status", "credit-default", "one")
    assert result.exit_code == 2 and "'one' is not a valid integer" in result.stderr
    result = run("versions", "nothing-here")
    assert (result.exit_code, result.stdout.strip()) == (0, "(no versions of 'nothing-here')")
    assert run("models").stdout.strip() == "(no models)"


def test_login_saves_the_token_and_whoami_uses_it(scientist, isolated_config):
    runner = CliRunner()
    answers = f"{scientist.username}\n{scientist.password}\n"  # the username and password prompts
    result = runner.invoke(cli, ["login", "--url", scientist.url + "/api/v1/"], input=answers)
    assert result.exit_code == 0, result.output
    assert scientist.password not in result.output
    assert f"Logged in to {scientist.url} as dana (data_scientist; teams: credit-risk)" in result.stdout
    assert stat.S_IMODE(isolated_config.stat().st_mode) == 0o600
    saved = json.loads(isolated_config.read_text())
    assert saved["url"] == scientist.url
    assert saved["token"]

    result = runner.invoke(cli, ["whoami"])  # no MODELYARD_* variables: the file is used
    assert result.exit_code == 0, result.output
    assert f"server  {scientist.url}" in result.stdout
    assert "user    dana" in result.stdout
    assert "teams   credit-risk" in result.stdout


def test_login_with_a_wrong_password_exits_1(scientist, isolated_config):
    result = CliRunner().invoke(
        cli, ["login", "--url", scientist.url, "--username", "dana", "--password", "nope"]
    )
    assert result.exit_code == 1
    assert "wrong username or password" in result.stderr
    assert not isolated_config.exists()


def test_login_again_replaces_the_saved_token_which_the_server_revokes(scientist, isolated_config):
    from apps.accounts.models import ApiToken, hash_token

    runner = CliRunner()
    args = ["login", "--url", scientist.url, "--username", "dana", "--password", scientist.password]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "valid until" in first.stdout and "revoked" not in first.stdout
    old_key = json.loads(isolated_config.read_text())["token"]

    second = runner.invoke(cli, args)
    assert second.exit_code == 0, second.output
    assert "The token saved before for this server is revoked." in second.stdout
    new_key = json.loads(isolated_config.read_text())["token"]
    assert new_key != old_key
    assert ApiToken.objects.get(key_hash=hash_token(old_key)).revoked_at is not None
    assert ApiToken.objects.get(key_hash=hash_token(new_key)).revoked_at is None
    # The token created for the fixture (not saved by the CLI) is left alone.
    assert ApiToken.objects.get(key_hash=hash_token(scientist.token)).revoked_at is None
    result = CliRunner().invoke(
        cli, ["whoami"], env={"MODELYARD_TOKEN": old_key, "MODELYARD_URL": scientist.url}
    )
    assert result.exit_code == 1 and "Invalid or revoked API token" in result.stderr


def test_an_expired_token_tells_the_user_to_log_in_again(run, scientist):
    from datetime import timedelta

    from django.utils import timezone

    from apps.accounts.models import ApiToken, hash_token

    ApiToken.objects.filter(key_hash=hash_token(scientist.token)).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    result = run("whoami")
    assert result.exit_code == 1
    assert "HTTP 401: API token expired at" in result.stderr
    assert "run `modelyard login` again" in result.stderr
    assert "Traceback" not in result.output


def test_login_is_locked_after_repeated_wrong_passwords(scientist, isolated_config):
    runner = CliRunner()
    for _ in range(5):
        runner.invoke(cli, ["login", "--url", scientist.url, "--username", "dana", "--password", "nope"])
    result = runner.invoke(
        cli, ["login", "--url", scientist.url, "--username", "dana", "--password", scientist.password]
    )
    assert result.exit_code == 1
    assert "HTTP 429: Too many failed sign-ins" in result.stderr
    assert not isolated_config.exists()


def test_register_sends_holdout_thresholds_and_metrics(run, scientist, model_files, credit_sample):
    artifact, reference = model_files
    holdout = reference.with_name("holdout.csv")
    credit_sample.iloc[:80].to_csv(holdout, index=False)
    result = run(
        "register", str(artifact), "--name", "judged", "--reference", str(reference), "--target", TARGET,
        "--holdout", str(holdout), "--threshold", "roc_auc=0.6", "--metric", "roc_auc=0.81",
        "--code-commit", "abc123", "--no-wait",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    raw = Client(url=scientist.url, token=scientist.token).find_version("judged", 1).raw
    assert raw["validation_thresholds"] == {"roc_auc": 0.6}
    assert raw["metrics"] == {"roc_auc": 0.81}
    assert raw["holdout_filename"] == "holdout.csv"
    assert raw["code_commit"] == "abc123"


@pytest.mark.parametrize("option", ["--threshold", "--metric"])
def test_a_malformed_pair_is_refused_before_anything_is_sent(run, model_files, option):
    artifact, _ = model_files
    result = run("register", str(artifact), "--name", "never", option, "roc_auc=high", "--no-wait")
    assert result.exit_code == 2
    assert f"Invalid value for {option}: 'roc_auc=high' is not NAME=NUMBER" in result.output
    assert run("models").stdout.strip() == "(no models)"


def test_a_version_is_named_by_model_and_number_and_a_shared_name_needs_the_team(
    scientist, credit_sample, credit_model
):
    from client_helpers import PASSWORD, make_user

    from apps.accounts.roles import Role
    from apps.accounts.services import token_create, user_create

    for token in (scientist.token, make_user("farah", "Fraud")):  # teams credit-risk and fraud
        Client(url=scientist.url, token=token).register(
            credit_model, name="scorecard", reference=credit_sample, target=TARGET, wait=False
        )
    ivan = user_create(username="ivan", role=Role.IT_OPERATOR, team_name=None, password=PASSWORD)
    env = {"MODELYARD_URL": scientist.url, "MODELYARD_TOKEN": token_create(user=ivan, name="it")}

    def run_as_it(*args):
        return CliRunner().invoke(cli, list(args), env=env)

    result = run_as_it("status", "scorecard", "1")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: several teams have a model named 'scorecard' (credit-risk, fraud): give --team"
    )
    result = run_as_it("status", "scorecard", "1", "--team", "fraud")
    assert result.exit_code == 0, result.output
    assert re.search(r"^team\s+fraud$", result.stdout, re.MULTILINE)
    # The data scientist sees only her team's model: no --team needed, and none of farah's.
    as_dana = {"MODELYARD_URL": scientist.url, "MODELYARD_TOKEN": scientist.token}
    result = CliRunner().invoke(cli, ["status", "scorecard", "1"], env=as_dana)
    assert result.exit_code == 0 and re.search(r"^team\s+credit-risk$", result.stdout, re.MULTILINE)


def test_predict_with_invalid_json_says_so_in_one_line(run):
    result = run("predict", "credit-risk", "--json", '{"Age": 30, ...}')
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: --json is not valid JSON: Expecting property name enclosed in double quotes: "
        "line 1 column 13 (char 12)\n"
    )


def test_register_warns_about_a_module_no_installed_distribution_provides(run, tmp_path):
    # GLOBAL not_installed_xyz.Thing, EMPTY_TUPLE, NEWOBJ, STOP: a class nobody here has.
    artifact = tmp_path / "odd.pkl"
    artifact.write_bytes(b"\x80\x02cnot_installed_xyz\nThing\n)\x81.")
    result = run("register", str(artifact), "--name", "odd", "--task", "regression", "--no-wait")
    assert "warning: odd.pkl uses not_installed_xyz" in result.stderr, result.output
    assert "Traceback" not in result.output
