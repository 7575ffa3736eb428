"""The demo's mail sink read back: the file e-mail backend writes each connection's messages to a
file under EMAIL_FILE_PATH; this parses them and keeps those addressed to one person."""

from dataclasses import dataclass
from email import message_from_bytes, policy
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path

from django.conf import settings

SEPARATOR = b"-" * 79


@dataclass(frozen=True)
class Mail:
    subject: str
    sender: str
    to: list[str]
    date: object
    body: str
    file: str


def sink_enabled() -> bool:
    return settings.EMAIL_BACKEND == "django.core.mail.backends.filebased.EmailBackend"


def mail_to(address: str, limit: int = 200) -> list[Mail]:
    """Messages in the sink addressed to ``address``, newest first."""
    if not address:
        return []
    folder = Path(settings.EMAIL_FILE_PATH)
    if not folder.is_dir():
        return []
    found: list[Mail] = []
    files = sorted(folder.glob("*.log"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in files:
        try:
            text = path.read_bytes()
        except OSError:
            continue
        for chunk in reversed(text.split(SEPARATOR)):
            chunk = chunk.strip(b"\n")
            if not chunk:
                continue
            msg = message_from_bytes(chunk, policy=policy.default)
            to = [addr.lower() for _, addr in getaddresses(msg.get_all("To", []) + msg.get_all("Cc", []))]
            if address.lower() not in to:
                continue
            try:
                date = parsedate_to_datetime(msg["Date"]) if msg["Date"] else None
            except (TypeError, ValueError):
                date = None
            part = msg.get_body(preferencelist=("plain",))
            body = part.get_content() if part is not None else ""
            found.append(Mail(str(msg["Subject"] or ""), str(msg["From"] or ""), to, date, body, path.name))
            if len(found) >= limit:
                return found
    return found
