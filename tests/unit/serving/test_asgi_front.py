"""The ASGI front of the inference service: the WSGI app runs on a thread only once the whole body
is in; a body that declares too much is not read; a stalled body is a 408; a client that leaves is
not answered."""

import asyncio
import json
import threading

from apps.serving.inference.asgi import BufferedWsgi


def _echo(environ, start_response):
    """Answers what it was given, and on which thread."""
    length = environ.get("CONTENT_LENGTH")
    body = environ["wsgi.input"].read(int(length)) if length and int(length) <= 100 else b""
    answer = {
        "method": environ["REQUEST_METHOD"],
        "path": environ["PATH_INFO"],
        "query": environ["QUERY_STRING"],
        "length": length,
        "body": body.decode(),
        "key": environ.get("HTTP_AUTHORIZATION"),
        "thread": threading.current_thread().name,
    }
    data = json.dumps(answer).encode()
    start_response("201 Created", [("Content-Type", "application/json"), ("X-Served-By", "1")])
    return [data]


def _scope(headers=(), path="/v1/endpoints/é/predict"):
    return {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "path": path,
        "query_string": b"environment=staging",
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers],  # as ASGI sends them
        "server": ("127.0.0.1", 8100),
        "client": ("127.0.0.1", 50000),
    }


def _run(app, scope, messages, *, stall=False):
    """(status, headers, body) the app sent, or None; ``messages`` are what the client sends, then
    either a disconnect or, with ``stall``, nothing more."""
    sent = []

    async def receive():
        if messages:
            return messages.pop(0)
        if stall:
            await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    # On a thread of its own: an earlier test (Playwright's sync API) may leave a loop running here.
    runner = threading.Thread(target=asyncio.run, args=(app(scope, receive, send),))
    runner.start()
    runner.join(timeout=30)
    assert not runner.is_alive(), "the front never returned"
    if not sent:
        return None
    start, body = sent
    return start["status"], dict(start["headers"]), body["body"]


def _front(**options):
    return BufferedWsgi(_echo, max_body_bytes=options.get("max_body_bytes", 100), body_seconds=0.2, threads=2)


def test_the_app_gets_the_whole_body_on_a_pool_thread():
    messages = [
        {"type": "http.request", "body": b'{"a":', "more_body": True},
        {"type": "http.request", "body": b" 1}", "more_body": False},
    ]
    headers = [("Content-Length", "8"), ("Authorization", "Bearer k")]
    status, headers, body = _run(_front(), _scope(headers), messages)

    assert status == 201
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"content-length"] == str(len(body)).encode()
    answer = json.loads(body)
    assert answer["body"] == '{"a": 1}'
    assert answer["path"] == "/v1/endpoints/é/predict".encode().decode("latin-1")  # as WSGI has it
    assert (answer["method"], answer["query"], answer["key"]) == ("POST", "environment=staging", "Bearer k")
    assert answer["thread"].startswith("inference-request")


def test_a_body_declared_too_large_is_left_to_the_app_unread():
    status, _, body = _run(_front(), _scope([("Content-Length", "1000")]), [])  # nothing sent: not read
    assert status == 201
    assert json.loads(body)["length"] == "1000"


def test_a_stalled_body_is_408_and_the_app_never_runs():
    messages = [{"type": "http.request", "body": b'{"a"', "more_body": True}]
    status, headers, body = _run(_front(), _scope([("Content-Length", "50")]), messages, stall=True)
    assert status == 408
    assert headers[b"connection"] == b"close"
    assert "did not arrive in time" in json.loads(body)["detail"]


def test_a_client_that_leaves_mid_body_gets_no_answer():
    messages = [{"type": "http.request", "body": b"{", "more_body": True}]
    assert _run(_front(), _scope([("Content-Length", "50")]), messages) is None


def test_an_app_that_raises_is_a_500():
    def broken(environ, start_response):
        raise RuntimeError("bug")

    front = BufferedWsgi(broken, max_body_bytes=100, body_seconds=1, threads=1)
    status, _, body = _run(front, _scope(), [])
    assert status == 500
    assert json.loads(body) == {"detail": "internal error"}
