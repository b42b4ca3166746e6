"""Metric aliases: the names devices send, resolved to the metric names Wattline stores.

Adapters rename fields on ingest (a smart plug's ``power`` is stored as
``power_w``, a HyperVolt ``LDR`` as ``light_ldr``). Clients written for the
devices' own systems ask by the device's name, so the API resolves a name both
ways: an alias to its metric here, and a metric back to a seed's name in the
compatibility layer. Aliases are case-insensitive; every adapter that renames a
field agrees on its target (checked when this module loads).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from wattline.protocols.adapters import hypervolt, shelly, smartplug, smartsolar, tasmota


def _collect(maps: Iterable[Mapping[str, str]]) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for mapping in maps:
        for source, metric in mapping.items():
            key = source.lower()
            if aliases.setdefault(key, metric) != metric:
                raise ValueError(f"alias {source!r} maps to both {aliases[key]} and {metric}")
    return aliases


# device field (lower case) -> Wattline metric
METRIC_ALIASES: Mapping[str, str] = MappingProxyType(
    _collect(
        (
            smartplug.FIELDS,
            smartsolar.METRICS,
            hypervolt.METRICS,
            tasmota.FIELDS,
            shelly.GEN1_METRICS,
            shelly.GEN2_FIELDS,
        )
    )
)


def resolve_metric(name: str, known: Iterable[str]) -> str | None:
    """The metric ``name`` stands for among ``known`` (a device's metrics): itself when
    known, else the metric it is an alias of when that is known; None when neither."""
    metrics = set(known)
    if name in metrics:
        return name
    target = METRIC_ALIASES.get(name.lower())
    return target if target in metrics else None
