"""structlog set-up: human-readable on a terminal, JSON lines otherwise.

A line written while an OpenTelemetry span is current (an API request, a traced
message's batch) carries ``trace_id`` and ``span_id``, so a log search finds the
trace and a trace finds its log lines.
"""

from __future__ import annotations

import logging
import sys

import structlog
from opentelemetry import trace


def configure_logging(level: str = "INFO", *, json_logs: bool | None = None) -> None:
    use_json = not sys.stderr.isatty() if json_logs is None else json_logs
    # The JSON renderer prints exc_info as it finds it (a tuple whose repr is
    # "<traceback object at 0x...>"); format_exc_info turns it into the stack first.
    # The console renderer formats exceptions itself.
    renderers: list[structlog.typing.Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if use_json
        else [structlog.dev.ConsoleRenderer()]
    )
    shared: list[structlog.typing.Processor] = [
        add_trace_ids,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderers],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Third-party chatter that says nothing an operator acts on.
    for noisy in ("amqtt", "transitions", "uvicorn.access", "passlib", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def add_trace_ids(
    _logger: object, _method: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """``trace_id`` and ``span_id`` of the current span in hex, as trace back ends show them."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = f"{context.trace_id:032x}"
        event["span_id"] = f"{context.span_id:016x}"
    return event
