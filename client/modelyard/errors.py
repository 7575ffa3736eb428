"""Every failure the client reports is a ModelyardError, so callers (and the CLI) catch one type."""


class ModelyardError(Exception):
    """Base class: something a person can read and act on, not a traceback."""


class ConfigError(ModelyardError):
    """No server URL or token, or an unreadable config file."""


class ConnectionFailed(ModelyardError):
    """The server could not be reached at all."""


class JobFailed(ModelyardError):
    """A server-side job finished with status failed (or we stopped waiting for it)."""

    def __init__(self, message: str, job: dict | None = None):
        super().__init__(message)
        self.job = job or {}


def _as_messages(value) -> list[str]:
    # DRF nests errors (lists of strings, dicts for nested fields); flatten to readable lines.
    if isinstance(value, list):
        return [m for item in value for m in _as_messages(item)]
    if isinstance(value, dict):
        return [f"{key}: {m}" for key, item in value.items() for m in _as_messages(item)]
    return [str(value)]


class ApiError(ModelyardError):
    """The server answered 4xx/5xx. ``detail`` is its sentence, ``fields`` its errors by field."""

    def __init__(self, status: int, detail: str, fields: dict[str, list[str]] | None = None, url: str = ""):
        self.status = status
        self.detail = detail
        self.fields = fields or {}
        self.url = url
        super().__init__(self.message)

    @classmethod
    def from_body(cls, status: int, body, url: str = "", reason: str = "") -> "ApiError":
        """Build from a decoded JSON body (the API's {"detail", <field>: [...]} shape) or raw text."""
        if isinstance(body, dict):
            fields = {k: _as_messages(v) for k, v in body.items() if k != "detail"}
            detail = str(body.get("detail") or "")
            if not detail and fields:
                detail = " | ".join(f"{k}: {'; '.join(v)}" for k, v in fields.items())
            return cls(status, detail or reason or "request failed", fields, url)
        if isinstance(body, list):
            return cls(status, "; ".join(_as_messages(body)) or reason, {}, url)
        text = " ".join(str(body or "").split())[:300]
        return cls(status, text or reason or "request failed", {}, url)

    @property
    def message(self) -> str:
        return f"HTTP {self.status}: {self.detail}"

    def __str__(self) -> str:
        # The detail already summarises field errors; list them only when it does not mention them.
        extra = [f"  {k}: {m}" for k, ms in self.fields.items() for m in ms if m not in self.detail]
        return "\n".join([self.message, *extra])
