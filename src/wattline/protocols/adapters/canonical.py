"""The canonical protocol as an adapter: ``{prefix}/{device_id}/{kind}``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from wattline.model.messages import Interpreted
from wattline.protocols import canonical
from wattline.protocols.adapters.base import Payload, PrefixedAdapter
from wattline.protocols.topics import topic_filter
from wattline.protocols.validation import Limits, check_device_id

# Many firmwares send a bare word as their last will ("offline"), not JSON.
_BARE_STATES = frozenset(("online", "offline", "unknown"))


@dataclass(frozen=True, slots=True)
class CanonicalAdapter(PrefixedAdapter):
    name: ClassVar[str] = "canonical"
    prefix: str = "iot"

    def subscriptions(self) -> list[str]:
        return [topic_filter(self.prefix, "+", *levels) for levels in canonical.KINDS]

    def parse(
        self, topic: str, payload: Payload, received_ms: int, limits: Limits
    ) -> Interpreted | None:
        matched = canonical.match_topic(topic, self.prefix)
        if matched is None:
            return None
        device_id, kind = check_device_id(matched[0]), matched[1]
        return canonical.parse_message(device_id, kind, _decode(kind, payload), received_ms, limits)


def _decode(kind: str, payload: Payload) -> Any:
    if kind == "status":
        word = payload.word()
        if word in _BARE_STATES:
            return word
    return payload.decode()
