"""Which devices a fleet query is about: one selector, the same on every fleet endpoint."""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Query, status

from wattline.api.params import parse_fields
from wattline.api.tenancy import share_user
from wattline.security.principal import Principal
from wattline.storage.keyset import DeviceFilter
from wattline.storage.ports import Registry

# A fleet answer holds devices x buckets entries; this bounds its JSON to tens of MB.
MAX_FLEET_DEVICES = 1_000

Devices = Annotated[str | None, Query(description="comma-separated device ids")]
DeviceType = Annotated[str | None, Query(alias="type", description="every device of this type")]
Tag = Annotated[str | None, Query(description="every device with this tag")]
All = Annotated[
    bool, Query(alias="all", description="every registered device (instead of devices/type/tag)")
]

SELECTOR_HELP = "give exactly one of devices (comma-separated ids), type, tag or all=true"


def select_fleet(  # noqa: PLR0913 - the caller, then the selectors
    store: Registry,
    principal: Principal,
    devices: str | None,
    device_type: str | None,
    tag: str | None,
    *,
    every: bool,
) -> list[str]:
    """The selected device ids in order; 422 unless exactly one selector is given.

    "Everything" is asked for explicitly: a forgotten parameter used to read the
    whole fleet on one endpoint and be refused on the other. Type, tag and all
    select among the caller's tenant's devices (in SQL); ids may also name
    devices shared with the caller. Another tenant's ids are "not registered".
    """
    given = [devices is not None, device_type is not None, tag is not None, every]
    if given.count(True) != 1:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, SELECTOR_HELP)
    if devices is not None:
        wanted = list(dict.fromkeys(parse_fields(devices) or []))
        if not wanted:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, "devices must name at least one device id"
            )
        _check_count(len(wanted))
        readable = store.readable_device_ids(
            wanted, tenant_id=principal.tenant_id, user_id=share_user(principal)
        )
        missing = sorted(set(wanted) - readable)
        if missing:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"devices not registered: {', '.join(missing[:20])}"
            )
        return wanted
    where = DeviceFilter(device_type=device_type, tag=tag)
    # One more than allowed: enough to refuse an oversized selection without counting it.
    registered = store.device_page(
        None, MAX_FLEET_DEVICES + 1, where, tenant_id=principal.tenant_id
    )
    if len(registered) > MAX_FLEET_DEVICES:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"more than {MAX_FLEET_DEVICES} devices selected; at most that many per request",
        )
    return [d.device_id for d in registered]


def _check_count(count: int) -> None:
    if count > MAX_FLEET_DEVICES:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{count} devices selected; at most {MAX_FLEET_DEVICES} per request",
        )
