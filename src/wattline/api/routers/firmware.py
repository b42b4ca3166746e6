"""/api/v1/firmware: artifacts, campaigns (pause, resume, abort, rollback), device downloads.

Admins and owners upload and steer; operators may look. The download route is
the one a device calls with its signed link: the link is the credential.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from wattline.api.audit_trail import AuditDep
from wattline.api.deps import PUBLIC, AdminFirstRoute, PrincipalDep, ServicesDep, require
from wattline.api.firmware_schemas import (
    ArtifactList,
    ArtifactOut,
    CampaignIn,
    CampaignList,
    CampaignOut,
    DeviceUpdateList,
    DeviceUpdateOut,
    SigningKeyOut,
    WaveOut,
    target_out,
)
from wattline.firmware.download_links import LinkRefusedError
from wattline.firmware.errors import ConflictError, FirmwareError, InvalidError, NotFoundError
from wattline.firmware.service import CampaignPlan, FirmwareService
from wattline.firmware.signing import manifest
from wattline.firmware.waves import tally
from wattline.model.firmware import Artifact, Campaign, DeviceUpdate
from wattline.model.times import iso_ms
from wattline.security.roles import Role

router = APIRouter(prefix="/api/v1/firmware", tags=["firmware"], route_class=AdminFirstRoute)
downloads = APIRouter(prefix="/api/v1/firmware", tags=["firmware"])

# The route's own body limit, above the API's 512 KiB; the service's limit
# (WATTLINE_FIRMWARE_MAX_BYTES) is checked too and names the number.
MAX_UPLOAD_BODY_BYTES = 64 * 1024 * 1024
Version = Annotated[str, Query(pattern=r"^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$")]
DeviceType = Annotated[str, Query(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


async def get_firmware(services: ServicesDep) -> FirmwareService:
    if services.firmware is None:
        raise HTTPException(
            status.HTTP_501_NOT_IMPLEMENTED, "firmware updates are not enabled in this process"
        )
    return services.firmware


FirmwareDep = Annotated[FirmwareService, Depends(get_firmware)]


def refused(exc: FirmwareError) -> HTTPException:
    """The API's answer to a refusal of the use cases; a 422 names the field like FastAPI's."""
    if isinstance(exc, NotFoundError):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
    if isinstance(exc, ConflictError):
        return HTTPException(status.HTTP_409_CONFLICT, str(exc))
    field = exc.field if isinstance(exc, InvalidError) else "body"
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        [{"type": "value_error", "loc": ["body", *field.split(".")], "msg": str(exc)}],
    )


def artifact_out(artifact: Artifact) -> ArtifactOut:
    return ArtifactOut(
        artifact_id=artifact.artifact_id,
        device_type=artifact.device_type,
        version=artifact.version,
        size_bytes=artifact.size_bytes,
        sha256=artifact.sha256,
        signature=artifact.signature,
        manifest=manifest(artifact),
        created_at=iso_ms(artifact.created_ms),
        created_by=artifact.created_by,
    )


def campaign_out(campaign: Campaign, updates: list[DeviceUpdate]) -> CampaignOut:
    waves = []
    for index, pct in enumerate(campaign.waves_pct):
        counted = tally(u for u in updates if u.wave == index)
        waves.append(
            WaveOut(
                wave=index,
                cumulative_pct=pct,
                total=counted.total,
                pending=counted.pending,
                in_flight=counted.in_flight,
                succeeded=counted.succeeded,
                failed=counted.failed,
                failure_rate=round(counted.failure_rate, 4),
            )
        )
    return CampaignOut(
        campaign_id=campaign.campaign_id,
        artifact_id=campaign.artifact_id,
        device_type=campaign.device_type,
        version=campaign.version,
        target=target_out(campaign.target),
        state=campaign.state.value,
        reason=campaign.reason,
        wave=campaign.wave,
        waves=waves,
        states=dict(Counter(u.state.value for u in updates)),
        soak_s=campaign.soak_ms / 1000,
        failure_threshold_pct=campaign.failure_threshold * 100,
        device_timeout_s=campaign.device_timeout_ms / 1000,
        created_at=iso_ms(campaign.created_ms),
        created_by=campaign.created_by,
        updated_at=iso_ms(campaign.updated_ms),
    )


def update_out(update: DeviceUpdate) -> DeviceUpdateOut:
    return DeviceUpdateOut(
        device_id=update.device_id,
        wave=update.wave,
        phase=update.phase.value,
        state=update.state.value,
        from_version=update.from_version,
        target_version=update.target_version,
        detail=update.detail,
        progress_pct=update.progress_pct,
        sent_at=None if update.sent_ms is None else iso_ms(update.sent_ms),
        updated_at=iso_ms(update.updated_ms),
    )


@router.post(
    "/artifacts",
    status_code=status.HTTP_201_CREATED,
    dependencies=[require(Role.ADMIN)],
    max_body_size=MAX_UPLOAD_BODY_BYTES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
    responses={
        409: {"description": "this version for this device type exists"},
        413: {"description": "the image is over the upload limit"},
    },
)
async def upload_artifact(  # noqa: PLR0913, PLR0917 - the query, the body, the route's context
    request: Request,
    device_type: DeviceType,
    version: Version,
    firmware: FirmwareDep,
    principal: PrincipalDep,
    audit: AuditDep,
) -> ArtifactOut:
    """Upload a firmware image (the raw bytes as the body); Wattline signs its manifest."""
    data = await request.body()
    try:
        artifact = await run_in_threadpool(
            firmware.upload, principal.tenant_id, device_type, version, data, principal.display
        )
    except FirmwareError as exc:
        raise refused(exc) from exc
    audit.record(
        "firmware.upload",
        f"firmware:{artifact.artifact_id}",
        {"device_type": device_type, "version": version, "sha256": artifact.sha256},
    )
    return artifact_out(artifact)


@router.get("/artifacts", dependencies=[require(Role.OPERATOR)])
def list_artifacts(firmware: FirmwareDep, principal: PrincipalDep) -> ArtifactList:
    return ArtifactList(
        artifacts=[artifact_out(a) for a in firmware.artifacts(principal.tenant_id)]
    )


@router.get("/artifacts/{artifact_id}", dependencies=[require(Role.OPERATOR)])
def get_artifact(artifact_id: str, firmware: FirmwareDep, principal: PrincipalDep) -> ArtifactOut:
    try:
        return artifact_out(firmware.artifact(principal.tenant_id, artifact_id))
    except FirmwareError as exc:
        raise refused(exc) from exc


@router.get("/signing-key", dependencies=[require(Role.OPERATOR)])
def signing_key(firmware: FirmwareDep) -> SigningKeyOut:
    """The public key devices verify manifests with (give it to them at provisioning)."""
    return SigningKeyOut(public_key_pem=firmware.public_key_pem)


@router.post("/campaigns", status_code=status.HTTP_201_CREATED, dependencies=[require(Role.ADMIN)])
def start_campaign(
    body: CampaignIn, firmware: FirmwareDep, principal: PrincipalDep, audit: AuditDep
) -> CampaignOut:
    """Roll an artifact out in waves; the first goes out on the runner's next round."""
    plan = CampaignPlan(
        artifact_id=body.artifact_id,
        target=body.target.to_target(),
        waves_pct=tuple(body.waves_pct),
        soak_ms=round(body.soak_s * 1000),
        failure_threshold=body.failure_threshold_pct / 100,
        device_timeout_ms=round(body.device_timeout_s * 1000),
    )
    try:
        campaign = firmware.start(principal.tenant_id, plan, principal.display)
        found, updates = firmware.campaign(principal.tenant_id, campaign.campaign_id)
    except FirmwareError as exc:
        raise refused(exc) from exc
    audit.record(
        "campaign.start",
        f"campaign:{campaign.campaign_id}",
        {"artifact_id": campaign.artifact_id, "version": campaign.version, "devices": len(updates)},
    )
    return campaign_out(found, updates)


@router.get("/campaigns", dependencies=[require(Role.OPERATOR)])
def list_campaigns(firmware: FirmwareDep, principal: PrincipalDep) -> CampaignList:
    tenant = principal.tenant_id
    return CampaignList(
        campaigns=[
            campaign_out(*firmware.campaign(tenant, c.campaign_id))
            for c in firmware.campaigns(tenant)
        ]
    )


@router.get("/campaigns/{campaign_id}", dependencies=[require(Role.OPERATOR)])
def get_campaign(campaign_id: str, firmware: FirmwareDep, principal: PrincipalDep) -> CampaignOut:
    try:
        return campaign_out(*firmware.campaign(principal.tenant_id, campaign_id))
    except FirmwareError as exc:
        raise refused(exc) from exc


@router.get("/campaigns/{campaign_id}/devices", dependencies=[require(Role.OPERATOR)])
def campaign_devices(
    campaign_id: str, firmware: FirmwareDep, principal: PrincipalDep
) -> DeviceUpdateList:
    """Each device's part: wave, state, reason of a failure, versions before and after."""
    try:
        _, updates = firmware.campaign(principal.tenant_id, campaign_id)
    except FirmwareError as exc:
        raise refused(exc) from exc
    return DeviceUpdateList(devices=[update_out(u) for u in updates])


def _steer(
    action: str,
    campaign_id: str,
    firmware: FirmwareService,
    principal: PrincipalDep,
    audit: AuditDep,
) -> CampaignOut:
    tenant, by = principal.tenant_id, principal.display
    steps = {
        "pause": lambda: firmware.pause(tenant, campaign_id, by),
        "resume": lambda: firmware.resume(tenant, campaign_id),
        "abort": lambda: firmware.abort(tenant, campaign_id, by),
        "rollback": lambda: firmware.rollback(tenant, campaign_id, by),
    }
    try:
        steps[action]()
        out = campaign_out(*firmware.campaign(tenant, campaign_id))
    except FirmwareError as exc:
        raise refused(exc) from exc
    audit.record(f"campaign.{action}", f"campaign:{campaign_id}", {"state": out.state})
    return out


_STEER_RESPONSES: dict[int | str, dict[str, object]] = {
    404: {"description": "no such campaign in your tenant"},
    409: {"description": "not possible in the campaign's state"},
}


@router.post(
    "/campaigns/{campaign_id}/pause",
    dependencies=[require(Role.ADMIN)],
    responses=_STEER_RESPONSES,
)
def pause(
    campaign_id: str, firmware: FirmwareDep, principal: PrincipalDep, audit: AuditDep
) -> CampaignOut:
    """Send no further wave; devices already sent finish their update."""
    return _steer("pause", campaign_id, firmware, principal, audit)


@router.post(
    "/campaigns/{campaign_id}/resume",
    dependencies=[require(Role.ADMIN)],
    responses=_STEER_RESPONSES,
)
def resume(
    campaign_id: str, firmware: FirmwareDep, principal: PrincipalDep, audit: AuditDep
) -> CampaignOut:
    """Go on with the next wave; the current wave's failures are accepted."""
    return _steer("resume", campaign_id, firmware, principal, audit)


@router.post(
    "/campaigns/{campaign_id}/abort",
    dependencies=[require(Role.ADMIN)],
    responses=_STEER_RESPONSES,
)
def abort(
    campaign_id: str, firmware: FirmwareDep, principal: PrincipalDep, audit: AuditDep
) -> CampaignOut:
    """Stop for good: devices not yet sent are cancelled; updated ones keep the new version."""
    return _steer("abort", campaign_id, firmware, principal, audit)


@router.post(
    "/campaigns/{campaign_id}/rollback",
    dependencies=[require(Role.ADMIN)],
    responses=_STEER_RESPONSES,
)
def rollback(
    campaign_id: str, firmware: FirmwareDep, principal: PrincipalDep, audit: AuditDep
) -> CampaignOut:
    """Send every device that was sent the update its previous version back."""
    return _steer("rollback", campaign_id, firmware, principal, audit)


@downloads.get(
    "/download/{artifact_id}",
    dependencies=[PUBLIC],
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "the image"},
        403: {"description": "the link is forged, altered or expired"},
        404: {"description": "no such artifact"},
    },
)
def download(
    artifact_id: str,
    firmware: FirmwareDep,
    device: Annotated[str, Query(max_length=64)],
    expires: Annotated[int, Query(ge=0, le=2**53)],
    sig: Annotated[str, Query(max_length=64)],
) -> Response:
    """A device fetches its image with the short-lived link its OTA instruction carried."""
    try:
        artifact, data = firmware.download(artifact_id, device, expires, sig)
    except LinkRefusedError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    except FirmwareError as exc:
        raise refused(exc) from exc
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "X-Firmware-Version": artifact.version,
            "X-Firmware-Sha256": artifact.sha256,
            "Cache-Control": "no-store",
        },
    )
