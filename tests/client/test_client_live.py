"""The Python API against a live Modelyard server over real HTTP (no mocks). No Celery worker runs
here: profiling jobs stay queued, so versions with reference data report status "profiling"."""

import importlib.metadata as metadata
import sys

import joblib
import pytest
from client_helpers import TARGET, make_user, train_credit_pipeline

import modelyard
from modelyard import ApiError, Client, JobFailed, Version

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def client(scientist):
    return Client(url=scientist.url, token=scientist.token)


def test_register_in_memory_model_with_dataframe_reference(client, credit_sample, credit_model):
    version = client.register(
        credit_model,
        name="credit-scoring",
        reference=credit_sample,
        target=TARGET,
        description="logistic baseline",
        metrics={"accuracy": 0.75},
        tags=["credit"],
        wait=False,
    )
    assert isinstance(version, Version)
    assert (version.number, version.framework, version.format) == (1, "sklearn", "joblib")
    assert (version.model_name, version.team) == ("credit-scoring", "credit-risk")
    assert version.status == "profiling"
    assert isinstance(version.job, int)

    stored = client.version(version.id).raw
    features = [f["name"] for f in stored["input_schema"]["features"]]
    assert features == [c for c in credit_sample.columns if c != TARGET]
    assert stored["target_column"] == TARGET
    assert stored["reference_format"] == "parquet"
    assert stored["reference_rows"] == 200
    assert stored["artifact_filename"] == "credit-scoring.joblib"
    assert stored["metrics"] == {"accuracy": 0.75}

    environment = stored["environment"]
    assert environment["packages"]["scikit-learn"] == metadata.version("scikit-learn")
    assert environment["packages"]["numpy"] == metadata.version("numpy")
    assert environment["python"] == "{}.{}.{}".format(*sys.version_info[:3])
    assert f"scikit-learn=={metadata.version('scikit-learn')}" in stored["requirements"].splitlines()

    [model] = client.models(name="credit-scoring")
    assert model["task_type"] == "binary_classification"  # inferred from Status: good/bad
    assert (model["tags"], model["latest_version"], model["version_count"]) == (["credit"], 1, 1)

    job = client.job(version.job)
    assert (job["kind"], job["status"], job["done"]) == ("registry.profile_reference", "queued", False)
    with pytest.raises(JobFailed, match="still queued"):
        client.wait(version.job, progress=False, interval=0.05, timeout=0.2)


def test_second_version_from_files_keeps_the_models_task(client, credit_sample, credit_model, tmp_path):
    client.register(credit_model, name="credit-scoring", reference=credit_sample, target=TARGET)
    artifact = tmp_path / "retrained.joblib"
    joblib.dump(train_credit_pipeline(credit_sample.iloc[:150]), artifact)
    reference = tmp_path / "reference.csv"
    credit_sample.to_csv(reference, index=False)

    # "Home" has several labels: inferring a task here would clash with the existing model's.
    version = client.register(
        artifact,
        name="credit-scoring",
        reference=reference,
        target="Home",
        parent_version=1,
        requirements=["scikit-learn", "pandas"],
    )
    assert version.number == 2
    stored = client.version(version.id).raw
    assert stored["parent_version"] == 1
    assert stored["reference_format"] == "csv"
    # A file path: captured from the file's opcodes (issue 14), never by loading it.
    assert stored["environment"]["packages"]["scikit-learn"] == metadata.version("scikit-learn")
    assert stored["environment"]["modules"]["sklearn"] == ["scikit-learn"]
    assert stored["requirements"].splitlines() == ["scikit-learn", "pandas"]
    assert [v.number for v in client.versions("credit-scoring")] == [2, 1]
    assert client.versions("credit-scoring", stage="production") == []


def test_module_level_register_uses_the_environment(scientist, credit_model, monkeypatch):
    monkeypatch.setenv("MODELYARD_URL", scientist.url)
    monkeypatch.setenv("MODELYARD_TOKEN", scientist.token)
    version = modelyard.register(credit_model, name="no-reference", input_schema=_schema())
    assert (version.number, version.status, version.job) == (1, "no_reference", None)


def _schema():
    return {"features": [{"name": "Age", "type": "integer", "nullable": False}]}


def test_wait_follows_a_job_to_the_end(client, credit_sample, credit_model):
    from apps.registry.tasks import profile_reference

    version = client.register(credit_model, name="credit-scoring", reference=credit_sample, target=TARGET)
    profile_reference(version.job)  # what a worker would do, run here in-process
    job = client.wait(version.job, progress=False)
    assert (job["status"], job["progress"], job["done"]) == ("succeeded", 100, True)
    assert client.version(version.id).status == "ready"


def test_me_and_stage(client, credit_model):
    me = client.me()
    assert (me["username"], me["role"], me["teams"]) == ("dana", "data_scientist", ["credit-risk"])
    assert [t["slug"] for t in client.teams()] == ["credit-risk"]
    version = client.register(credit_model, name="staged", input_schema=_schema())
    staged = client.set_stage(version.id, "staging", reason="looks good")
    assert staged.stage == "staging"
    assert [v.id for v in client.versions("staged", stage="staging")] == [version.id]


def test_server_errors_become_api_errors(client, scientist, credit_model):
    with pytest.raises(ApiError) as caught:
        client.register(credit_model, name="elsewhere", team="fraud", input_schema=_schema())
    assert caught.value.status == 400
    assert "team" in caught.value.fields

    other = Client(url=scientist.url, token=make_user("omar", "Fraud"))
    theirs = other.register(credit_model, name="fraud-model", input_schema=_schema())
    with pytest.raises(ApiError) as caught:
        client.version(theirs.id)  # another team's version does not exist for us
    assert caught.value.status == 404

    with pytest.raises(ApiError) as caught:
        Client(url=scientist.url, token="not-a-token").me()
    assert caught.value.status == 401
    assert "token" in caught.value.detail.lower()


def test_obtain_token(scientist):
    answer = modelyard.obtain_token(scientist.url, "dana", scientist.password, name="laptop")
    assert answer["username"] == "dana"
    assert Client(url=scientist.url, token=answer["token"]).me()["username"] == "dana"
    with pytest.raises(ApiError, match="wrong username or password"):
        modelyard.obtain_token(scientist.url, "dana", "wrong-password")


@pytest.mark.worker
def test_register_and_wait_with_a_real_worker(client, credit_sample, credit_model, celery_worker):
    """End to end: the profiling job runs in a real Celery worker while the client polls it."""
    version = client.register(
        credit_model, name="worked", reference=credit_sample, target=TARGET, wait=True, progress=False
    )
    assert version.status == "ready"
    assert client.job(version.job)["status"] == "succeeded"
    assert client.version(version.id).raw["reference_profile"]
