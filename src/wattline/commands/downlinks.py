"""What a command looks like on the wire, per device family. Pure.

- canonical: ``{prefix}/{id}/command`` carries the signed envelope; the device
  answers on ``{prefix}/{id}/command/ack``.
- smartplug: ``smartplug/{id}/control`` carries the signed envelope plus the
  seed's ``command``; the plug's ``smartplug/{id}/status`` with ``relay_state``
  completes it.
- tasmota: ``cmnd/{id}/POWER`` with ``ON``, ``OFF`` or ``TOGGLE`` (unsigned);
  ``stat/{id}/RESULT`` ``{"POWER": ...}`` completes it.
- shelly: ``{id}/rpc`` with JSON-RPC ``Switch.Set`` / ``Switch.Toggle``
  (unsigned); the response on ``{src}/rpc`` completes it.

Tasmota and Shelly firmware cannot verify a signature, so anyone able to
publish on their topic can switch them: Wattline sends them only relay
commands, and only those an owner or admin issued.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wattline.commands.relay import RELAY_COMMANDS, RELAY_OFF, RELAY_ON, RELAY_TOGGLE

CANONICAL = "canonical"
SMARTPLUG = "smartplug"
TASMOTA = "tasmota"
SHELLY = "shelly"
FAMILIES = (CANONICAL, SMARTPLUG, TASMOTA, SHELLY)
# Families whose devices verify Wattline's signature.
SIGNING = frozenset({CANONICAL, SMARTPLUG})
# Device types (as registered) that speak another family than the canonical one.
FAMILY_OF_TYPE: Mapping[str, str] = {
    "smartplug": SMARTPLUG,
    "tasmota": TASMOTA,
    "shelly_gen2": SHELLY,
    "shelly": SHELLY,
}
_TASMOTA_POWER = {RELAY_ON: "ON", RELAY_OFF: "OFF", RELAY_TOGGLE: "TOGGLE"}


@dataclass(frozen=True, slots=True)
class Prefixes:
    canonical: str = "iot"
    smartplug: str = "smartplug"
    tasmota_command: str = "cmnd"
    tasmota_result: str = "stat"
    # Shelly Gen2 answers an RPC on "{src}/rpc": the src Wattline sends as.
    shelly_src: str = "wattline-commands"


@dataclass(frozen=True, slots=True)
class Downlink:
    topic: str
    payload: bytes


def family_for(device_type: str | None) -> str:
    return FAMILY_OF_TYPE.get(device_type or "", CANONICAL)


def unsupported(family: str, name: str) -> str | None:
    """Why ``family`` cannot carry ``name``; None when it can."""
    if family in SIGNING or name in RELAY_COMMANDS:
        return None
    return f"{family} devices take only {', '.join(RELAY_COMMANDS)} (they cannot verify signatures)"


def command_downlink(
    family: str,
    device_id: str,
    envelope: Mapping[str, Any],
    prefixes: Prefixes,
    rpc_id: int = 1,
) -> Downlink:
    """The topic and payload that carry ``envelope`` to a device of ``family``."""
    name = str(envelope["name"])
    if family == CANONICAL:
        return Downlink(f"{prefixes.canonical}/{device_id}/command", _json(envelope))
    if family == SMARTPLUG:
        # The seed's devices read "command" and "timestamp" (seconds) beside the signature.
        body = {**envelope, "command": name, "timestamp": int(envelope["issued_ms"]) // 1000}
        return Downlink(f"{prefixes.smartplug}/{device_id}/control", _json(body))
    if family == TASMOTA:
        return Downlink(
            f"{prefixes.tasmota_command}/{device_id}/POWER", _TASMOTA_POWER[name].encode()
        )
    if family == SHELLY:
        if name == RELAY_TOGGLE:
            method, params = "Switch.Toggle", {"id": 0}
        else:
            method, params = "Switch.Set", {"id": 0, "on": name == RELAY_ON}
        body = {"id": rpc_id, "src": prefixes.shelly_src, "method": method, "params": params}
        return Downlink(f"{device_id}/rpc", _json(body))
    raise ValueError(f"unknown device family {family!r}")


def config_downlink(
    family: str, device_id: str, document: Mapping[str, Any], prefixes: Prefixes
) -> Downlink | None:
    """Where a configuration delta goes; None for families without a config topic."""
    if family == CANONICAL:
        return Downlink(f"{prefixes.canonical}/{device_id}/config", _json(document))
    if family == SMARTPLUG:
        return Downlink(f"{prefixes.smartplug}/{device_id}/config", _json(document))
    return None


def _json(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
