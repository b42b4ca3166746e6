"""``fields`` of a telemetry request resolved against the devices' own metrics.

A client may name a metric as Wattline stores it (``power_w``) or as its device
sent it (``power``, ``LDR``): aliases resolve to the stored name. A name that
matches none of the devices' metrics is a 400 that lists them, never an empty
200. Devices with nothing stored yet have no metrics to check against: their
names resolve by the alias table alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import HTTPException, status

from wattline.api.params import excerpt, parse_fields
from wattline.protocols.aliases import METRIC_ALIASES, resolve_metric
from wattline.storage.ports import SeriesReader

# A device lists a few dozen metrics; an error message stays readable.
MAX_LISTED = 50


def device_metrics(store: SeriesReader, device_ids: Sequence[str]) -> list[str]:
    """Every metric the devices have a latest value of, sorted."""
    latest = store.latest_values(list(device_ids))
    return sorted({value.metric for values in latest.values() for value in values})


def resolve_fields(
    store: SeriesReader, device_ids: Sequence[str], text: str | None, what: str
) -> list[str] | None:
    """The stored metric names ``text`` asks for (None: all); 400 for one matching nothing.

    ``what`` names the devices in the message ("device 'plug-1'", "these devices").
    """
    names = parse_fields(text)
    if names is None:
        return None
    known = device_metrics(store, device_ids)
    if not known:
        return list(dict.fromkeys(METRIC_ALIASES.get(name.lower(), name) for name in names))
    resolved: list[str] = []
    for name in names:
        metric = resolve_metric(name, known)
        if metric is None:
            listed = ", ".join(known[:MAX_LISTED]) + (" ..." if len(known) > MAX_LISTED else "")
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST,
                f"fields: {excerpt(name)} matches no metric of {what}; its metrics: {listed}",
            )
        resolved.append(metric)
    return list(dict.fromkeys(resolved))
