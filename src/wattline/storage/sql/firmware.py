"""Firmware artifacts, campaigns and device updates, every query scoped to a tenant.

Two look-ups are not, on purpose: ``artifact_by_id`` serves the download route,
whose signed link (bound to the artifact and a device of its tenant) is the
credential; and ``active_campaigns`` / ``update_of`` serve the campaign runner,
which works for every tenant and writes each row back under its own tenant.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from sqlalchemy import Engine, Row, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from wattline.model.firmware import (
    FINISHED_CAMPAIGN,
    Artifact,
    Campaign,
    CampaignState,
    DeviceUpdate,
    Phase,
    UpdateState,
)
from wattline.model.targets import Target
from wattline.storage.firmware_schema import firmware_artifacts, ota_campaigns, ota_device_updates
from wattline.storage.sql.connections import Connections

A = firmware_artifacts.c
C = ota_campaigns.c
U = ota_device_updates.c


class SqlFirmware:
    def __init__(self, engine: Engine) -> None:
        self._connections = Connections(engine)

    # -- artifacts ------------------------------------------------------------

    def add_artifact(self, artifact: Artifact) -> bool:
        """False when the tenant has this version for this device type already."""
        try:
            with self._connections.write() as conn:
                conn.execute(insert(firmware_artifacts).values(**_artifact_row(artifact)))
        except IntegrityError:
            return False
        return True

    def artifact(self, artifact_id: str, *, tenant_id: str) -> Artifact | None:
        return self._one_artifact(and_(A.artifact_id == artifact_id, A.tenant_id == tenant_id))

    def artifact_by_id(self, artifact_id: str) -> Artifact | None:
        return self._one_artifact(A.artifact_id == artifact_id)

    def artifact_of_version(
        self, device_type: str, version: str, *, tenant_id: str
    ) -> Artifact | None:
        return self._one_artifact(
            and_(A.tenant_id == tenant_id, A.device_type == device_type, A.version == version)
        )

    def artifacts(self, *, tenant_id: str) -> list[Artifact]:
        query = select(firmware_artifacts).where(A.tenant_id == tenant_id)
        with self._connections.read() as conn:
            rows = conn.execute(query.order_by(A.created_ms, A.artifact_id)).all()
        return [_artifact(row) for row in rows]

    def _one_artifact(self, where: Any) -> Artifact | None:
        with self._connections.read() as conn:
            row = conn.execute(select(firmware_artifacts).where(where)).first()
        return None if row is None else _artifact(row)

    # -- campaigns ------------------------------------------------------------

    def add_campaign(self, campaign: Campaign, updates: Sequence[DeviceUpdate]) -> None:
        with self._connections.write() as conn:
            conn.execute(insert(ota_campaigns).values(**_campaign_row(campaign)))
            if updates:
                conn.execute(
                    insert(ota_device_updates),
                    [_update_row(u, campaign.tenant_id) for u in updates],
                )

    def campaign(self, campaign_id: str, *, tenant_id: str) -> Campaign | None:
        where = and_(C.campaign_id == campaign_id, C.tenant_id == tenant_id)
        with self._connections.read() as conn:
            row = conn.execute(select(ota_campaigns).where(where)).first()
        return None if row is None else _campaign(row)

    def campaigns(self, *, tenant_id: str) -> list[Campaign]:
        query = select(ota_campaigns).where(C.tenant_id == tenant_id)
        with self._connections.read() as conn:
            rows = conn.execute(query.order_by(C.created_ms.desc(), C.campaign_id)).all()
        return [_campaign(row) for row in rows]

    def active_campaigns(self) -> list[Campaign]:
        """Every tenant's campaigns that still have work (the runner's list)."""
        finished = [state.value for state in FINISHED_CAMPAIGN]
        query = select(ota_campaigns).where(C.state.not_in(finished)).order_by(C.created_ms)
        with self._connections.read() as conn:
            return [_campaign(row) for row in conn.execute(query).all()]

    def save_campaign(self, campaign: Campaign) -> None:
        row = _campaign_row(campaign)
        where = and_(C.campaign_id == campaign.campaign_id, C.tenant_id == campaign.tenant_id)
        with self._connections.write() as conn:
            conn.execute(update(ota_campaigns).where(where).values(**row))

    # -- device updates -------------------------------------------------------

    def updates(self, campaign_id: str, *, tenant_id: str) -> list[DeviceUpdate]:
        query = select(ota_device_updates).where(
            and_(U.campaign_id == campaign_id, U.tenant_id == tenant_id)
        )
        with self._connections.read() as conn:
            rows = conn.execute(query.order_by(U.wave, U.device_id)).all()
        return [_update(row) for row in rows]

    def update_of(self, campaign_id: str, device_id: str) -> tuple[DeviceUpdate, str] | None:
        """A device's update in a campaign, with the campaign's tenant (for OTA reports)."""
        where = and_(U.campaign_id == campaign_id, U.device_id == device_id)
        with self._connections.read() as conn:
            row = conn.execute(select(ota_device_updates).where(where)).first()
        return None if row is None else (_update(row), str(row.tenant_id))

    def save_updates(self, updates: Iterable[DeviceUpdate], *, tenant_id: str) -> None:
        with self._connections.write() as conn:
            for item in updates:
                row = _update_row(item, tenant_id)
                conn.execute(
                    update(ota_device_updates)
                    .where(
                        and_(
                            U.campaign_id == item.campaign_id,
                            U.device_id == item.device_id,
                            U.tenant_id == tenant_id,
                        )
                    )
                    .values(**row)
                )


def _artifact_row(artifact: Artifact) -> dict[str, Any]:
    return {
        "artifact_id": artifact.artifact_id,
        "tenant_id": artifact.tenant_id,
        "device_type": artifact.device_type,
        "version": artifact.version,
        "size_bytes": artifact.size_bytes,
        "sha256": artifact.sha256,
        "signature": artifact.signature,
        "created_ms": artifact.created_ms,
        "created_by": artifact.created_by,
    }


def _artifact(row: Row[Any]) -> Artifact:
    return Artifact(
        artifact_id=row.artifact_id,
        tenant_id=row.tenant_id,
        device_type=row.device_type,
        version=row.version,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        signature=row.signature,
        created_ms=row.created_ms,
        created_by=row.created_by,
    )


def _campaign_row(campaign: Campaign) -> dict[str, Any]:
    return {
        "campaign_id": campaign.campaign_id,
        "tenant_id": campaign.tenant_id,
        "artifact_id": campaign.artifact_id,
        "device_type": campaign.device_type,
        "version": campaign.version,
        "target": orjson.dumps(campaign.target.as_json()).decode(),
        "waves_pct": orjson.dumps(list(campaign.waves_pct)).decode(),
        "soak_ms": campaign.soak_ms,
        "failure_threshold": campaign.failure_threshold,
        "device_timeout_ms": campaign.device_timeout_ms,
        "state": campaign.state.value,
        "wave": campaign.wave,
        "settled_ms": campaign.settled_ms,
        "checked_from_wave": campaign.checked_from_wave,
        "reason": campaign.reason,
        "created_ms": campaign.created_ms,
        "created_by": campaign.created_by,
        "updated_ms": campaign.updated_ms,
    }


def _campaign(row: Row[Any]) -> Campaign:
    return Campaign(
        campaign_id=row.campaign_id,
        tenant_id=row.tenant_id,
        artifact_id=row.artifact_id,
        device_type=row.device_type,
        version=row.version,
        target=Target.from_json(orjson.loads(row.target)),
        waves_pct=tuple(float(p) for p in orjson.loads(row.waves_pct)),
        soak_ms=row.soak_ms,
        failure_threshold=row.failure_threshold,
        device_timeout_ms=row.device_timeout_ms,
        state=CampaignState(row.state),
        wave=row.wave,
        settled_ms=row.settled_ms,
        checked_from_wave=row.checked_from_wave,
        reason=row.reason,
        created_ms=row.created_ms,
        created_by=row.created_by,
        updated_ms=row.updated_ms,
    )


def _update_row(item: DeviceUpdate, tenant_id: str) -> dict[str, Any]:
    return {
        "campaign_id": item.campaign_id,
        "device_id": item.device_id,
        "tenant_id": tenant_id,
        "wave": item.wave,
        "phase": item.phase.value,
        "state": item.state.value,
        "from_version": item.from_version,
        "target_version": item.target_version,
        "detail": None if item.detail is None else item.detail[:300],
        "progress_pct": item.progress_pct,
        "sent_ms": item.sent_ms,
        "updated_ms": item.updated_ms,
    }


def _update(row: Row[Any]) -> DeviceUpdate:
    return DeviceUpdate(
        campaign_id=row.campaign_id,
        device_id=row.device_id,
        wave=row.wave,
        phase=Phase(row.phase),
        state=UpdateState(row.state),
        from_version=row.from_version,
        target_version=row.target_version,
        detail=row.detail,
        progress_pct=row.progress_pct,
        sent_ms=row.sent_ms,
        updated_ms=row.updated_ms,
    )
