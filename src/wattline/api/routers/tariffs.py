"""Tariffs, what they price (assignments) and the tenant's energy settings.

Admins and owners write; every member reads. Each route acts in the caller's
tenant: another tenant's tariff is a 404 like one that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status

from wattline.analytics.tariff_json import (
    tariff_from_json,
    version_from_dict,
    version_to_dict,
    versions_to_json,
)
from wattline.analytics.tariffs import Tariff, TariffError, check_tariff
from wattline.api.deps import AdminFirstRoute, PrincipalDep, ServicesDep, require
from wattline.api.services import ApiServices, EnergyData
from wattline.api.tariff_schemas import (
    AssignmentIn,
    AssignmentList,
    SettingsIn,
    TariffIn,
    TariffList,
    TariffOut,
    VersionIn,
)
from wattline.model.calendar import parse_tz
from wattline.model.times import iso_ms
from wattline.security.roles import Role
from wattline.storage.energy_data import Assignment, EnergySettings, StoredTariff, TargetKind

router = APIRouter(prefix="/api/v1", tags=["tariffs"], route_class=AdminFirstRoute)


def energy_data_of(services: ApiServices) -> EnergyData:
    """The store of tariffs and grid data; 501 when this process has none.

    Routes on a device call it after the device check, so another tenant's
    device is a 404 whatever the process offers."""
    if services.energy_data is None:
        raise HTTPException(
            status.HTTP_501_NOT_IMPLEMENTED, "tariffs and grid data are not enabled in this process"
        )
    return services.energy_data


async def get_energy_data(services: ServicesDep) -> EnergyData:
    return energy_data_of(services)


EnergyDataDep = Annotated[EnergyData, Depends(get_energy_data)]
TariffIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


def _unprocessable(field: str, message: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{field}: {message}")


def tariff_from_body(tariff_id: str, body: TariffIn) -> Tariff:
    """The body as a checked tariff; 422 naming the field at fault."""
    try:
        zone = parse_tz(body.tz)
    except ValueError as exc:
        raise _unprocessable("tz", str(exc)) from None
    if zone is None:
        raise _unprocessable("tz", "an IANA time zone is required")
    versions = tuple(version_from_dict(v.model_dump(mode="json")) for v in body.versions)
    tariff = Tariff(tariff_id, body.name, zone.key, versions)
    try:
        check_tariff(tariff)
    except TariffError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return tariff


def tariff_out(row: StoredTariff) -> TariffOut:
    tariff = tariff_from_json(row.tariff_id, row.name, row.tz, row.versions_json)
    return TariffOut(
        tariff_id=row.tariff_id,
        name=row.name,
        tz=row.tz,
        versions=[VersionIn.model_validate(version_to_dict(v)) for v in tariff.versions],
        created_at=iso_ms(row.created_ms),
        updated_at=iso_ms(row.updated_ms),
    )


@router.get("/tariffs", dependencies=[require(Role.VIEWER)])
def list_tariffs(data: EnergyDataDep, principal: PrincipalDep) -> TariffList:
    """Your tenant's tariffs, by id."""
    return TariffList(tariffs=[tariff_out(t) for t in data.tariffs(principal.tenant_id)])


@router.get(
    "/tariffs/{tariff_id}",
    dependencies=[require(Role.VIEWER)],
    responses={404: {"description": "no such tariff in your tenant"}},
)
def get_tariff(tariff_id: TariffIdPath, data: EnergyDataDep, principal: PrincipalDep) -> TariffOut:
    row = data.tariff(principal.tenant_id, tariff_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no tariff {tariff_id!r}")
    return tariff_out(row)


@router.put(
    "/tariffs/{tariff_id}",
    dependencies=[require(Role.ADMIN)],
    responses={201: {"description": "created"}, 200: {"description": "replaced"}},
)
def put_tariff(  # noqa: PLR0913, PLR0917 - the path, the body and the dependencies
    tariff_id: TariffIdPath,
    body: TariffIn,
    response: Response,
    services: ServicesDep,
    data: EnergyDataDep,
    principal: PrincipalDep,
) -> TariffOut:
    """Create or replace a tariff with all its versions (re-rating history is a new version)."""
    tariff = tariff_from_body(tariff_id, body)
    now_ms = services.clock_ms()
    row = StoredTariff(
        tariff_id, tariff.name, tariff.tz, versions_to_json(tariff.versions), now_ms, now_ms
    )
    if data.put_tariff(principal.tenant_id, row):
        response.status_code = status.HTTP_201_CREATED
    stored = data.tariff(principal.tenant_id, tariff_id)
    return tariff_out(stored or row)


@router.delete(
    "/tariffs/{tariff_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[require(Role.ADMIN)],
    responses={404: {"description": "no such tariff in your tenant"}},
)
def delete_tariff(tariff_id: TariffIdPath, data: EnergyDataDep, principal: PrincipalDep) -> None:
    """Delete the tariff and what it was assigned to."""
    if not data.delete_tariff(principal.tenant_id, tariff_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no tariff {tariff_id!r}")


@router.get("/tariff-assignments", dependencies=[require(Role.VIEWER)])
def list_assignments(data: EnergyDataDep, principal: PrincipalDep) -> AssignmentList:
    """What each tariff prices: devices, tags, and the tenant as a whole."""
    return AssignmentList(
        assignments=[
            AssignmentIn.model_validate(
                {
                    "target_kind": a.target_kind.value,
                    "target": a.target,
                    "tariff_id": a.tariff_id,
                    "direction": a.direction,
                }
            )
            for a in data.assignments(principal.tenant_id)
        ]
    )


@router.put(
    "/tariff-assignments",
    dependencies=[require(Role.ADMIN)],
    responses={404: {"description": "no such tariff or device in your tenant"}},
)
def put_assignment(
    body: AssignmentIn, services: ServicesDep, data: EnergyDataDep, principal: PrincipalDep
) -> AssignmentIn:
    """Point a device, a tag or the whole tenant at a tariff (replacing what it had)."""
    kind = TargetKind(body.target_kind)
    if kind is TargetKind.TENANT and body.target:
        raise _unprocessable("target", "must be empty for the tenant")
    if kind is not TargetKind.TENANT and not body.target:
        raise _unprocessable("target", f"name the {kind.value}")
    if data.tariff(principal.tenant_id, body.tariff_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no tariff {body.tariff_id!r}")
    if kind is TargetKind.DEVICE and (
        services.store.get_device(body.target, tenant_id=principal.tenant_id) is None
    ):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"device {body.target!r} is not registered")
    data.assign(principal.tenant_id, Assignment(kind, body.target, body.tariff_id, body.direction))
    return body


@router.delete(
    "/tariff-assignments",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[require(Role.ADMIN)],
    responses={404: {"description": "nothing was assigned there"}},
)
def delete_assignment(
    data: EnergyDataDep,
    principal: PrincipalDep,
    target_kind: Annotated[Literal["device", "tag", "tenant"], Query()] = "tenant",
    target: Annotated[str, Query(max_length=64)] = "",
) -> None:
    if not data.unassign(principal.tenant_id, TargetKind(target_kind), target):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no tariff assigned to {target_kind} {target!r}"
        )


@router.get("/energy/settings", dependencies=[require(Role.VIEWER)])
def get_settings(data: EnergyDataDep, principal: PrincipalDep) -> SettingsIn:
    """The tenant's currency, carbon zone and location (for weather and solar)."""
    settings = data.settings(principal.tenant_id)
    return SettingsIn(
        currency=settings.currency,
        carbon_zone=settings.carbon_zone,
        latitude_deg=settings.latitude_deg,
        longitude_deg=settings.longitude_deg,
    )


@router.put("/energy/settings", dependencies=[require(Role.ADMIN)])
def put_settings(body: SettingsIn, data: EnergyDataDep, principal: PrincipalDep) -> SettingsIn:
    if (body.latitude_deg is None) != (body.longitude_deg is None):
        raise _unprocessable(
            "longitude_deg", "give both latitude_deg and longitude_deg, or neither"
        )
    data.put_settings(
        principal.tenant_id,
        EnergySettings(body.currency, body.carbon_zone, body.latitude_deg, body.longitude_deg),
    )
    return body
