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


# Python refuses to print integers of more than 4300 digits (ValueError), and
# CBOR bignums make such integers cheap to send; error details must not crash.
_MAX_PRINTABLE_BITS = 1024


def preview(value: object, limit: int = 40, *, quoted: bool = False) -> str:
    """A short, always printable rendering of a hostile value for an error detail."""
    if isinstance(value, int) and value.bit_length() > _MAX_PRINTABLE_BITS:
        return f"<integer of {value.bit_length()} bits>"
    try:
        return (repr(value) if quoted else str(value))[:limit]
    except ValueError:  # such an integer nested in a list or an object
        return f"<{type(value).__name__}>"
