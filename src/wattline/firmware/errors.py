"""What the firmware and schedule use cases refuse; the message is safe to show the caller."""

from __future__ import annotations


class FirmwareError(Exception):
    """The base."""


class NotFoundError(FirmwareError):
    """No such artifact or campaign in the caller's tenant (404)."""


class ConflictError(FirmwareError):
    """The request contradicts what is stored: a version uploaded twice, a campaign done (409)."""


class InvalidError(FirmwareError):
    """A value the use case refuses (422); ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
