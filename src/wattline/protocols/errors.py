from __future__ import annotations

from wattline.model.messages import Rejection, RejectReason


class ProtocolError(Exception):
    """A message that does not follow its protocol; becomes a quarantine entry."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail

    def as_rejection(self) -> Rejection:
        return Rejection(self.reason, self.detail)
