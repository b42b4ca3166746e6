"""Leases: which process leads a job that must run in one place at a time."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, String, Table

from wattline.storage.schema import metadata

leases = Table(
    "leases",
    metadata,
    # the job: "alerts", "scheduler", "commands", ...
    Column("name", String(64), primary_key=True),
    # the process holding it, "{host}:{pid}:{random}"
    Column("holder", String(200), nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
)
