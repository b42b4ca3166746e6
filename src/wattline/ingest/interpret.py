"""The pure front half of the pipeline: size check, route to a protocol adapter, validate."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from wattline.model.messages import InboundMessage, Interpreted, Rejection, RejectReason
from wattline.protocols.adapters import Adapter, Payload
from wattline.protocols.adapters.canonical import CanonicalAdapter
from wattline.protocols.errors import ProtocolError
from wattline.protocols.validation import Limits

log = logging.getLogger(__name__)

DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024
# A rejection detail lists the topics Wattline expects; bounded, as every detail is.
_MAX_TOPIC_LIST_CHARS = 300


@dataclass(frozen=True, slots=True)
class InterpretConfig:
    topic_prefix: str = "iot"
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    limits: Limits = field(default_factory=Limits)
    # The wire formats accepted, tried in this order (see protocols.adapters.build_adapters).
    # Empty means the canonical protocol alone, under topic_prefix.
    adapters: tuple[Adapter, ...] = ()

    def __post_init__(self) -> None:
        if not self.adapters:
            # Resolved once here rather than on every message.
            object.__setattr__(self, "adapters", (CanonicalAdapter(self.topic_prefix),))


def interpret(message: InboundMessage, config: InterpretConfig) -> Interpreted | Rejection:
    """Decode and validate one message. Never raises: hostile input becomes a Rejection."""
    if len(message.payload) > config.max_payload_bytes:
        return Rejection(
            RejectReason.TOO_LARGE,
            f"payload is {len(message.payload)} bytes; the limit is {config.max_payload_bytes}",
        )
    payload = Payload(message.payload, message.content_type)
    try:
        for adapter in config.adapters:
            outcome = adapter.parse(message.topic, payload, message.received_ms, config.limits)
            if outcome is not None:
                return outcome
    except ProtocolError as exc:
        return exc.as_rejection()
    except RecursionError:
        return Rejection(RejectReason.UNDECODABLE, "payload is nested too deeply")
    except Exception as exc:
        # A bug in an adapter must not stop ingest: the message is kept for a replay.
        log.exception("adapter failed on a message on %s", message.topic[:200])
        return Rejection(
            RejectReason.ADAPTER_FAILED,
            f"the protocol adapter failed: {type(exc).__name__}: {str(exc)[:200]}",
        )
    expected = ", ".join(f for adapter in config.adapters for f in adapter.topic_patterns())
    return Rejection(
        RejectReason.UNKNOWN_TOPIC,
        f"topic {message.topic[:120]!r} is none of {expected[:_MAX_TOPIC_LIST_CHARS]}",
    )
