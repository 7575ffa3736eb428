#!/usr/bin/env python3
"""Serve one packaged model over HTTP with the standard library: python serve.py

    GET  /health    {"status": "ok"}
    GET  /metadata  the model's name, version, format and schemas
    POST /predict   {"records": [{...}]} or an MLflow-style body (dataframe_records, dataframe_split,
                    instances, inputs) -> {"predictions": [...], "probabilities": [[...]], "classes": [...]}

Settings from the environment: HOST (127.0.0.1), PORT (8080), MODEL_DIR (this script's folder, holding
package.json and the model file), MAX_BODY_BYTES (10 MB) and REFUSE_OUTSIDE_RANGE (comma-separated
features whose values outside the schema's min-max or categories get a 422; by default such values
are scored). The model is loaded once, at start.
"""

import json
import os
import signal
import socket
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import schema_check
import scoring

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_ERRORS_SHOWN = 100
# A refused body is read and dropped (up to this much) so the client gets the 413 instead of a reset.
_DRAIN_LIMIT = 64 * 1024 * 1024


def predict(package: dict, predictor, body: bytes, refuse_outside=frozenset()) -> tuple[int, dict]:
    """The status and JSON answer for a /predict body. Errors never quote the submitted values."""
    try:
        payload = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return HTTPStatus.BAD_REQUEST, {"error": "the body is not valid JSON"}
    try:
        records = schema_check.records_from_payload(payload)
    except ValueError as exc:
        return HTTPStatus.BAD_REQUEST, {"error": str(exc)}
    schema = package.get("input_schema") or {}
    errors = schema_check.validate_records(records, schema, refuse_outside=refuse_outside)
    if errors:
        return HTTPStatus.UNPROCESSABLE_ENTITY, {
            "error": "the records do not match the model's input schema",
            "errors": errors[:MAX_ERRORS_SHOWN],
            "error_count": len(errors),
        }
    try:
        return HTTPStatus.OK, scoring.score(predictor, scoring.to_frame(records, schema))
    except Exception as exc:  # a model's own message can quote the input: log only its type
        print(f"prediction failed: {type(exc).__name__}", file=sys.stderr, flush=True)
        return HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "the model could not score these records"}


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def metadata(package: dict, predictor) -> dict:
    classes = getattr(predictor, "classes", None)
    return {
        "model_name": package.get("model_name"),
        "model_version": package.get("model_version"),
        "format": package.get("format"),
        "kind": getattr(predictor, "kind", None),
        "classes": None if classes is None else scoring.plain(list(classes)),
        "input_schema": package.get("input_schema") or {},
        "output_schema": package.get("output_schema") or {},
    }


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        package: dict,
        predictor,
        max_body_bytes: int,
        refuse_outside=frozenset(),
    ):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.package = package
        self.refuse_outside = frozenset(refuse_outside)
        self.predictor = predictor
        self.max_body_bytes = max_body_bytes
        self.metadata = metadata(package, predictor)
        super().__init__(address, PredictHandler)


class PredictHandler(BaseHTTPRequestHandler):
    server: ModelServer
    server_version = "modelyard-serve/1"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 60  # a client that stops sending mid-request frees its thread

    def version_string(self) -> str:
        return self.server_version  # without the Python version, which helps attackers, not clients

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/health":
            self._reply(HTTPStatus.OK, {"status": "ok"})
        elif path == "/metadata":
            self._reply(HTTPStatus.OK, self.server.metadata)
        elif path == "/predict":
            self._reply(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "use POST"}, allow="POST")
        else:
            self._reply(HTTPStatus.NOT_FOUND, {"error": "not found"})

    do_HEAD = do_GET  # _reply leaves the body out for HEAD

    def do_POST(self):
        path = self.path.split("?", 1)[0]
        if path in ("/health", "/metadata"):
            self._reply(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "use GET"}, allow="GET", close=True)
        elif path != "/predict":
            self._reply(HTTPStatus.NOT_FOUND, {"error": "not found"}, close=True)
        else:
            body = self._read_body()
            if body is not None:
                self._reply(
                    *predict(self.server.package, self.server.predictor, body, self.server.refuse_outside)
                )

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding"):
            self._reply(HTTPStatus.LENGTH_REQUIRED, {"error": "chunked bodies are not accepted"}, close=True)
            return None
        try:
            length = int(self.headers.get("Content-Length", ""))
            if length < 0:
                raise ValueError
        except ValueError:
            self._reply(HTTPStatus.LENGTH_REQUIRED, {"error": "a Content-Length is required"}, close=True)
            return None
        limit = self.server.max_body_bytes
        if length > limit:
            message = f"the body is {length} bytes, more than the {limit} allowed"
            self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": message}, close=True)
            self._drain(length)
            return None
        return self.rfile.read(length)

    def _drain(self, length: int) -> None:
        remaining = min(length, _DRAIN_LIMIT)
        try:
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 65536))
                if not chunk:
                    return
                remaining -= len(chunk)
        except OSError:
            return

    def _reply(self, status: int, payload: dict, *, allow: str = "", close: bool = False) -> None:
        data = json.dumps(payload, allow_nan=False, separators=(",", ":")).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if allow:
            self.send_header("Allow", allow)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_error(self, code, message=None, explain=None):
        """JSON like every other answer, and without the default page's echo of the request line."""
        self._reply(code, {"error": HTTPStatus(code).phrase}, close=True)


def _stop(signum, frame):
    raise KeyboardInterrupt  # as PID 1 in a container, SIGTERM does nothing without a handler


def main() -> int:
    package = scoring.read_package()
    try:
        predictor = scoring.load_predictor(package)
    except Exception as exc:  # the loader's message says what is wrong and what to do
        print(f"error: cannot load the model: {exc}", file=sys.stderr)
        return 1
    host = os.environ.get("HOST") or "127.0.0.1"
    port = int(os.environ.get("PORT") or 8080)
    max_body_bytes = int(os.environ.get("MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES)
    refuse = schema_check.feature_list(os.environ.get("REFUSE_OUTSIDE_RANGE", ""))
    server = ModelServer(
        (host, port),
        package=package,
        predictor=predictor,
        max_body_bytes=max_body_bytes,
        refuse_outside=refuse,
    )
    signal.signal(signal.SIGTERM, _stop)
    name, version = package.get("model_name"), package.get("model_version")
    print(f"serving {name} version {version} on {host}:{server.server_port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
