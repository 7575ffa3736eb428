"""How the access matrix asks a route and reads the answer: one request as one role, rolled back
afterwards; what the answer counts as (allowed, denied, hidden, login); and the answer with the
object's id and name blanked, to compare it with the answer about a missing object."""

import difflib
import inspect
import re
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.messages import constants, get_messages
from django.db import transaction
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from tests.integration.access.matrix import ALLOWED, DENIED, HIDDEN, LOGIN, ROUTES
from tests.integration.access.routes import all_routes
from tests.integration.access.world import World

FOUND = all_routes()


@dataclass(frozen=True)
class Answer:
    status: int
    location: str
    text: str  # the body, then the page's messages
    errors: tuple[str, ...]  # the page's error messages

    def __str__(self) -> str:
        where = f" → {self.location}" if self.location else ""
        return f"{self.status}{where}: {self.text[:300]!r}"


def _is_api(name: str) -> bool:
    return name.startswith("api:") or name == "schema"  # the Swagger page is a page (session)


def _client(world: World, name: str, role: str):
    if _is_api(name):
        client = APIClient()
        if role != "anonymous":
            client.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens[role]}")
        return client
    client = Client()
    if role != "anonymous":
        client.cookies[settings.SESSION_COOKIE_NAME] = world.sessions[role]
    return client


def _value(spec, target, world: World):
    if spec == "login":
        return {"username": world.login.username, "password": world.login.password}
    if callable(spec):
        return spec(target, world) if len(inspect.signature(spec).parameters) == 2 else spec(target)
    return spec


def _url(world: World, name: str, entry, target) -> str:
    kwargs = dict(entry.kwargs)
    for kwarg in FOUND[name].kwargs:
        if kwarg in entry.siblings:
            kwargs[kwarg] = world.target(entry.siblings[kwarg]).pk
        elif kwarg not in kwargs:
            kwargs[kwarg] = target.osv_id if kwarg == "osv_id" else target.pk
    return reverse(name, kwargs=kwargs)


def ask(world: World, name: str, method: str, role: str, target) -> Answer:
    entry = ROUTES[name]
    rule = entry.rules[method]
    url = _url(world, name, entry, target)
    if query := _value(rule.query, target, world):
        url += "?" + urlencode(query)
    body = _value(rule.data, target, world)
    client = _client(world, name, role)
    send = getattr(client, method.lower())
    with transaction.atomic():
        if method == "GET":
            response = send(url)
        elif _is_api(name):
            response = send(url, body, format="multipart" if rule.multipart else "json")
        elif method == "POST":
            response = send(url, body or {})
        else:
            response = send(url, urlencode(body or {}), content_type="application/x-www-form-urlencoded")
        # Reading a streamed file closes it (the test client's wrapper does, safely for the test
        # transaction); response.close() here would close the database connection.
        content = b"".join(response.streaming_content) if response.streaming else response.content
        notes = (
            list(get_messages(response.wsgi_request)) if hasattr(response.wsgi_request, "_messages") else []
        )
        transaction.set_rollback(True)
    text = content.decode(errors="replace") + "".join(f"\n[{m.level_tag}] {m.message}" for m in notes)
    errors = tuple(str(m.message) for m in notes if m.level >= constants.ERROR)
    return Answer(response.status_code, response.get("Location", ""), text, errors)


def outcome(answer: Answer, role: str) -> str:
    redirect = answer.status in (301, 302, 303)
    if redirect and answer.location.startswith(reverse("accounts:login")) and "next=" in answer.location:
        return LOGIN
    if answer.status == 401:
        return LOGIN if role == "anonymous" else DENIED
    if answer.status == 404:
        return HIDDEN
    if answer.status == 403 or (redirect and answer.errors):
        return DENIED
    if answer.status < 400 or answer.status in (400, 405, 409, 422):
        return ALLOWED
    raise AssertionError(f"an answer the matrix does not know: {answer}")


def difference(ours: tuple, theirs: tuple) -> str:
    if ours[:2] != theirs[:2]:
        return f"  Aurora's: {ours[0]} {ours[1]}\n  missing:  {theirs[0]} {theirs[1]}\n  {ours[2][:300]!r}"
    lines = difflib.unified_diff(
        theirs[2].splitlines(), ours[2].splitlines(), "missing", "Aurora's", n=1, lineterm=""
    )
    return "\n".join(list(lines)[:20])


def refusal(answer: Answer, got: str) -> bool:
    """Not a success: refused, a 4xx, an error message, or a form shown again with its errors."""
    return got != ALLOWED or answer.status >= 400 or bool(answer.errors) or 'class="errorlist' in answer.text


def _identifiers(target) -> list[str]:
    words = [str(target.pk)]
    for attribute in ("name", "slug", "osv_id", "package"):
        value = getattr(target, attribute, None)
        if isinstance(value, str) and value:
            words.append(value)
    return words


def normalised(answer: Answer, *targets) -> tuple:
    """The answer with what the requests named (the objects' ids and names) and what differs on
    every request (CSRF tokens) blanked, so two answers can be compared."""
    text = re.sub(r'(csrfmiddlewaretoken" value=|csrftoken=)"?[\w-]+', r"\1<csrf>", answer.text)
    words = sorted({word for target in targets for word in _identifiers(target)}, key=len, reverse=True)
    for word in words:
        text = re.sub(rf"(?<![\w-]){re.escape(word)}(?![\w-])", "<object>", text)
    return answer.status, answer.location.split("?")[0], text
