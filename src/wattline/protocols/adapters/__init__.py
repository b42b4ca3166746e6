"""Protocol adapters: each maps one device wire format onto Wattline's message model.

`ADAPTERS` holds every adapter under its default topic prefix, by the name the
``adapters`` setting uses; `build_adapters` applies configured prefixes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from wattline.protocols.adapters.base import Adapter, Payload
from wattline.protocols.adapters.canonical import CanonicalAdapter
from wattline.protocols.adapters.hypervolt import HyperVoltAdapter
from wattline.protocols.adapters.shelly import ShellyGen1Adapter, ShellyGen2Adapter
from wattline.protocols.adapters.smartplug import SmartPlugAdapter
from wattline.protocols.adapters.smartsolar import SmartSolarAdapter
from wattline.protocols.adapters.tasmota import TasmotaAdapter

__all__ = ["ADAPTERS", "Adapter", "Payload", "build_adapters"]

_ALL: tuple[Adapter, ...] = (
    CanonicalAdapter(),
    SmartPlugAdapter(),
    SmartSolarAdapter(),
    HyperVoltAdapter(),
    TasmotaAdapter(),
    ShellyGen1Adapter(),
    ShellyGen2Adapter(),
)
ADAPTERS: Mapping[str, Adapter] = MappingProxyType({adapter.name: adapter for adapter in _ALL})


def build_adapters(
    names: Sequence[str], prefixes: Mapping[str, str] | None = None
) -> tuple[Adapter, ...]:
    """The named adapters, in the given order, with any configured prefixes.

    Order matters only when two adapters' topics overlap (a misconfiguration):
    the first one listed claims the message.
    """
    unknown = [name for name in names if name not in ADAPTERS]
    if unknown:
        raise ValueError(f"unknown adapters {unknown}; known: {', '.join(ADAPTERS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"adapters {list(names)} lists one twice")
    prefixes = prefixes or {}
    return tuple(
        ADAPTERS[name].with_prefix(prefixes[name]) if name in prefixes else ADAPTERS[name]
        for name in names
    )
