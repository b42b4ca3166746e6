"""A traced message: one trace from the broker's callback to its acknowledgement."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry
from tests.collector_fakes import SourceFactory
from tests.unit.ingest.test_collector_outage import ListArchive

from wattline.ingest.collector import Collector
from wattline.ingest.committer import Committer
from wattline.ingest.interpret import InterpretConfig
from wattline.ingest.sources.base import Delivery
from wattline.model.messages import InboundMessage
from wattline.observability.logging import configure_logging
from wattline.observability.metrics import IngestMetrics
from wattline.observability.tracing import MessageTraces, Tracing, start_tracing, traces_url
from wattline.storage.memory import MemoryStore

T0_MS = 1_764_000_000_000
STAGES = ["receive", "decode", "archive", "commit", "ack"]


@pytest.fixture
def exported() -> Iterator[tuple[Tracing, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    tracing = start_tracing(
        "collect", "0.0.test", message_ratio=1.0, processor=SimpleSpanProcessor(exporter)
    )
    yield tracing, exporter
    tracing.shutdown()


def collector(traces: MessageTraces | None) -> tuple[Collector, SourceFactory]:
    metrics = IngestMetrics(CollectorRegistry())
    committer = Committer(
        MemoryStore(), ListArchive(), InterpretConfig(topic_prefix="t"), metrics, auto_register=True
    )
    sources = SourceFactory()
    return Collector(sources, committer, metrics, traces=traces), sources


def telemetry(device: str, seq: int) -> InboundMessage:
    body = {"seq": seq, "ts": T0_MS + seq, "metrics": {"power_w": 1.0}}
    return InboundMessage(f"t/{device}/telemetry", json.dumps(body).encode(), T0_MS)


def by_trace(spans: Sequence[ReadableSpan]) -> dict[int, list[ReadableSpan]]:
    traces: dict[int, list[ReadableSpan]] = {}
    for span in spans:
        assert span.context is not None
        traces.setdefault(span.context.trace_id, []).append(span)
    return traces


def test_each_message_is_one_trace_from_receive_to_ack(
    exported: tuple[Tracing, InMemorySpanExporter],
) -> None:
    tracing, exporter = exported
    wattline, sources = collector(tracing.message_traces())
    for seq, device in enumerate(["p1", "p2", "p3"]):
        sources.source.deliver(telemetry(device, seq), Delivery(mid=seq, qos=1, generation=1))
    assert wattline.run_once() == 3

    traces = by_trace(exporter.get_finished_spans())
    assert len(traces) == 3
    for spans in traces.values():
        [root] = [s for s in spans if s.parent is None]
        assert root.name == "ingest message"
        assert root.attributes is not None
        assert str(root.attributes["messaging.destination.name"]).endswith("/telemetry")
        children = sorted((s for s in spans if s.parent is not None), key=lambda s: s.start_time)
        assert [s.name for s in children] == STAGES
        assert {s.parent.span_id for s in children if s.parent} == {root.context.span_id}
        assert children[1].attributes == {"wattline.batch.messages": 3}
        # the root lasts from the broker's callback to the acknowledgement
        assert root.start_time is not None
        assert root.end_time is not None
        assert root.start_time <= children[0].start_time
        assert children[-1].end_time is not None
        assert children[-1].end_time <= root.end_time


def test_a_message_not_drawn_makes_no_span(
    exported: tuple[Tracing, InMemorySpanExporter],
) -> None:
    tracing, exporter = exported
    draws = iter([0.5, 0.001])  # the ratio is 0.01: the second message only
    wattline, sources = collector(MessageTraces(tracing.tracer, 0.01, lambda: next(draws)))
    sources.source.deliver(telemetry("p1", 1), Delivery(mid=1, qos=1, generation=1))
    sources.source.deliver(telemetry("p2", 2), Delivery(mid=2, qos=1, generation=1))
    assert wattline.run_once() == 2
    [spans] = by_trace(exporter.get_finished_spans()).values()
    assert {s.name for s in spans} == {"ingest message", *STAGES}
    [root] = [s for s in spans if s.parent is None]
    assert root.attributes is not None
    assert root.attributes["messaging.destination.name"] == "t/p2/telemetry"


def test_a_stopped_collector_ends_the_traces_it_could_not_acknowledge(
    exported: tuple[Tracing, InMemorySpanExporter],
) -> None:
    tracing, exporter = exported
    wattline, sources = collector(tracing.message_traces())
    sources.source.deliver(telemetry("p1", 1), Delivery(mid=1, qos=1, generation=1))
    wattline.stop()
    [root] = [s for s in exporter.get_finished_spans() if s.name == "ingest message"]
    assert not root.status.is_ok


@pytest.fixture
def json_logs() -> Iterator[Callable[[], logging.Logger]]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    def configure() -> logging.Logger:
        configure_logging("INFO", json_logs=True)
        return logging.getLogger("wattline.test")

    yield configure
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_log_line_inside_a_traced_batch_carries_its_trace_id(
    exported: tuple[Tracing, InMemorySpanExporter],
    json_logs: Callable[[], logging.Logger],
    capsys: pytest.CaptureFixture[str],
) -> None:
    tracing, exporter = exported
    traces = tracing.message_traces()
    log = json_logs()
    message = telemetry("p1", 1)
    receiving = traces.received(message)
    assert receiving is not None
    receiving.end()
    with traces.stage("commit", [message]):
        log.warning("store unavailable, will retry")
    traces.finished([message])
    log.info("between batches")

    inside, outside = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    [commit] = [s for s in exporter.get_finished_spans() if s.name == "commit"]
    assert inside["trace_id"] == f"{commit.context.trace_id:032x}"
    assert inside["span_id"] == f"{commit.context.span_id:016x}"
    assert "trace_id" not in outside


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("http://otel:4318", "http://otel:4318/v1/traces"),
        ("http://otel:4318/", "http://otel:4318/v1/traces"),
        ("https://otel.example/custom/traces", "https://otel.example/custom/traces"),
    ],
)
def test_a_bare_endpoint_gets_the_otlp_traces_path(endpoint: str, url: str) -> None:
    assert traces_url(endpoint) == url
