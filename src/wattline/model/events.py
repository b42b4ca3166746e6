"""What one committed batch tells the rest of Wattline.

Ingest hands a ``Committed`` to its listeners (live stream, alert evaluator,
command tracker) after the store's transaction has committed and before the
broker is acknowledged, so a listener never sees something that could still be
rolled back. Listeners run on the committing thread: they must be quick and
must not raise (hand work to a queue of their own).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from wattline.model.messages import CommandAck, Hello, OtaStatus, Reading, StatusReport


@dataclass(frozen=True, slots=True)
class QuarantineNotice:
    """A message quarantined in the batch: its topic and reason, not its bytes."""

    topic: str
    reason: str
    received_ms: int


@dataclass(frozen=True, slots=True)
class Committed:
    readings: Sequence[Reading] = ()
    hellos: Sequence[Hello] = ()
    statuses: Sequence[StatusReport] = ()
    command_acks: Sequence[CommandAck] = ()
    ota_statuses: Sequence[OtaStatus] = ()
    quarantined: Sequence[QuarantineNotice] = ()
    # device id -> latest receive time in the batch (the "last seen" of each device)
    seen_ms: dict[str, int] | None = None

    def __bool__(self) -> bool:
        return bool(
            self.readings
            or self.hellos
            or self.statuses
            or self.command_acks
            or self.ota_statuses
            or self.quarantined
        )


OnCommitted = Callable[[Committed], None]


def fan_out(*listeners: OnCommitted | None) -> OnCommitted | None:
    """One listener that tells each of ``listeners`` in turn; None when there are none."""
    present = [listener for listener in listeners if listener is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]

    def tell_all(event: Committed) -> None:
        for listener in present:
            listener(event)

    return tell_all
