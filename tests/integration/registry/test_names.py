"""Names that become file names, folders or URLs are checked when they are given (issue 13, point 7):
a model named 'credit/default' was accepted and could never be packaged (its archive is
MODEL-vN.tar.gz), and an endpoint name longer than its column was a 500 on the deploy page."""

import io

import pytest

from apps.deployments.models import Endpoint
from apps.registry.models import RegisteredModel
from apps.registry.names import model_name_problem
from tests.integration.serving_log.conftest import deployed

pytestmark = pytest.mark.django_db

BAD_MODEL_NAMES = ["credit/default", "../credit", "credit default", ".hidden", "-flag", "crédit", "a" * 101]


def upload(name, content: bytes):
    handle = io.BytesIO(content)
    handle.name = name
    return handle


@pytest.mark.parametrize("name", BAD_MODEL_NAMES)
def test_the_api_refuses_a_model_name_that_cannot_be_a_file_name(
    name, make_user, api_for, credit_model_bytes
):
    api = api_for(make_user("dana"))
    registered = api.post(
        "/api/v1/versions/",
        {"model": name, "task_type": "regression", "artifact": upload("m.joblib", credit_model_bytes)},
        format="multipart",
    )
    assert registered.status_code == 400, registered.content
    assert list(registered.json()) == ["detail", "model"]
    told = registered.json()["model"][0]
    assert "letters, digits, '.', '_' and '-'" in told or "100 characters" in told, told
    created = api.post("/api/v1/models/", {"name": name, "task_type": "regression"}, format="json")
    assert created.status_code == 400 and list(created.json()) == ["detail", "name"]
    assert not RegisteredModel.objects.exists()


def test_good_model_names_pass_and_the_rule_reads_well():
    for name in ["credit-default", "Credit_Default.v2", "m", "7up", "a" * 100]:
        assert model_name_problem(name) is None, name
    assert model_name_problem("credit/default") == (
        "'credit/default' is not a model name: use letters, digits, '.', '_' and '-', starting with a "
        "letter or digit (it names the package's file, NAME-vN.tar.gz)"
    )


def test_the_register_page_names_the_field(make_user, client, credit_model_bytes):
    client.force_login(make_user("dana"))
    page = client.post(
        "/models/register/",
        {
            "model": "credit/default",
            "task_type": "regression",
            "artifact": upload("m.joblib", credit_model_bytes),
        },
    )
    assert page.status_code == 200
    assert page.context["form"].errors["model"] == [
        "'credit/default' is not a model name: use letters, digits, '.', '_' and '-', starting with a "
        "letter or digit (it names the package's file, NAME-vN.tar.gz)"
    ]
    assert not RegisteredModel.objects.exists()


def test_the_service_refuses_what_the_forms_let_through(make_user, credit_model_bytes):
    """The CLI, the seed and management commands call the service directly."""
    from django.core.exceptions import ValidationError

    from apps.registry.services import Registration, version_register

    with pytest.raises(ValidationError) as refused:
        version_register(
            user=make_user("dana"),
            reg=Registration(
                model_name="credit/default",
                task_type="regression",
                artifact=io.BytesIO(credit_model_bytes),
                artifact_filename="m.joblib",
                input_schema={"features": [{"name": "x", "type": "number", "nullable": False}]},
            ),
        )
    assert list(refused.value.message_dict) == ["model"]


@pytest.mark.parametrize("name", ["Credit-Risk", "credit/risk", "credit risk", "-credit", "c" * 101])
def test_endpoint_names_are_checked_on_the_page_and_in_the_api(name, make_user, api_for, client):
    dana = make_user("dana")
    version = deployed(dana.teams.get(), "existing", environment="staging").version
    answer = api_for(dana).post(
        "/api/v1/deployments/",
        {"version": version.pk, "endpoint": name, "environment": "staging"},
        format="json",
    )
    assert answer.status_code == 400 and "endpoint" in answer.json(), answer.content
    client.force_login(dana)
    page = client.post(f"/versions/{version.pk}/deploy/", {"endpoint": name, "environment": "staging"})
    assert page.status_code == 302, page.status_code
    assert not Endpoint.objects.exclude(name="existing").exists()


def test_the_client_refuses_a_bad_name_before_uploading():
    from modelyard import Client
    from modelyard.errors import ModelyardError

    with pytest.raises(ModelyardError, match="letters, digits"):
        Client("http://127.0.0.1:9", token="unused").register("model.joblib", name="credit/default")
