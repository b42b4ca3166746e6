"""HTTP ingest for devices that cannot speak MQTT (the smart-solar HTTP format).

A request body is one item or a list of items, each the smart-solar telemetry
item plus the device it came from::

    {"device_id": "inverter-7", "data_type": "power", "value": 4210.5,
     "timestamp": "2026-11-25T08:00:00Z"}

Items are grouped per device and each group goes through the same pipeline as
an MQTT message on ``{smartsolar prefix}/{device_id}/telemetry``: the same
validation, quarantine, archive and idempotent storage. The request returns
after the commit, so a 200 means the readings are durable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from wattline.ingest.committer import Committer
from wattline.ingest.plan import BatchPlan, add_rejected
from wattline.model.messages import InboundMessage, Rejection, RejectReason
from wattline.protocols.validation import DEVICE_ID_RE

# Where an HTTP body that cannot be split per device is quarantined.
HTTP_TOPIC = "http/api/v1/telemetry"
UNIDENTIFIED_DETAIL = (
    "sent over HTTP without a device token: register the device, give it an HTTP token"
    " (POST /api/v1/devices/{id}/credentials) and replay this message"
)


@dataclass(frozen=True, slots=True)
class HttpRejection:
    device_id: str | None
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class HttpIngestResult:
    accepted_messages: int = 0
    samples_stored: int = 0
    rejected: list[HttpRejection] = field(default_factory=list)


class ForeignDeviceError(Exception):
    """A device's token sent items for other devices: nothing of the body is taken."""

    def __init__(self, device_ids: list[str]) -> None:
        super().__init__(f"this token may send only its own device's items, not {device_ids}")
        self.device_ids = device_ids


class HttpIngest:
    def __init__(
        self,
        committer: Committer,
        smartsolar_prefix: str,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._committer = committer
        self._prefix = smartsolar_prefix
        self._clock_ms = clock_ms

    def ingest(self, body: bytes, only_device: str | None = None) -> HttpIngestResult:
        """``only_device``: the one device the caller may send for (a device's token);
        items of any other device refuse the whole body with ``ForeignDeviceError``."""
        received_ms = self._clock_ms()
        split = self._split(body)
        if only_device is not None and not isinstance(split, Rejection):
            foreign = sorted(device_id for device_id in split if device_id != only_device)
            if foreign:
                raise ForeignDeviceError(foreign)
        if isinstance(split, Rejection):
            # Kept like any rejected message: quarantined and archived, byte for byte.
            whole = InboundMessage(HTTP_TOPIC, body, received_ms, "application/json")
            self._committer.commit(self._committer.plan_rejection(whole, split))
            return HttpIngestResult(rejected=[HttpRejection(None, split.reason, split.detail)])
        messages = [
            InboundMessage(
                f"{self._prefix}/{device_id}/telemetry",
                orjson.dumps(group),
                received_ms,
                "application/json",
            )
            for device_id, group in split.items()
        ]
        plan = self._committer.plan(messages)
        result = self._committer.commit(plan)
        rejected = [
            HttpRejection(_device_of(q.topic, self._prefix), q.reason, q.detail)
            for q in plan.quarantined
        ]
        return HttpIngestResult(
            accepted_messages=len(messages) - len(rejected),
            samples_stored=result.samples_inserted + result.samples_corrected,
            rejected=rejected,
        )

    def quarantine_unidentified(self, body: bytes) -> HttpIngestResult:
        """A body sent without any credential (a smart-solar device as it was): each
        device's items are quarantined as ``unknown_device``, on the topic its MQTT
        messages use, so an admin who registers the device and gives it a token can
        replay them (docs/compatibility.md). Nothing is stored as a reading."""
        received_ms = self._clock_ms()
        split = self._split(body)
        plan = BatchPlan()
        if isinstance(split, Rejection):
            whole = InboundMessage(HTTP_TOPIC, body, received_ms, "application/json")
            add_rejected(plan, whole, split)
            self._committer.commit(plan)
            return HttpIngestResult(rejected=[HttpRejection(None, split.reason, split.detail)])
        unidentified = Rejection(RejectReason.UNKNOWN_DEVICE, UNIDENTIFIED_DETAIL)
        for device_id, group in split.items():
            topic = f"{self._prefix}/{device_id}/telemetry"
            message = InboundMessage(topic, orjson.dumps(group), received_ms, "application/json")
            add_rejected(plan, message, unidentified)
        self._committer.commit(plan)
        return HttpIngestResult(
            rejected=[
                HttpRejection(device_id, unidentified.reason, unidentified.detail)
                for device_id in split
            ]
        )

    def _split(self, body: bytes) -> dict[str, list[Any]] | Rejection:
        """The body's items grouped per device, or why it cannot be."""
        try:
            decoded = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return Rejection(RejectReason.UNDECODABLE, f"invalid JSON: {exc}")
        items = decoded if isinstance(decoded, list) else [decoded]
        if not items:
            return Rejection(RejectReason.BAD_SHAPE, "the body holds no items")
        groups: dict[str, list[Any]] = {}
        for index, item in enumerate(items):
            device_id = item.get("device_id") if isinstance(item, dict) else None
            if not isinstance(device_id, str) or not DEVICE_ID_RE.fullmatch(device_id):
                return Rejection(
                    RejectReason.BAD_DEVICE_ID,
                    f"item {index}: device_id must be a string matching [A-Za-z0-9_-]{{1,64}}",
                )
            groups.setdefault(device_id, []).append(
                {key: value for key, value in item.items() if key != "device_id"}
            )
        return groups


def _device_of(topic: str, prefix: str) -> str | None:
    rest = topic.removeprefix(prefix + "/")
    return rest.split("/", 1)[0] if rest != topic else None
