"""A seed's field names for Wattline's metrics: the reverse of an adapter's renaming."""

from __future__ import annotations

from collections.abc import Mapping

from wattline.model.metrics import shown


def reverse(fields: Mapping[str, str]) -> dict[str, str]:
    """metric -> the seed's field, from an adapter's field -> metric map (first one wins)."""
    names: dict[str, str] = {}
    for field, metric in fields.items():
        names.setdefault(metric, field)
    return names


def seed_values(values: Mapping[str, float], names: Mapping[str, str]) -> dict[str, float | bool]:
    """Metric values under the seed's names (unmapped metrics keep theirs), switches as booleans."""
    return {names.get(metric, metric): shown(metric, value) for metric, value in values.items()}
