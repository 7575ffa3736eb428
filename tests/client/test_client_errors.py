import socket

import pytest
from click.testing import CliRunner

from modelyard.cli import cli
from modelyard.errors import ApiError, ConnectionFailed, ModelyardError
from modelyard.http import Http


def test_api_error_keeps_the_servers_detail_and_fields():
    body = {
        "detail": "Invalid input — artifact: 'm.joblib': the file is empty",
        "artifact": ["'m.joblib': the file is empty"],
    }
    error = ApiError.from_body(400, body)
    assert isinstance(error, ModelyardError)
    assert error.status == 400
    assert error.fields == {"artifact": ["'m.joblib': the file is empty"]}
    # The field message is already in the detail sentence: shown once.
    assert str(error) == "HTTP 400: Invalid input — artifact: 'm.joblib': the file is empty"


def test_nested_field_errors_are_flattened_and_listed():
    error = ApiError.from_body(400, {"detail": "Invalid input", "input_schema": {"features": ["bad type"]}})
    assert error.fields == {"input_schema": ["features: bad type"]}
    assert str(error).splitlines() == ["HTTP 400: Invalid input", "  input_schema: features: bad type"]


def test_fields_without_detail_make_one():
    error = ApiError.from_body(400, {"team": ["no team 'x' that you belong to"]})
    assert error.detail == "team: no team 'x' that you belong to"


def test_non_json_bodies_are_summarised():
    error = ApiError.from_body(502, "<html>\n  Bad   gateway </html>", reason="Bad Gateway")
    assert str(error) == "HTTP 502: <html> Bad gateway </html>"
    assert (
        str(ApiError.from_body(500, "", reason="Internal Server Error")) == "HTTP 500: Internal Server Error"
    )


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_unreachable_server_is_a_connection_error():
    url = _closed_port_url()
    with pytest.raises(ConnectionFailed, match=f"cannot reach Modelyard at {url}"):
        Http(url, "token").get("me/")


def test_cli_prints_the_error_and_exits_1():
    url = _closed_port_url()
    result = CliRunner().invoke(cli, ["models"], env={"MODELYARD_URL": url, "MODELYARD_TOKEN": "t"})
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot reach Modelyard at {url}")
    assert "Traceback" not in result.output


def test_cli_without_token_explains_login():
    result = CliRunner().invoke(cli, ["whoami"])
    assert result.exit_code == 1
    assert "modelyard login" in result.stderr


def test_register_checks_its_arguments_before_any_request():
    from modelyard import Client

    client = Client(url=_closed_port_url(), token="t")  # nothing listens: any request would fail
    with pytest.raises(ModelyardError, match="pass reference="):
        client.register({"w": 1}, name="m", target="y")
    with pytest.raises(ModelyardError, match="name= is required"):
        client.register({"w": 1}, name=" ")
    with pytest.raises(ModelyardError, match="does not exist"):
        client.register("/no/such/model.joblib", name="m")
