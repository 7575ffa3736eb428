import json
import stat

import pytest

from modelyard import Client, config
from modelyard.errors import ConfigError


def test_defaults_without_env_or_file():
    settings = config.resolve()
    assert settings.url == "http://127.0.0.1:8000"
    assert settings.token is None


def test_save_writes_owner_only_file(isolated_config):
    path = config.save("http://models.example.com/", "secret-token")
    assert path == isolated_config
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"url": "http://models.example.com", "token": "secret-token"}
    assert config.resolve() == config.Settings("http://models.example.com", "secret-token")


def test_save_tightens_an_existing_file(isolated_config):
    isolated_config.parent.mkdir(parents=True)
    isolated_config.write_text("{}")
    isolated_config.chmod(0o644)
    config.save("http://a.example.com", "t")
    assert stat.S_IMODE(isolated_config.stat().st_mode) == 0o600


def test_env_beats_file(monkeypatch):
    config.save("http://file.example.com", "file-token")
    monkeypatch.setenv("MODELYARD_URL", "http://env.example.com")
    monkeypatch.setenv("MODELYARD_TOKEN", "env-token")
    assert config.resolve() == config.Settings("http://env.example.com", "env-token")


def test_env_token_alone_keeps_file_url(monkeypatch):
    config.save("http://file.example.com", "file-token")
    monkeypatch.setenv("MODELYARD_TOKEN", "env-token")
    assert config.resolve() == config.Settings("http://file.example.com", "env-token")


def test_arguments_beat_env(monkeypatch):
    monkeypatch.setenv("MODELYARD_URL", "http://env.example.com")
    monkeypatch.setenv("MODELYARD_TOKEN", "env-token")
    client = Client(url="http://arg.example.com", token="arg-token")
    assert client.url == "http://arg.example.com"
    assert client.http.session.headers["Authorization"] == "Token arg-token"


@pytest.mark.parametrize(
    "given", ["http://h.example.com", "http://h.example.com/", "http://h.example.com/api/v1/"]
)
def test_url_is_normalised_to_the_site_root(given):
    assert config.normalise_url(given) == "http://h.example.com"


def test_url_without_scheme_is_refused():
    with pytest.raises(ConfigError, match="http"):
        config.normalise_url("models.example.com")


def test_corrupt_config_file_is_a_clear_error(isolated_config):
    isolated_config.parent.mkdir(parents=True)
    isolated_config.write_text("{not json")
    with pytest.raises(ConfigError, match=str(isolated_config)):
        config.resolve()


def test_client_without_token_says_how_to_get_one():
    with pytest.raises(ConfigError, match="modelyard login"):
        Client()
