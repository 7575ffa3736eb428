"""Consumer keys of endpoints, as the inference service checks them: plain Python, no Django.

A key is ``myk_`` and 43 URL-safe characters (256 random bits), so one SHA-256 is enough to store it
(nothing to guess from the hash); checking one is a hash and a set lookup, about a microsecond."""

import hashlib
import secrets

KEY_PREFIX = "myk_"
_BEARER = "bearer "


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def presented_key(environ) -> str | None:
    """The key of ``Authorization: Bearer <key>``; None when the header is missing or of
    another scheme, "" when the scheme is Bearer with nothing after it."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    if header[:7].lower() != _BEARER:
        return None
    return header[7:].strip()
