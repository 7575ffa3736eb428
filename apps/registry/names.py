"""What a model's name may be. The name becomes folder and file names (the package's root folder and
``NAME-vN.tar.gz``, the client's downloads) and a Docker image name, so it is held to the characters
that are safe in all of them."""

import re

from django.core.validators import RegexValidator

MAX_LENGTH = 100  # RegisteredModel.name
ALLOWED = "letters, digits, '.', '_' and '-', starting with a letter or digit"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_WHY = "(it names the package's file, NAME-vN.tar.gz)"

# For serializers and forms: the OpenAPI schema shows its pattern.
model_name_validator = RegexValidator(
    f"^{_NAME.pattern}$", message=f"'%(value)s' is not a model name: use {ALLOWED} {_WHY}"
)


def model_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a model, or None when it can."""
    if not name:
        return "a model needs a name"
    if len(name) > MAX_LENGTH:
        return f"'{name[:40]}…' is {len(name)} characters long; a model name has at most {MAX_LENGTH}"
    if not _NAME.fullmatch(name):
        return f"'{name}' is not a model name: use {ALLOWED} {_WHY}"
    return None
