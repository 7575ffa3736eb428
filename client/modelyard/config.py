"""Where the client finds its server and token: arguments, then env vars, then the config file."""

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from modelyard.errors import ConfigError

DEFAULT_URL = "http://127.0.0.1:8000"
URL_ENV = "MODELYARD_URL"
TOKEN_ENV = "MODELYARD_TOKEN"
CONFIG_ENV = "MODELYARD_CONFIG"
ENDPOINT_KEY_ENV = "MODELYARD_ENDPOINT_KEY"  # a consumer key for `predict` (an endpoint's, not yours)


@dataclass(frozen=True)
class Settings:
    url: str
    token: str | None


def config_path() -> Path:
    custom = os.environ.get(CONFIG_ENV)
    if custom:
        return Path(custom).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "modelyard" / "config.json"


def normalise_url(url: str) -> str:
    # People paste the API root or the browser URL; keep only the site root.
    url = url.strip().rstrip("/")
    for suffix in ("/api/v1", "/api"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"server URL must start with http:// or https://, got '{url}'")
    return url


def read_file() -> dict:
    path = config_path()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    return data


def save(url: str, token: str) -> Path:
    """Write url and token, readable by the owner only. Written to a temp file then renamed, so a
    crash never leaves a half-written (or briefly world-readable) token behind."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = {**read_file(), "url": normalise_url(url), "token": token}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".json")  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def saved_token(url: str) -> str | None:
    """The token the config file holds for this server (None for another server or none)."""
    stored = read_file()
    try:
        same_server = bool(stored.get("url")) and normalise_url(stored["url"]) == normalise_url(url)
    except ConfigError:
        return None
    if not same_server:
        return None
    return stored.get("token") or None


def resolve(url: str | None = None, token: str | None = None) -> Settings:
    """Explicit arguments beat MODELYARD_URL/MODELYARD_TOKEN, which beat the config file."""
    stored = read_file()
    chosen_url = url or os.environ.get(URL_ENV) or stored.get("url") or DEFAULT_URL
    chosen_token = token or os.environ.get(TOKEN_ENV) or stored.get("token") or None
    return Settings(url=normalise_url(chosen_url), token=chosen_token)
