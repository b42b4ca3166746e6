"""Every API request is a span named by its route template, current while the route runs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests.integration.api.test_api import AUTH, services

from wattline.api.app import create_app
from wattline.observability.logging import configure_logging
from wattline.observability.tracing import start_tracing
from wattline.storage.sqlite import open_sqlite_store

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


@pytest.fixture
def traced(tmp_path: Path) -> Iterator[tuple[TestClient, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    tracing = start_tracing(
        "serve", "0.0.test", message_ratio=1.0, processor=SimpleSpanProcessor(exporter)
    )
    store = open_sqlite_store(tmp_path / "wattline.db")
    app = create_app(replace(services(store), tracer=tracing.tracer))

    @app.get("/test/logs")
    def logs() -> dict[str, str]:
        logging.getLogger("wattline.test").warning("inside a request")
        return {}

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        with TestClient(app) as client:
            yield client, exporter
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        tracing.shutdown()
        store.close()


def test_a_request_is_a_span_named_by_its_route_template(
    traced: tuple[TestClient, InMemorySpanExporter],
) -> None:
    client, exporter = traced
    assert client.get("/api/v1/devices/nope", headers=AUTH).status_code == 404
    [span] = exporter.get_finished_spans()
    assert span.name == "GET /api/v1/devices/{device_id}"
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/api/v1/devices/{device_id}"
    assert span.attributes["http.response.status_code"] == 404
    assert span.attributes["url.path"] == "/api/v1/devices/nope"
    assert span.parent is None


def test_a_callers_traceparent_makes_the_request_its_child(
    traced: tuple[TestClient, InMemorySpanExporter],
) -> None:
    client, exporter = traced
    parent = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
    assert client.get("/livez", headers={"traceparent": parent}).status_code == 200
    [span] = exporter.get_finished_spans()
    assert span.name == "GET /livez"
    assert f"{span.context.trace_id:032x}" == CALLER_TRACE
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == CALLER_SPAN


def test_a_log_line_written_by_a_route_carries_the_requests_trace_id(
    traced: tuple[TestClient, InMemorySpanExporter], capsys: pytest.CaptureFixture[str]
) -> None:
    client, exporter = traced
    configure_logging("INFO", json_logs=True)
    assert client.get("/test/logs").status_code == 200
    [line] = [json.loads(x) for x in capsys.readouterr().err.splitlines() if "inside" in x]
    [span] = exporter.get_finished_spans()
    assert line["trace_id"] == f"{span.context.trace_id:032x}"
    assert line["span_id"] == f"{span.context.span_id:016x}"


def test_an_unmatched_path_shares_one_span_name(
    traced: tuple[TestClient, InMemorySpanExporter],
) -> None:
    client, exporter = traced
    client.get("/no/such/path/123")
    [span] = exporter.get_finished_spans()
    assert span.name == "GET <unmatched>"
