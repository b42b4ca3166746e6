"""Signed command envelopes: what Wattline publishes and what a device checks.

An envelope is a JSON object: the command (device id, command id, name,
parameters), a nonce fresh for every send, when it was issued and when it
expires, the id of the tenant key that signed it, and an Ed25519 signature over
the canonical JSON of every other field (sorted keys, no spaces, UTF-8). A
device holds its tenant's public keys (given at provisioning) and runs
``verify``: the same function the simulator uses, so the platform's idea of a
valid envelope and the device's never drift apart.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALGORITHM = "Ed25519"
# The command that gives a device the tenant's new public key after a rotation:
# parameters key_id, algorithm, public_key, and signed_by (the previous key's id,
# which signs it). The device installs the key once the envelope verifies.
SET_COMMAND_KEY = "set_command_key"
SIGNED_BY = "signed_by"
VERSION = 1
SIGNATURE_FIELD = "sig"
FIELDS = (
    "v",
    "device_id",
    "command_id",
    "name",
    "parameters",
    "nonce",
    "issued_ms",
    "expires_ms",
    "key_id",
)
# A device clock behind ours must not refuse a fresh command; five minutes is
# what NTP-less devices drift in a few days, and far less than a replay window.
MAX_CLOCK_SKEW_MS = 5 * 60_000


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short, stable name for a public key: 16 hex digits of its SHA-256."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_text(public_key: Ed25519PublicKey) -> str:
    """The raw 32-byte key as base64: what a device is given at provisioning."""
    return base64.b64encode(public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def public_key_from_text(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))


def signed_bytes(document: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers: every field but the signature, canonical JSON."""
    body = {name: document[name] for name in FIELDS}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class Unsigned:
    device_id: str
    command_id: str
    name: str
    parameters: Mapping[str, Any]
    nonce: str
    issued_ms: int
    expires_ms: int


def sign(command: Unsigned, private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """The envelope as it is published."""
    document: dict[str, Any] = {
        "v": VERSION,
        "device_id": command.device_id,
        "command_id": command.command_id,
        "name": command.name,
        "parameters": dict(command.parameters),
        "nonce": command.nonce,
        "issued_ms": command.issued_ms,
        "expires_ms": command.expires_ms,
        "key_id": key_id(private_key.public_key()),
    }
    signature = private_key.sign(signed_bytes(document))
    document[SIGNATURE_FIELD] = base64.b64encode(signature).decode()
    return document


class EnvelopeRefusedError(ValueError):
    """Why a device refuses an envelope; the message is what it puts in its ack."""


def verify(
    document: object,
    keys: Mapping[str, Ed25519PublicKey],
    device_id: str,
    now_ms: int,
) -> dict[str, Any]:
    """The envelope when it is genuine, for this device, and not expired.

    Replay (a nonce seen before) is the device's own memory, checked by the
    caller after this. EnvelopeRefusedError names the first problem found.
    """
    if not isinstance(document, dict):
        raise EnvelopeRefusedError("malformed: an envelope is a JSON object")
    missing = [name for name in (*FIELDS, SIGNATURE_FIELD) if name not in document]
    if missing:
        raise EnvelopeRefusedError(f"malformed: missing {', '.join(missing)}")
    if document["v"] != VERSION:
        raise EnvelopeRefusedError(f"malformed: unsupported version {document['v']!r}")
    key = keys.get(str(document["key_id"]))
    if key is None:
        raise EnvelopeRefusedError(f"unknown signing key {str(document['key_id'])[:32]!r}")
    try:
        signature = base64.b64decode(str(document[SIGNATURE_FIELD]), validate=True)
        key.verify(signature, signed_bytes(document))
    except (InvalidSignature, ValueError, TypeError):
        raise EnvelopeRefusedError("bad signature") from None
    if document["device_id"] != device_id:
        raise EnvelopeRefusedError(f"addressed to another device ({document['device_id']!r})")
    expires_ms, issued_ms = document["expires_ms"], document["issued_ms"]
    if not isinstance(expires_ms, int) or not isinstance(issued_ms, int):
        raise EnvelopeRefusedError("malformed: issued_ms and expires_ms must be integers")
    if expires_ms <= now_ms:
        raise EnvelopeRefusedError(f"expired {now_ms - expires_ms} ms ago")
    if issued_ms > now_ms + MAX_CLOCK_SKEW_MS:
        raise EnvelopeRefusedError("issued in the future: check the device clock")
    return document
