"""OpenTelemetry for one process: on when WATTLINE_OTLP_ENDPOINT is set, else nothing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import wattline
from wattline.config import Settings
from wattline.observability.tracing import Tracing, otlp_processor, start_tracing


@contextlib.contextmanager
def tracing(settings: Settings, role: str) -> Iterator[Tracing | None]:
    """The process's tracing, flushed at exit; None (nothing made, nothing exported) when
    no OTLP endpoint is configured."""
    if settings.otlp_endpoint is None:
        yield None
        return
    started = start_tracing(
        role,
        wattline.__version__,
        message_ratio=settings.trace_message_ratio,
        processor=otlp_processor(settings.otlp_endpoint),
    )
    try:
        yield started
    finally:
        started.shutdown()
