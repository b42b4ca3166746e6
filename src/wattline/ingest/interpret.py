"""The pure front half of the pipeline: size check, decode, route, validate."""

from __future__ import annotations

from dataclasses import dataclass, field

from wattline.model.messages import InboundMessage, Interpreted, Rejection, RejectReason
from wattline.protocols import canonical
from wattline.protocols.codec import decode_payload
from wattline.protocols.errors import ProtocolError

DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class InterpretConfig:
    topic_prefix: str = "iot"
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    limits: canonical.Limits = field(default_factory=canonical.Limits)


def interpret(message: InboundMessage, config: InterpretConfig) -> Interpreted | Rejection:
    """Decode and validate one message. Never raises: hostile input becomes a Rejection."""
    if len(message.payload) > config.max_payload_bytes:
        return Rejection(
            RejectReason.TOO_LARGE,
            f"payload is {len(message.payload)} bytes; the limit is {config.max_payload_bytes}",
        )
    try:
        device_id, kind = canonical.split_topic(message.topic, config.topic_prefix)
        body = _decode(kind, message)
        return canonical.parse_message(device_id, kind, body, message.received_ms, config.limits)
    except ProtocolError as exc:
        return exc.as_rejection()
    except RecursionError:
        return Rejection(RejectReason.UNDECODABLE, "payload is nested too deeply")


def _decode(kind: str, message: InboundMessage) -> object:
    # Many firmwares send a bare word as their last will ("offline"), not JSON.
    if kind == "status":
        word = message.payload.strip()
        if word in _BARE_STATES:
            return word.decode()
    return decode_payload(message.payload, message.content_type)


_BARE_STATES = frozenset((b"online", b"offline", b"unknown"))
