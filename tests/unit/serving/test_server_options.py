"""The inference server's gunicorn settings and its refusal of an address another server holds."""

import socket

import pytest

from apps.serving.inference.server import gunicorn_options, refuse_taken_address


def test_each_worker_listens_on_its_own_socket():
    options = gunicorn_options(bind="127.0.0.1:8100", workers=2)
    assert options["reuse_port"] is True


def test_workers_wait_for_bodies_on_an_event_loop():
    options = gunicorn_options(bind="127.0.0.1:8100", workers=2)
    assert (options["worker_class"], options["asgi_lifespan"]) == ("asgi", "off")


def test_an_address_with_a_listener_is_refused_even_one_that_allows_reuse():
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # as a running server's worker
        other.bind(("127.0.0.1", 0))
        other.listen()
        address = f"127.0.0.1:{other.getsockname()[1]}"
        with pytest.raises(SystemExit, match=f"cannot serve on {address}"):
            refuse_taken_address(address)


def test_a_free_address_passes():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    refuse_taken_address(f"127.0.0.1:{port}")
    refuse_taken_address(["unix:/tmp/x.sock", "127.0.0.1:0"])
