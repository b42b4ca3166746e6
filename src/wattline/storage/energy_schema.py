"""Tariffs, their assignments, each tenant's energy settings and fetched grid data."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, PrimaryKeyConstraint, String, Table, Text

from wattline.storage.schema import KEY_TEXT, metadata

# A tariff's versions are one JSON document (``analytics.tariffs`` reads it):
# they are read and written whole, never queried by their fields.
tariffs = Table(
    "tariffs",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("tariff_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("tz", String(64), nullable=False),
    Column("versions", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "tariff_id"),
)

# What a tariff prices: one device, every device with a tag, or the whole tenant
# (target ""). A device's own assignment wins over a tag's, a tag's over the tenant's.
tariff_assignments = Table(
    "tariff_assignments",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("target_kind", String(16), nullable=False),  # device, tag, tenant
    Column("target", String(64), nullable=False),
    Column("tariff_id", String(64), nullable=False),
    # import: the device's energy is bought; export: it is fed in (a PV inverter)
    Column("direction", String(16), nullable=False),
    PrimaryKeyConstraint("tenant_id", "target_kind", "target"),
)

energy_settings = Table(
    "energy_settings",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("currency", String(3), nullable=False),  # ISO 4217
    Column("carbon_zone", String(32)),  # e.g. GB, DE, FR; None: no carbon figures
    Column("latitude_deg", Float),
    Column("longitude_deg", Float),
)

# Hourly grid figures per tenant: carbon intensity, irradiance, temperature,
# each with where it came from (live, cached, fallback) and which provider.
grid_values = Table(
    "grid_values",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("series", String(32), nullable=False),  # carbon_g_per_kwh, ghi_w_m2, temperature_c
    Column("ts_ms", BigInteger, nullable=False),  # the hour's start
    Column("value", Float, nullable=False),
    Column("source", String(16), nullable=False),
    Column("provider", String(64), nullable=False),
    Column("fetched_ms", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "series", "ts_ms"),
)

# A PV inverter's array, for pvlib's expected output (``analytics/solar.py``).
pv_systems = Table(
    "pv_systems",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("device_id", KEY_TEXT, nullable=False),
    # the PvSystem's fields and the underperformance rule, as one JSON document
    Column("config", Text, nullable=False),
    PrimaryKeyConstraint("tenant_id", "device_id"),
)
