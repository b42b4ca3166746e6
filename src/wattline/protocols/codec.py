"""Payload codecs: JSON and CBOR, chosen by MQTT v5 content type or detected."""

from __future__ import annotations

from typing import Any

import cbor2
import orjson

from wattline.model.messages import RejectReason
from wattline.protocols.errors import ProtocolError

# Bytes a JSON document may start with (after optional whitespace). Anything
# else is tried as CBOR, whose first byte encodes a major type instead.
_JSON_FIRST_BYTES = frozenset(b'{["-0123456789tfn')
_WHITESPACE = b" \t\r\n"


def decode_payload(raw: bytes, content_type: str | None = None) -> Any:
    """Decode one payload; raise ProtocolError(UNDECODABLE) on anything malformed."""
    if names_cbor(content_type):
        return _decode_cbor(raw)
    if content_type is not None and "json" in content_type.lower():
        return _decode_json(raw)
    stripped = raw.lstrip(_WHITESPACE)
    if not stripped:
        raise ProtocolError(RejectReason.UNDECODABLE, "empty payload")
    if stripped[0] in _JSON_FIRST_BYTES:
        return _decode_json(raw)
    return _decode_cbor(raw)


def names_cbor(content_type: str | None) -> bool:
    """Whether the MQTT v5 content type says CBOR; anything else may be JSON."""
    return content_type is not None and "cbor" in content_type.lower()


def _decode_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(RejectReason.UNDECODABLE, f"invalid JSON: {exc}") from None


def _decode_cbor(raw: bytes) -> Any:
    try:
        return cbor2.loads(raw)
    except Exception as exc:  # cbor2 raises a variety of errors on hostile input
        raise ProtocolError(
            RejectReason.UNDECODABLE, f"neither JSON nor valid CBOR: {type(exc).__name__}"
        ) from None
