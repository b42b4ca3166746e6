"""Spans leave by OTLP over HTTP when WATTLINE_OTLP_ENDPOINT is set, and only then."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from wattline.config import Settings
from wattline.runtime.tracing import tracing


class Receiver(HTTPServer):
    """An OTLP/HTTP trace receiver that keeps what it is sent."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, str, bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()
        self.wfile.write(b"")

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_spans_are_sent_to_the_endpoint_and_flushed_at_exit(receiver: Receiver) -> None:
    settings = Settings(otlp_endpoint=receiver.url, trace_message_ratio=0.5)
    with tracing(settings, "collect") as started:
        assert started is not None
        assert started.message_ratio == 0.5
        with started.tracer.start_as_current_span("GET /livez"):
            pass
    [(path, content_type, body)] = receiver.requests
    assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
    request = ExportTraceServiceRequest.FromString(body)
    [resource_spans] = request.resource_spans
    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert resource["service.name"] == "wattline"
    assert resource["wattline.role"] == "collect"
    assert [s.name for s in resource_spans.scope_spans[0].spans] == ["GET /livez"]


def test_without_an_endpoint_there_is_no_tracing() -> None:
    with tracing(Settings(otlp_endpoint=None), "up") as started:
        assert started is None
