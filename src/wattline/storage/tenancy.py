"""What tenant-scoped look-ups and device shares hand back.

Every registry call names the tenant it acts for, and the SQL filters by it:
a device of another tenant is not there (None, an empty list), never an
error that says whose it is. A device shared with a user is readable by that
user from whichever tenant they act in, with the share's role.
"""

from __future__ import annotations

from dataclasses import dataclass

from wattline.model.devices import Device
from wattline.security.roles import Role

# Devices and people from before tenants existed belong to this one.
DEFAULT_TENANT = "default"


class DeviceIdTakenError(Exception):
    """The id belongs to a device of another tenant.

    Device ids are one namespace (MQTT topics are), so the id cannot be
    registered twice; the message names neither the tenant nor the device.
    """

    def __init__(self) -> None:
        super().__init__("device id is taken")


@dataclass(frozen=True, slots=True)
class DeviceGrant:
    """A device the caller may read, and how."""

    device: Device
    # None: the device is the caller's tenant's, so the caller's tenant role applies;
    # otherwise the role of the share that makes it readable (viewer or operator)
    share_role: Role | None


@dataclass(frozen=True, slots=True)
class UserRef:
    user_id: str
    email: str


@dataclass(frozen=True, slots=True)
class DeviceShare:
    device_id: str
    user: UserRef
    role: Role
    shared_by: str
    created_ms: int


@dataclass(frozen=True, slots=True)
class SharedDevice:
    """A device another tenant shared with a user, seen from the user's side."""

    device: Device
    role: Role
    created_ms: int
