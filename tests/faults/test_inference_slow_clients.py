"""Slow clients against a real inference service (two workers, four request threads each): 64
connections that stall after headers declaring a 100,000-byte body, and 16 more that trickle their
headers a line a second, held for 30 s (a connection the server closes is opened again, as an
attacker would). Meanwhile a normal single-record request, sent each second on a new connection,
is answered 200 in under a second every time, and its row is in the prediction log."""

import contextlib
import os
import selectors
import socket
import time

import pytest
import requests

from tests.integration.serving_inference.fixtures import read_log
from tests.integration.serving_inference.service import records, running_service, wait_for_models

STALLED = 64
TRICKLING = 16
SECONDS = float(os.environ.get("MODELYARD_SLOW_CLIENT_SECONDS", "30"))
PATH = "/v1/endpoints/risk/predict"
BODY_HEAD = (
    f"POST {PATH} HTTP/1.1\r\nHost: inference\r\nContent-Type: application/json\r\n"
    "Content-Length: 100000\r\n\r\n"
    '{"records": [{"x0": 1.0'
).encode()
HEADERS_HEAD = f"POST {PATH} HTTP/1.1\r\nHost: inference\r\n".encode()


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    with running_service(tmp_path_factory.mktemp("slow-clients")) as running:
        wait_for_models(running)
        yield running


class SlowClients:
    """``stalled`` connections stalled after their headers and ``trickling`` ones sending headers
    slowly, kept open: what the server answers on one (a 408, or just a close) is counted and the
    connection opened again."""

    def __init__(self, host: str, port: int, stalled: int, trickling: int):
        self.address = (host, port)
        self.selector = selectors.DefaultSelector()
        self.answers: list[bytes] = []
        self.trickled = 0
        for kind, count in (("body", stalled), ("headers", trickling)):
            for _ in range(count):
                self._open(kind)

    def _open(self, kind: str) -> None:
        connection = socket.create_connection(self.address, timeout=5)
        connection.sendall(BODY_HEAD if kind == "body" else HEADERS_HEAD)
        connection.setblocking(False)
        self.selector.register(connection, selectors.EVENT_READ, kind)

    def tick(self) -> None:
        """Reopen what the server closed; a header trickler sends its next line."""
        for key, _ in self.selector.select(timeout=0):
            try:
                self.answers.append(key.fileobj.recv(200))
            except OSError:
                self.answers.append(b"")
            self.selector.unregister(key.fileobj)
            key.fileobj.close()
            self._open(key.data)
        for key in list(self.selector.get_map().values()):
            if key.data == "headers":
                with contextlib.suppress(OSError):  # closed by the server: reopened at the next tick
                    key.fileobj.send(f"X-Slow-{self.trickled}: a\r\n".encode())
        self.trickled += 1

    def close(self) -> None:
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()
        self.selector.close()


def test_stalled_and_trickling_clients_never_hold_up_a_normal_request(service):
    body = {"records": records(1, seed=5)}

    slow = SlowClients(service.host, service.port, STALLED, TRICKLING)
    timings, answered = [], []
    try:
        time.sleep(0.5)  # every slow connection is in before the first normal request
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                answer = requests.post(service.url + PATH, json=body, timeout=5)
                outcome = answer.status_code
                if outcome == 200:
                    answered.append(answer.json()["request_id"])
            except requests.RequestException as exc:
                outcome = type(exc).__name__
            timings.append((round(time.perf_counter() - started, 3), outcome))
            if outcome != 200:
                break  # one failure decides; no need to wait out the rest
            slow.tick()
            time.sleep(max(0.0, 1.0 - (time.perf_counter() - started)))
        still_open = len(slow.selector.get_map())
    finally:
        slow.close()

    seconds = sorted(t for t, _ in timings)
    print(f"{len(timings)} normal requests: median {seconds[len(seconds) // 2]} s, slowest {seconds[-1]} s")
    assert len(timings) >= SECONDS - 1, timings
    assert all(outcome == 200 and seconds < 1.0 for seconds, outcome in timings), timings
    assert still_open == STALLED + TRICKLING
    # A body that does not arrive within the service's 10 s is answered 408 and its connection closed.
    if SECONDS > 11:
        timed_out = [a for a in slow.answers if a.startswith(b"HTTP/1.1 408")]
        assert len(timed_out) >= STALLED, slow.answers[:5]
    logged = {row["request_id"] for row in read_log(service.folder) if row["kind"] == "prediction"}
    assert set(answered) <= logged
