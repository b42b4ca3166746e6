"""Which devices a campaign or a schedule is for. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from wattline.model.devices import Device


@dataclass(frozen=True, slots=True)
class Target:
    """Exactly one of: a device type, a tag, or a list of device ids."""

    device_type: str | None = None
    tag: str | None = None
    device_ids: tuple[str, ...] = ()

    def problem(self) -> str | None:
        """Why this is not a target (for a 422), or None."""
        given = sum((self.device_type is not None, self.tag is not None, bool(self.device_ids)))
        if given != 1:
            return "give exactly one of device_type, tag or device_ids"
        return None

    def matches(self, device: Device) -> bool:
        if self.device_type is not None:
            return device.device_type == self.device_type
        if self.tag is not None:
            return self.tag in device.tags
        return device.device_id in self.device_ids

    def select(self, devices: Iterable[Device]) -> list[Device]:
        return [device for device in devices if self.matches(device)]

    def as_json(self) -> dict[str, object]:
        if self.device_type is not None:
            return {"device_type": self.device_type}
        if self.tag is not None:
            return {"tag": self.tag}
        return {"device_ids": list(self.device_ids)}

    @classmethod
    def from_json(cls, document: dict[str, object]) -> Target:
        ids = document.get("device_ids") or []
        assert isinstance(ids, list)
        device_type = document.get("device_type")
        tag = document.get("tag")
        return cls(
            device_type=str(device_type) if device_type is not None else None,
            tag=str(tag) if tag is not None else None,
            device_ids=tuple(str(i) for i in ids),
        )
