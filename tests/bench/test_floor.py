"""The floor `make bench` prints beside the latency: the stand-in's answer alone, and a bare
request back to back and after idle pauses, timed."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.load import bare_sequential
from bench.standin import LOOKUP, TOKEN, IamportStandin, lookup_latencies


@pytest.fixture
def standin():
    server = IamportStandin(delay_seconds=0.02)
    server.start()
    yield server
    server.stop()


def test_the_answer_alone_is_timed_once_per_lookup_and_includes_the_delay(standin):
    standin.register("imp_floor_1", "o20261207floor", 1000)

    latencies = lookup_latencies(standin.url, "imp_floor_1", 3)

    assert len(latencies) == 3
    assert all(0.02 <= seconds < 5 for seconds in latencies)
    assert standin.counts() == {TOKEN: 1, LOOKUP: 3}


def test_a_lookup_the_stand_in_does_not_answer_with_a_payment_stops_the_measurement(standin):
    with pytest.raises(RuntimeError, match="HTTP 404"):
        lookup_latencies(standin.url, "imp_unknown", 3)


class _Bare(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    status = 200
    seen: list[str] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        body = b'{"ok": true}'
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def bare_server():
    def serve(status: int):
        handler = type("Handler", (_Bare,), {"status": status, "seen": []})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1], handler.seen

    servers: list[ThreadingHTTPServer] = []
    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_the_bare_view_is_timed_without_the_pause_before_each_request(bare_server):
    port, seen = bare_server(200)

    began = time.perf_counter()
    latencies = bare_sequential("127.0.0.1", port, 4, pause=0.03)
    elapsed = time.perf_counter() - began

    assert seen == ["/bench/bare/"] * 4
    assert elapsed >= 4 * 0.03
    assert len(latencies) == 4
    assert sum(latencies) < elapsed - 4 * 0.03 + 0.001


def test_a_bare_view_that_fails_stops_the_measurement(bare_server):
    port, _ = bare_server(500)

    with pytest.raises(RuntimeError, match="HTTP 500"):
        bare_sequential("127.0.0.1", port, 2)
