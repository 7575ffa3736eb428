"""Modelyard client: register models and follow their jobs from Python or the ``modelyard`` CLI.

Example: ``modelyard.register(model, name="credit-risk", reference=train_df, target="Status")``
"""

from modelyard._version import __version__
from modelyard.client import Client, Version, obtain_token
from modelyard.errors import ApiError, ConfigError, ConnectionFailed, JobFailed, ModelyardError

__all__ = [
    "ApiError",
    "Client",
    "ConfigError",
    "ConnectionFailed",
    "JobFailed",
    "ModelyardError",
    "Version",
    "__version__",
    "obtain_token",
    "register",
]


def register(model_or_path, *, name: str, **options) -> Version:
    """``Client().register(...)`` with the URL and token from the environment or config file."""
    return Client().register(model_or_path, name=name, **options)
