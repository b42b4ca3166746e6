"""Firmware use cases: upload an image, start a campaign, pause, resume, abort, roll back."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from wattline.archive.blobs import BlobStore
from wattline.firmware.download_links import DownloadLinks
from wattline.firmware.errors import ConflictError, InvalidError, NotFoundError
from wattline.firmware.ports import DeviceDirectory, FirmwareStore
from wattline.firmware.signing import FirmwareSigner, manifest
from wattline.firmware.waves import assign_waves, check_waves
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

# Firmware for the devices Wattline knows (ESP32 plugs, meter gateways) is a few
# MiB; the limit keeps one upload from filling the archive or the API's memory.
DEFAULT_MAX_ARTIFACT_BYTES = 16 * 1024 * 1024
_VERSION_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._+-]{0,63}")
_TYPE_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


@dataclass(frozen=True, slots=True)
class CampaignPlan:
    """What an operator asks for when starting a campaign."""

    artifact_id: str
    target: Target
    waves_pct: tuple[float, ...] = (1.0, 10.0, 50.0, 100.0)
    soak_ms: int = 10 * 60 * 1000
    failure_threshold: float = 0.1
    device_timeout_ms: int = 30 * 60 * 1000


def blob_key(artifact: Artifact) -> str:
    return f"firmware/{artifact.tenant_id}/{artifact.artifact_id}.bin"


class FirmwareService:
    def __init__(  # noqa: PLR0913, PLR0917 - the use cases' collaborators, each a port
        self,
        store: FirmwareStore,
        blobs: BlobStore,
        signer: FirmwareSigner,
        links: DownloadLinks,
        devices: DeviceDirectory,
        clock_ms: Callable[[], int],
        *,
        max_artifact_bytes: int = DEFAULT_MAX_ARTIFACT_BYTES,
    ) -> None:
        self._store = store
        self._blobs = blobs
        self._signer = signer
        self.links = links
        self._devices = devices
        self._clock_ms = clock_ms
        self.max_artifact_bytes = max_artifact_bytes

    @property
    def public_key_pem(self) -> str:
        return self._signer.public_key_pem()

    # -- artifacts ------------------------------------------------------------

    def upload(
        self, tenant_id: str, device_type: str, version: str, data: bytes, created_by: str
    ) -> Artifact:
        if not _TYPE_RE.fullmatch(device_type):
            raise InvalidError("device_type", "device_type must be 1-64 of [A-Za-z0-9_.:-]")
        if not _VERSION_RE.fullmatch(version):
            raise InvalidError("version", "version must be 1-64 of [0-9A-Za-z._+-]")
        if not data:
            raise InvalidError("body", "the firmware image is empty")
        if len(data) > self.max_artifact_bytes:
            raise InvalidError(
                "body", f"the image has {len(data)} bytes; at most {self.max_artifact_bytes}"
            )
        if self._store.artifact_of_version(device_type, version, tenant_id=tenant_id):
            raise ConflictError(f"version {version} for {device_type} is uploaded already")
        unsigned = Artifact(
            artifact_id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            device_type=device_type,
            version=version,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            signature="",
            created_ms=self._clock_ms(),
            created_by=created_by,
        )
        artifact = replace(unsigned, signature=self._signer.sign(manifest(unsigned)))
        # The bytes first: a row never names an object that is not there.
        self._blobs.put(blob_key(artifact), data)
        if not self._store.add_artifact(artifact):
            self._blobs.delete(blob_key(artifact))
            raise ConflictError(f"version {version} for {device_type} is uploaded already")
        return artifact

    def artifact(self, tenant_id: str, artifact_id: str) -> Artifact:
        found = self._store.artifact(artifact_id, tenant_id=tenant_id)
        if found is None:
            raise NotFoundError(f"no firmware artifact {artifact_id!r}")
        return found

    def artifacts(self, tenant_id: str) -> list[Artifact]:
        return self._store.artifacts(tenant_id=tenant_id)

    def download(
        self, artifact_id: str, device_id: str, expires_ms: int, sig: str
    ) -> tuple[Artifact, bytes]:
        """The image a signed link names; LinkRefusedError or NotFoundError otherwise."""
        self.links.check(artifact_id, device_id, expires_ms, sig, self._clock_ms())
        artifact = self._store.artifact_by_id(artifact_id)
        data = None if artifact is None else self._blobs.get(blob_key(artifact))
        if artifact is None or data is None:
            raise NotFoundError(f"no firmware artifact {artifact_id!r}")
        return artifact, data

    # -- campaigns ------------------------------------------------------------

    def start(self, tenant_id: str, plan: CampaignPlan, created_by: str) -> Campaign:
        artifact = self.artifact(tenant_id, plan.artifact_id)
        _check_plan(plan)
        devices = plan.target.select(self._devices.list_devices(tenant_id=tenant_id))
        missing = set(plan.target.device_ids) - {d.device_id for d in devices}
        if missing:
            raise InvalidError("target.device_ids", f"no device {min(missing)!r}")
        foreign = [d.device_id for d in devices if d.device_type != artifact.device_type]
        if plan.target.device_ids and foreign:
            raise InvalidError(
                "target.device_ids", f"{foreign[0]!r} is not a {artifact.device_type}"
            )
        todo = [
            d
            for d in devices
            if d.device_type == artifact.device_type and d.firmware_version != artifact.version
        ]
        if not todo:
            raise InvalidError("target", "no device of the target needs this version")
        now_ms = self._clock_ms()
        campaign_id = str(uuid.uuid4())
        waves = assign_waves((d.device_id for d in todo), plan.waves_pct, campaign_id)
        updates = [
            DeviceUpdate(
                campaign_id=campaign_id,
                device_id=d.device_id,
                wave=waves[d.device_id],
                phase=Phase.UPDATE,
                state=UpdateState.PENDING,
                from_version=d.firmware_version,
                target_version=artifact.version,
                detail=None,
                progress_pct=None,
                sent_ms=None,
                updated_ms=now_ms,
            )
            for d in todo
        ]
        campaign = Campaign(
            campaign_id=campaign_id,
            tenant_id=tenant_id,
            artifact_id=artifact.artifact_id,
            device_type=artifact.device_type,
            version=artifact.version,
            target=plan.target,
            waves_pct=plan.waves_pct,
            soak_ms=plan.soak_ms,
            failure_threshold=plan.failure_threshold,
            device_timeout_ms=plan.device_timeout_ms,
            state=CampaignState.RUNNING,
            wave=0,
            settled_ms=None,
            checked_from_wave=0,
            reason=None,
            created_ms=now_ms,
            created_by=created_by,
            updated_ms=now_ms,
        )
        self._store.add_campaign(campaign, updates)
        return campaign

    def campaign(self, tenant_id: str, campaign_id: str) -> tuple[Campaign, list[DeviceUpdate]]:
        found = self._store.campaign(campaign_id, tenant_id=tenant_id)
        if found is None:
            raise NotFoundError(f"no campaign {campaign_id!r}")
        return found, self._store.updates(campaign_id, tenant_id=tenant_id)

    def campaigns(self, tenant_id: str) -> list[Campaign]:
        return self._store.campaigns(tenant_id=tenant_id)

    def pause(self, tenant_id: str, campaign_id: str, by: str) -> Campaign:
        campaign, _ = self.campaign(tenant_id, campaign_id)
        _require(campaign, {CampaignState.RUNNING}, "pause")
        return self._save(campaign, state=CampaignState.PAUSED, reason=f"paused by {by}")

    def resume(self, tenant_id: str, campaign_id: str) -> Campaign:
        """Go on after a pause; the current wave's failures so far are accepted."""
        campaign, _ = self.campaign(tenant_id, campaign_id)
        _require(campaign, {CampaignState.PAUSED}, "resume")
        return self._save(
            campaign,
            state=CampaignState.RUNNING,
            reason=None,
            checked_from_wave=campaign.wave + 1,
        )

    def abort(self, tenant_id: str, campaign_id: str, by: str) -> Campaign:
        campaign, updates = self.campaign(tenant_id, campaign_id)
        _require(campaign, {CampaignState.RUNNING, CampaignState.PAUSED}, "abort")
        self._cancel_pending(campaign, updates)
        return self._save(campaign, state=CampaignState.ABORTED, reason=f"aborted by {by}")

    def rollback(self, tenant_id: str, campaign_id: str, by: str) -> Campaign:
        """Send each device that was sent the update its previous version back."""
        campaign, updates = self.campaign(tenant_id, campaign_id)
        if campaign.state in {CampaignState.ROLLING_BACK, CampaignState.ROLLED_BACK}:
            raise ConflictError(f"campaign {campaign_id} is {campaign.state.value} already")
        touched = [
            u for u in updates if u.state not in {UpdateState.PENDING, UpdateState.CANCELLED}
        ]
        versions = {u.from_version for u in touched if u.from_version is not None}
        missing = sorted(
            v
            for v in versions
            if self._store.artifact_of_version(campaign.device_type, v, tenant_id=tenant_id) is None
        )
        if missing:
            raise ConflictError(
                f"no artifact of version {', '.join(missing)} for {campaign.device_type}"
                " to roll back to: upload it first"
            )
        now_ms = self._clock_ms()
        back = [
            replace(
                u,
                phase=Phase.ROLLBACK,
                state=UpdateState.PENDING if u.from_version else UpdateState.FAILED,
                target_version=u.from_version or u.target_version,
                detail=None if u.from_version else "previous version unknown",
                progress_pct=None,
                updated_ms=now_ms,
            )
            for u in touched
        ]
        self._cancel_pending(campaign, updates)
        self._store.save_updates(back, tenant_id=tenant_id)
        return self._save(campaign, state=CampaignState.ROLLING_BACK, reason=f"rolled back by {by}")

    def _cancel_pending(self, campaign: Campaign, updates: Sequence[DeviceUpdate]) -> None:
        now_ms = self._clock_ms()
        cancelled = [
            replace(u, state=UpdateState.CANCELLED, updated_ms=now_ms)
            for u in updates
            if u.state is UpdateState.PENDING
        ]
        self._store.save_updates(cancelled, tenant_id=campaign.tenant_id)

    def _save(self, campaign: Campaign, **changes: object) -> Campaign:
        changed = replace(campaign, updated_ms=self._clock_ms(), **changes)  # type: ignore[arg-type]
        self._store.save_campaign(changed)
        return changed


def _require(campaign: Campaign, states: set[CampaignState], what: str) -> None:
    if campaign.state not in states:
        finished = " (it has finished)" if campaign.state in FINISHED_CAMPAIGN else ""
        raise ConflictError(
            f"cannot {what} campaign {campaign.campaign_id}: it is {campaign.state.value}{finished}"
        )


def _check_plan(plan: CampaignPlan) -> None:
    problem = plan.target.problem()
    if problem:
        raise InvalidError("target", problem)
    problem = check_waves(plan.waves_pct)
    if problem:
        raise InvalidError("waves_pct", problem)
