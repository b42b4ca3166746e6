"""The canonical protocol as an adapter: ``{prefix}/{device_id}/{kind}``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from wattline.model.messages import DOWNLINK, Interpreted
from wattline.protocols import canonical_messages
from wattline.protocols.adapters.base import Payload, PrefixedAdapter
from wattline.protocols.canonical_fast import fast_telemetry
from wattline.protocols.codec import names_cbor
from wattline.protocols.topics import levels_under, topic_filter
from wattline.protocols.validation import Limits, check_device_id

# Many firmwares send a bare word as their last will ("offline"), not JSON.
_BARE_STATES = frozenset(("online", "offline", "unknown"))

# (prefix, topic) -> (device id, kind) of the uplink topics that passed. A fleet
# sends on a few topics per device, message after message: splitting, matching
# and checking the device id each time was 6-8 % of a busy collector's GIL time.
# Emptied when full, so a stream of random topics cannot grow it past ~4 MB.
_KNOWN_TOPICS: dict[tuple[str, str], tuple[str, str]] = {}
_KNOWN_TOPICS_MAX = 20_000


@dataclass(frozen=True, slots=True)
class CanonicalAdapter(PrefixedAdapter):
    name: ClassVar[str] = "canonical"
    prefix: str = "iot"

    def subscriptions(self) -> list[str]:
        # Everything under the prefix is Wattline's own protocol, so a topic no
        # rule claims there is a device's mistake, quarantined as unknown_topic
        # rather than never delivered. Without a prefix that would be the whole broker.
        if self.prefix:
            return [topic_filter(self.prefix, "#")]
        return self.topic_patterns()

    def topic_patterns(self) -> list[str]:
        return [topic_filter(self.prefix, "+", *levels) for levels in canonical_messages.KINDS]

    def parse(
        self, topic: str, payload: Payload, received_ms: int, limits: Limits
    ) -> Interpreted | None:
        known = _KNOWN_TOPICS.get((self.prefix, topic))
        if known is None:
            matched = canonical_messages.match_topic(topic, self.prefix)
            if matched is None:
                return _downlink(topic, self.prefix)
            known = check_device_id(matched[0]), matched[1]
            if len(_KNOWN_TOPICS) >= _KNOWN_TOPICS_MAX:
                _KNOWN_TOPICS.clear()
            _KNOWN_TOPICS[(self.prefix, topic)] = known
        device_id, kind = known
        if kind == "telemetry" and not names_cbor(payload.content_type):
            readings = fast_telemetry(device_id, payload.raw, received_ms, limits)
            if readings is not None:
                return Interpreted(device_id, readings=readings, kind=kind)
        return canonical_messages.parse_message(
            device_id, kind, _decode(kind, payload), received_ms, limits
        )


def _downlink(topic: str, prefix: str) -> Interpreted | None:
    levels = levels_under(topic, prefix)
    if levels is None or len(levels) < 2 or tuple(levels[1:]) not in canonical_messages.DOWNLINKS:
        return None
    return Interpreted(check_device_id(levels[0]), kind=DOWNLINK)


def _decode(kind: str, payload: Payload) -> Any:
    if kind == "status":
        word = payload.word()
        if word in _BARE_STATES:
            return word
    return payload.decode()
