"""What a live-stream client may ask for: subscribe and unsubscribe messages, SSE filters.

Validated with limits, so a client cannot make the hub match against
unbounded lists: at most ``MAX_IDS`` entries per list and
``MAX_SUBSCRIPTIONS`` subscriptions per connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from wattline.live.catchup import MAX_DEVICES
from wattline.live.events import EventKind
from wattline.live.subscriptions import DEFAULT_KINDS, Subscription

MAX_IDS = 1_000
MAX_SUBSCRIPTIONS = 100
# A client message larger than this is refused (subscribe lists stay far below).
MAX_MESSAGE_CHARS = 64 * 1024

Name = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Names = Annotated[list[Name], Field(max_length=MAX_IDS)]
Kind = Literal["reading", "status", "alert"]
Instant = str | int
# `since` per device: a resuming client's own point for each device (live.catchup.MAX_DEVICES)
SinceByDevice = Annotated[dict[Name, Instant], Field(min_length=1, max_length=MAX_DEVICES)]


class ClientMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Subscribe(ClientMessage):
    type: Literal["subscribe"]
    # the client's name for the subscription, echoed in answers and unsubscribe
    id: Name = "default"
    devices: Names = []
    types: Names = []
    tags: Names = []
    metrics: Names = []
    # which events; unset: readings and status changes
    kinds: Annotated[list[Kind], Field(max_length=3)] = []
    # shorthand: alert changes too
    alerts: bool = False
    # readings and alert changes after this instant (ISO 8601 or epoch ms) are sent
    # first, from the store; or, per device, {device_id: instant}: each device's
    # readings after its own instant (alert changes after the earliest)
    since: Instant | SinceByDevice | None = None

    def subscription(self) -> Subscription:
        return make_subscription(
            self.devices, self.types, self.tags, self.metrics, self.kinds, alerts=self.alerts
        )


class Unsubscribe(ClientMessage):
    type: Literal["unsubscribe"]
    id: Name = "default"


class Auth(ClientMessage):
    type: Literal["auth"]
    token: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


def make_subscription(  # noqa: PLR0913 - the filter's dimensions
    devices: list[str],
    types: list[str],
    tags: list[str],
    metrics: list[str],
    kinds: Sequence[str],
    *,
    alerts: bool,
) -> Subscription:
    chosen = frozenset(EventKind(kind) for kind in kinds) or DEFAULT_KINDS
    if alerts:
        chosen |= {EventKind.ALERT}
    return Subscription(
        devices=frozenset(devices),
        types=frozenset(types),
        tags=frozenset(tags),
        metrics=frozenset(metrics),
        kinds=chosen,
    )


def split_names(text: str | None, name: str) -> list[str]:
    """A comma-separated query parameter; ValueError beyond the limits."""
    if text is None:
        return []
    names = [part.strip() for part in text.split(",") if part.strip()]
    if len(names) > MAX_IDS:
        raise ValueError(f"{name} lists {len(names)} names; at most {MAX_IDS}")
    long = next((n for n in names if len(n) > 128), None)
    if long is not None:
        raise ValueError(f"{name}: names are at most 128 characters")
    return names
