"""What one request may carry, refused before (or while) it is read: the size of a body, the size
of each uploaded file and how deeply JSON may nest. Limits come from settings (docs/operations.md,
Configuration); every refusal names the limit and the setting that holds it.

- Bodies that are not files (JSON, form fields): ``DATA_UPLOAD_MAX_MEMORY_SIZE``
  (``MODELYARD_MAX_BODY_MB``). Django checks it against Content-Length before reading; the API's JSON
  parser (apps/accounts/api/parsers.py) checks it again on what it reads.
- Each uploaded file: ``MODELYARD_MAX_UPLOAD_MB``, counted while the file arrives (FileSizeLimitHandler,
  first in ``FILE_UPLOAD_HANDLERS``), so the rest of an oversized upload is never stored.
- JSON nesting: ``MODELYARD_MAX_JSON_DEPTH`` levels of arrays and objects (``json_loads``)."""

import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler


class TooLarge(RequestDataTooBig):
    """A body or an uploaded file over its limit; the message says which and what the limit is."""


class TooDeep(ValueError):
    """JSON nested deeper than MODELYARD_MAX_JSON_DEPTH."""


def megabytes(size: int) -> str:
    return f"{size / 1024**2:g} MB"


def body_too_large_message() -> str:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return f"the request body is larger than {megabytes(limit)} (MODELYARD_MAX_BODY_MB); send less at a time"


def upload_limit_bytes() -> int:
    return settings.MODELYARD_MAX_UPLOAD_MB * 1024 * 1024


class FileSizeLimitHandler(FileUploadHandler):
    """Refuses an uploaded file once more than MODELYARD_MAX_UPLOAD_MB of it has arrived; the handlers
    after it (memory, temporary file) never see the rest."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > upload_limit_bytes():
            raise TooLarge(
                f"{self.field_name}: the file {self.file_name!r} is larger than "
                f"{settings.MODELYARD_MAX_UPLOAD_MB} MB (MODELYARD_MAX_UPLOAD_MB)"
            )
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler builds the file


def json_loads(text: str | bytes, *, strict: bool = True):
    """``json.loads`` refusing NaN/Infinity (``strict``) and nesting deeper than
    MODELYARD_MAX_JSON_DEPTH: ValueError (TooDeep) saying so, never a RecursionError."""
    limit = settings.MODELYARD_MAX_JSON_DEPTH
    try:
        value = json.loads(text, parse_constant=_refuse_constant if strict else None)
    except RecursionError:
        raise TooDeep(_too_deep(limit)) from None
    if _deeper_than(value, limit):
        raise TooDeep(_too_deep(limit))
    return value


def _too_deep(limit: int) -> str:
    return f"JSON nested deeper than {limit} levels (MODELYARD_MAX_JSON_DEPTH)"


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _deeper_than(value, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels in ``value``, level by level."""
    level, depth = ([value] if isinstance(value, dict | list) else []), 0
    while level:
        depth += 1
        if depth > limit:
            return True
        level = [
            child
            for item in level
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, dict | list)
        ]
    return False
