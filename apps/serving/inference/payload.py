"""Reading a request body safely: its size is checked before a byte is read, its nesting before it
is parsed, and JSON goes through orjson when it is installed (several times faster than json)."""

import json
import re

import numpy as np

try:
    import orjson
except ImportError:  # pragma: no cover - the standard library does the same, slower
    orjson = None


class BadRequest(Exception):
    """The body cannot be used; ``status`` is the HTTP answer and the message says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


# A JSON string, escapes included, written so the regex engine never backtracks inside one.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPEN = np.frombuffer(b"[{", dtype=np.uint8)


def read_body(environ: dict, max_bytes: int) -> bytes:
    """The body, refused (411/413) from its Content-Length alone, before any of it is read."""
    declared = environ.get("CONTENT_LENGTH") or ""
    if not declared:
        raise BadRequest(411, "a Content-Length header is required")
    try:
        length = int(declared)
    except ValueError:
        raise BadRequest(400, "the Content-Length header is not a number") from None
    if length < 0:
        raise BadRequest(400, "the Content-Length header is negative")
    if length > max_bytes:
        raise BadRequest(413, f"the body is larger than the {max_bytes} bytes allowed")
    body = environ["wsgi.input"].read(length) if length else b""
    if len(body) != length:
        raise BadRequest(400, "the body is shorter than its Content-Length")
    return body


def nesting_depth(body: bytes) -> int:
    """How deeply arrays and objects nest in a JSON text, without parsing it: strings are removed
    (brackets inside them do not count), then a running sum over the brackets left gives the depth."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where(np.isin(codes, _OPEN), 1, -1)
    return int(steps.cumsum().max())


def parse_json(body: bytes, max_depth: int):
    # Fewer opening brackets than the limit cannot nest past it: most bodies skip the full check.
    openings = body.count(b"[") + body.count(b"{")
    if openings > max_depth and nesting_depth(body) > max_depth:
        raise BadRequest(400, f"the JSON nests deeper than {max_depth} levels")
    try:
        return orjson.loads(body) if orjson else json.loads(body)
    except (ValueError, RecursionError):  # orjson.JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadRequest(400, "the body is not valid UTF-8 JSON") from None


def to_json(obj) -> bytes:
    if orjson:
        return orjson.dumps(obj)
    return json.dumps(obj, separators=(",", ":")).encode()
