"""A request in flight when the service is told to stop (SIGTERM to its master) is still scored,
logged and answered, and the service then exits cleanly."""

import json
import signal
import socket
import time

from tests.integration.serving_inference.fixtures import read_log
from tests.integration.serving_inference.service import records, running_service, wait_for_models


def test_a_request_in_flight_at_sigterm_is_answered_and_logged(tmp_path):
    with running_service(tmp_path) as service:
        wait_for_models(service)
        body = json.dumps({"records": records(1, seed=3)}).encode()
        head = (
            "POST /v1/endpoints/risk/predict HTTP/1.1\r\nHost: inference\r\n"
            f"Content-Type: application/json\r\nX-Request-ID: in-flight-at-stop\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        with socket.create_connection((service.host, service.port), timeout=15) as client:
            client.sendall(head + body[:10])  # the request has begun: its body is on its way
            time.sleep(0.5)
            service.process.send_signal(signal.SIGTERM)
            time.sleep(1.0)  # both workers are stopping; one has this connection
            client.sendall(body[10:])
            answer = b""
            while b"\r\n\r\n" not in answer:
                answer += client.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
        assert service.process.wait(timeout=20) == 0
        rows = [row for row in read_log(service.folder) if row.get("request_id") == "in-flight-at-stop"]
        assert [row["kind"] for row in rows] == ["prediction"]
