"""Devices' display names ("Living Room Lamp"), which the smart-plug seed's apps set."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, String, Table

from wattline.storage.schema import KEY_TEXT, metadata

device_names = Table(
    "device_names",
    metadata,
    # one name per device; the tenant is the one that named it, and every read filters by it
    Column("device_id", KEY_TEXT, primary_key=True),
    Column("tenant_id", String(64), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)
