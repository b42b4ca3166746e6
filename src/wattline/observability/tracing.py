"""OpenTelemetry traces: of a sample of messages, from receive to acknowledgement, and
of every API request (``http_tracing.py``).

Off unless the composition root starts it (WATTLINE_OTLP_ENDPOINT): then no tracer
provider exists, nothing is exported, and the collector and the API run without a
single tracing call (they are given ``None``), so "off" costs nothing at all.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from wattline.model.messages import InboundMessage

if TYPE_CHECKING:
    # The SDK is imported when tracing starts, so a process with tracing off never
    # loads it (it adds about half again to the API's import time).
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

SERVICE_NAME = "wattline"
# The OTLP/HTTP path of traces; an endpoint given as a bare host gets it appended.
_TRACES_PATH = "/v1/traces"


@dataclass(frozen=True, slots=True)
class Tracing:
    """A process's tracer and the provider that exports its spans."""

    provider: TracerProvider
    tracer: Tracer
    # the fraction of ingested messages traced (API requests are all traced)
    message_ratio: float

    def message_traces(self) -> MessageTraces:
        return MessageTraces(self.tracer, self.message_ratio)

    def shutdown(self) -> None:
        """Export what is still buffered, then stop."""
        self.provider.shutdown()


def start_tracing(
    role: str,
    version: str,
    *,
    message_ratio: float,
    processor: SpanProcessor,
) -> Tracing:
    """``role``: up, serve or collect, so a trace shows which process made each span."""
    from opentelemetry.sdk.resources import Resource  # noqa: PLC0415 - only when on
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415

    resource = Resource.create(
        {"service.name": SERVICE_NAME, "service.version": version, "wattline.role": role}
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(processor)
    return Tracing(provider, provider.get_tracer("wattline", version), message_ratio)


def otlp_processor(endpoint: str) -> SpanProcessor:
    """Spans batched in memory and sent by OTLP over HTTP from a thread of the SDK's own."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415 - only when on
        OTLPSpanExporter,
    )
    from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415

    return BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(endpoint)))


def traces_url(endpoint: str) -> str:
    """``http://collector:4318`` -> ``http://collector:4318/v1/traces``; a path is kept."""
    parts = urlsplit(endpoint)
    if parts.path in {"", "/"}:
        parts = parts._replace(path=_TRACES_PATH)
    return urlunsplit(parts)


class MessageTraces:
    """One trace per sampled message: ``ingest message`` from the broker's callback
    to the acknowledgement, with ``receive``, ``decode``, ``archive``, ``commit`` and
    ``ack`` under it.

    Decode, archive and commit run once per batch; every traced message of the
    batch gets a span of its own for them (same times, ``wattline.batch.messages``
    says how many shared it), so one trace tells the whole story of one message.
    A message not drawn for tracing costs one random draw.
    """

    def __init__(
        self, tracer: Tracer, ratio: float, draw: Callable[[], float] = random.random
    ) -> None:
        self._tracer = tracer
        self._ratio = ratio
        self._draw = draw
        # Root spans by id() of their message: the collector holds every message
        # until its acknowledgement, when the entry goes, so no id is reused meanwhile.
        self._open: dict[int, Span] = {}

    def received(self, message: InboundMessage) -> Span | None:
        """The ``receive`` span of a message drawn for tracing (end it once queued), else None."""
        if self._draw() >= self._ratio:
            return None
        root = self._tracer.start_span(
            "ingest message",
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "mqtt",
                "messaging.operation.type": "process",
                "messaging.destination.name": message.topic,
                "messaging.message.body.size": len(message.payload),
            },
        )
        self._open[id(message)] = root
        return self._tracer.start_span("receive", context=trace.set_span_in_context(root))

    @contextlib.contextmanager
    def stage(self, name: str, messages: Sequence[InboundMessage]) -> Iterator[None]:
        """A span named ``name`` under each traced message of the batch, for as long as
        the block runs; the first is current, so log lines carry its trace id."""
        opened = self._open
        roots = [r for m in messages if (r := opened.get(id(m))) is not None] if opened else []
        if not roots:
            yield
            return
        attributes = {"wattline.batch.messages": len(messages)}
        spans = [
            self._tracer.start_span(
                name, context=trace.set_span_in_context(root), attributes=attributes
            )
            for root in roots
        ]
        try:
            with trace.use_span(spans[0], end_on_exit=False, record_exception=False):
                yield
        except BaseException as exc:
            for span in spans:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        finally:
            for span in spans:
                span.end()

    def finished(self, messages: Sequence[InboundMessage]) -> None:
        """Acknowledged: end the traces of these messages."""
        if not self._open:
            return
        for message in messages:
            root = self._open.pop(id(message), None)
            if root is not None:
                root.end()

    def abandon(self) -> None:
        """The collector stopped: end every open trace as unacknowledged (the broker
        delivers those messages again to the next session)."""
        while self._open:
            _, root = self._open.popitem()
            root.set_status(Status(StatusCode.ERROR, "stopped before acknowledgement"))
            root.end()
