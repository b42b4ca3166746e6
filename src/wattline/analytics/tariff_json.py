"""A tariff's versions as JSON: the API's shape, and what the store keeps. Pure.

``{"effective_from": "2026-03-01", "effective_to": null, "pricing": "tou",
"price_per_kwh": 0.30, "periods": [{"name": "night", "weekdays": [1, 2, 3, 4, 5, 6, 7],
"start": "00:30", "end": "04:30", "price_per_kwh": 0.10}], "tiers": [],
"standing_charge_per_day": 0.45, "export_price_per_kwh": 0.15}``
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from wattline.analytics.tariffs import Period, Pricing, Tariff, TariffVersion, Tier


def minute_of_day(text: str) -> int:
    """``HH:MM`` (00:00 to 24:00) as minutes since midnight; ValueError otherwise."""
    hours, _, minutes = text.partition(":")
    if not (len(hours) == 2 and len(minutes) == 2 and hours.isdigit() and minutes.isdigit()):
        raise ValueError(f"{text[:16]!r} is not HH:MM")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or value > 1440:
        raise ValueError(f"{text[:16]!r} is not a time between 00:00 and 24:00")
    return value


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def version_to_dict(version: TariffVersion) -> dict[str, Any]:
    return {
        "effective_from": version.effective_from.isoformat(),
        "effective_to": version.effective_to.isoformat() if version.effective_to else None,
        "pricing": version.pricing.value,
        "price_per_kwh": version.price_per_kwh,
        "periods": [
            {
                "name": p.name,
                "weekdays": sorted(p.weekdays),
                "start": hhmm(p.start_min),
                "end": hhmm(p.end_min),
                "price_per_kwh": p.price_per_kwh,
            }
            for p in version.periods
        ],
        "tiers": [
            {"up_to_kwh": t.up_to_kwh, "price_per_kwh": t.price_per_kwh} for t in version.tiers
        ],
        "standing_charge_per_day": version.standing_charge_per_day,
        "export_price_per_kwh": version.export_price_per_kwh,
    }


def version_from_dict(data: dict[str, Any]) -> TariffVersion:
    effective_to = data.get("effective_to")
    return TariffVersion(
        effective_from=date.fromisoformat(data["effective_from"]),
        effective_to=date.fromisoformat(effective_to) if effective_to else None,
        pricing=Pricing(data["pricing"]),
        price_per_kwh=float(data.get("price_per_kwh", 0.0)),
        periods=tuple(
            Period(
                p["name"],
                frozenset(int(d) for d in p["weekdays"]),
                minute_of_day(p["start"]),
                minute_of_day(p["end"]),
                float(p["price_per_kwh"]),
            )
            for p in data.get("periods", [])
        ),
        tiers=tuple(
            Tier(
                None if t.get("up_to_kwh") is None else float(t["up_to_kwh"]),
                float(t["price_per_kwh"]),
            )
            for t in data.get("tiers", [])
        ),
        standing_charge_per_day=float(data.get("standing_charge_per_day", 0.0)),
        export_price_per_kwh=float(data.get("export_price_per_kwh", 0.0)),
    )


def versions_to_json(versions: tuple[TariffVersion, ...]) -> str:
    return json.dumps([version_to_dict(v) for v in versions], separators=(",", ":"))


def tariff_from_json(tariff_id: str, name: str, tz: str, versions_json: str) -> Tariff:
    return Tariff(
        tariff_id, name, tz, tuple(version_from_dict(v) for v in json.loads(versions_json))
    )
