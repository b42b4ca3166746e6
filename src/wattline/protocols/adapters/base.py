"""The adapter interface: one device wire format mapped onto Wattline's message model.

An adapter is pure: a topic and a payload in, an `Interpreted` out (or None when
the topic is not its own). It raises `ProtocolError` for a malformed message
on one of its topics, so the message is quarantined with a reason.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol, Self

from msgspec import Struct

from wattline.model.messages import (
    ConnectionState,
    Interpreted,
    Reading,
    RejectReason,
    StatusReport,
)
from wattline.protocols.codec import decode_payload
from wattline.protocols.errors import ProtocolError, preview
from wattline.protocols.topics import check_prefix, levels_under, topic_filter
from wattline.protocols.validation import (
    Limits,
    check_device_id,
    check_not_future,
    kind_name,
    parse_value,
)

# Longest bare word accepted as a payload ("offline", "Online"); anything longer
# is decoded as JSON or CBOR.
MAX_WORD_BYTES = 16


class Payload(Struct, frozen=True):
    """The undecoded bytes of one message.

    Decoding is left to the adapter that claims the topic, because only it knows
    whether a bare word such as ``Offline`` is valid there or an error.
    """

    raw: bytes
    content_type: str | None = None

    def decode(self) -> Any:
        """JSON or CBOR (a bare number is valid JSON); raises ProtocolError(UNDECODABLE)."""
        return decode_payload(self.raw, self.content_type)

    def word_or_decode(self, words: Collection[str]) -> Any:
        """One of `words` (any letter case) sent bare, else the decoded payload.

        A bare word that is not in `words` and does not decode either is
        returned as text, so the caller can say what is wrong with it.
        """
        word = self.word()
        if word is not None and word.lower() in words:
            return word
        try:
            return self.decode()
        except ProtocolError:
            if word is None:
                raise
            return word

    def word(self) -> str | None:
        """The payload as one bare ASCII word, else None."""
        stripped = self.raw.strip()
        if 0 < len(stripped) <= MAX_WORD_BYTES and stripped.isalpha():
            return stripped.decode("ascii")
        return None


class PrefixedAdapter:
    """What every adapter does with its configurable topic prefix.

    Adapters are frozen slotted dataclasses declaring ``prefix: str = "..."``;
    this base checks the prefix once and makes the reconfigured copy.
    """

    __slots__ = ()
    prefix: str

    def __post_init__(self) -> None:
        check_prefix(self.prefix)

    def with_prefix(self, prefix: str) -> Self:
        return replace(self, prefix=prefix)  # type: ignore[type-var]  # subclasses are dataclasses

    def topic_patterns(self) -> list[str]:
        """The topics this format reads, for error messages: its subscriptions, unless wider."""
        subscriptions: Callable[[], list[str]] = getattr(self, "subscriptions")  # noqa: B009
        return subscriptions()

    def per_device_filters(self, kinds: Sequence[str]) -> list[str]:
        """Subscriptions for topics shaped ``{prefix}/{device}/{kind}``."""
        return [topic_filter(self.prefix, "+", kind) for kind in kinds]

    def device_and_kind(self, topic: str, kinds: Collection[str]) -> tuple[str, str] | None:
        """(device id, kind) of a ``{prefix}/{device}/{kind}`` topic; None if not one of ours.

        Raises ProtocolError for a device id that breaks the rules.
        """
        levels = levels_under(topic, self.prefix)
        if levels is None or len(levels) != 2 or levels[1] not in kinds:
            return None
        return check_device_id(levels[0]), levels[1]


class Adapter(Protocol):
    """One wire format. Implementations are frozen dataclasses with a `prefix` field."""

    @property
    def name(self) -> str:
        """The name used in the ``adapters`` setting."""
        ...

    @property
    def prefix(self) -> str:
        """The configurable first topic levels ('' where the format has none)."""
        ...

    def with_prefix(self, prefix: str) -> Self:
        """The same adapter under another topic prefix."""
        ...

    def subscriptions(self) -> list[str]:
        """MQTT topic filters that deliver this format's device -> platform messages."""
        ...

    def topic_patterns(self) -> list[str]:
        """The topics this format reads, named in the detail of an unknown_topic rejection."""
        ...

    def parse(
        self, topic: str, payload: Payload, received_ms: int, limits: Limits
    ) -> Interpreted | None:
        """The message as domain objects; None when the topic is not this adapter's."""
        ...


def require_object(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ProtocolError(
            RejectReason.BAD_SHAPE, f"{what} must be an object, not {kind_name(body)}"
        )
    return body


def mapped_metrics(body: Mapping[str, Any], fields: Mapping[str, str]) -> dict[str, float]:
    """Values of the device's fields present in `body`, renamed to Wattline metric names.

    Absent fields are skipped (devices differ in what they measure); a present
    field must hold a valid number. Errors name the device's field.
    """
    return {
        metric: parse_value(source, body[source])
        for source, metric in fields.items()
        if source in body
    }


def telemetry(reading: Reading, received_ms: int, limits: Limits, *, expected: str) -> Interpreted:
    """One reading, checked against the same future-skew limit as the canonical protocol."""
    if not reading.metrics:
        raise ProtocolError(RejectReason.BAD_SHAPE, f"no metrics found: expected {expected}")
    check_not_future(reading.ts_ms, received_ms, limits)
    return Interpreted(reading.device_id, readings=(reading,), kind="telemetry")


STATE_WORDS = frozenset(state.value for state in ConnectionState)


def connection_status(device_id: str, value: Any, received_ms: int) -> Interpreted:
    """``online``/``offline``/``unknown`` in any letter case, stamped with the arrival time."""
    if isinstance(value, str):
        try:
            state = ConnectionState(value.strip().lower())
        except ValueError:
            pass
        else:
            report = StatusReport(device_id=device_id, state=state, ts_ms=received_ms)
            return Interpreted(device_id, status=report, kind="status")
    raise ProtocolError(
        RejectReason.BAD_SHAPE, f"status must be 'online' or 'offline', not {preview(value)!r}"
    )
