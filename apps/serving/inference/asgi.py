"""The inference service's front: an ASGI app on the worker's event loop that reads each request's
whole body before a thread runs the WSGI app on it.

A gthread worker hands a connection to one of its threads as soon as the headers are in, and the
thread then waits for the body: 8 clients that send headers and stall hold every thread of a 2 × 4
service. Here the event loop waits for bodies (a stalled client costs a socket and a coroutine,
not a thread), and the threads only ever see complete requests. The whole body must arrive within
``body_seconds`` of the headers, or the client gets a 408 and the connection is closed.

The WSGI app stays the single judge of what it accepts: a body that declares more than
``max_body_bytes``, or none, is not read here; the app answers 413 or 411 from the headers alone.
(asgiref's WsgiToAsgi reads any body without a limit and runs every request on one thread;
a2wsgi streams the body from inside the app's thread, which is the problem this module avoids.)
"""

import asyncio
import io
import logging
import sys
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)

_TIMED_OUT = (
    b'{"detail":"the request body did not arrive in time: send the whole body right after the headers"}'
)
_FAILED = b'{"detail":"internal error"}'


class BufferedWsgi:
    """ASGI callable around a WSGI app. ``threads`` app calls run at once; more wait their turn
    with their bodies already read."""

    def __init__(self, wsgi_app, *, max_body_bytes: int, body_seconds: float, threads: int):
        self.wsgi_app = wsgi_app
        self.max_body_bytes = max_body_bytes
        self.body_seconds = body_seconds
        self.threads = threads
        self._executor: ThreadPoolExecutor | None = None  # made in the worker, after the fork

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return  # no websockets; lifespan is turned off in the server's options
        length = _declared_length(scope["headers"])
        body = b""
        if length is not None and 0 < length <= self.max_body_bytes:
            try:
                async with asyncio.timeout(self.body_seconds):
                    body = await _read_body(receive)
            except TimeoutError:
                await _send(send, 408, [(b"connection", b"close")], _TIMED_OUT)
                return
            if body is None:
                return  # the client went away; nobody to answer
        environ = _environ(scope, body)
        loop = asyncio.get_running_loop()
        try:
            status, headers, data = await loop.run_in_executor(self._pool(), _call, self.wsgi_app, environ)
        except Exception:
            log.exception("the inference app failed on %s %s", scope["method"], scope["path"])
            status, headers, data = 500, [(b"content-type", b"application/json")], _FAILED
        await _send(send, status, headers, data)

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="inference-request")
        return self._executor


async def _read_body(receive) -> bytes | None:
    """The whole body, or None when the client disconnected first. The server has framed it by its
    Content-Length, so no more than that arrives."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _declared_length(headers) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the app says what is wrong with it
    return None


def _environ(scope, body: bytes) -> dict:
    """The WSGI environ of a request (PEP 3333), its body complete in ``wsgi.input``."""
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client")
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": "",
        # WSGI's strings are bytes as latin-1; ASGI's path is decoded UTF-8.
        "PATH_INFO": scope["path"].encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope["query_string"].decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1] or 0),
        "SERVER_PROTOCOL": f"HTTP/{scope['http_version']}",
        "REMOTE_ADDR": client[0] if client else "",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in scope["headers"]:
        key = name.decode("latin-1").upper().replace("-", "_")
        if key not in ("CONTENT_LENGTH", "CONTENT_TYPE"):
            key = "HTTP_" + key
        text = value.decode("latin-1")
        environ[key] = f"{environ[key]},{text}" if key in environ else text
    return environ


def _call(wsgi_app, environ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Run the WSGI app in this (pool) thread: (status, headers, the whole response body)."""
    started = {}

    def start_response(status, headers, exc_info=None):
        started["status"] = int(status.split(" ", 1)[0])
        started["headers"] = [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in headers]

    result = wsgi_app(environ, start_response)
    try:
        data = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return started["status"], started["headers"], data


async def _send(send, status: int, headers: list, data: bytes) -> None:
    if not any(name == b"content-length" for name, _ in headers):
        headers = [*headers, (b"content-length", str(len(data)).encode())]
    if status == 408 and not any(name == b"content-type" for name, _ in headers):
        headers = [*headers, (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data, "more_body": False})
