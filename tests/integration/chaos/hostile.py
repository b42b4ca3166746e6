"""Deterministic hostile MQTT messages: each one is checked to be rejected before it is sent.

Every generator returns (topic, payload) for the canonical protocol under a
prefix. Topics stay valid MQTT topic names (UTF-8, no wildcards, no NUL, no
control characters): Mosquitto drops a publisher's connection over an invalid
one, which would test the broker, not Wattline.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence

import cbor2
from tests.integration.chaos.publisher import Outgoing

from wattline.ingest.interpret import DEFAULT_MAX_PAYLOAD_BYTES, InterpretConfig, interpret
from wattline.model.messages import InboundMessage, Rejection

# Timestamps inside hostile payloads are fixed, so the set is the same on every run.
T0_MS = 1_764_057_600_000  # 2025-11-25T08:00:00Z
MIB = 1024 * 1024
# The handful of 1 MiB payloads (16 times the collector's limit), and a few
# just over it; few, so the run stays fast and the broker's memory small.
HUGE_PAYLOADS = 5
OVER_LIMIT_PAYLOADS = 20
# A year the collector's clock will not reach soon, yet before the 2100 bound.
FAR_FUTURE_MS = 4_070_908_800_000  # 2099-01-01
KINDS = ("telemetry", "hello", "status", "command/ack", "ota/status")
BAD_DEVICE_IDS = (
    "",
    "has space",
    "dot.ted",
    "x" * 65,
    "ünïcödé",
    "emoji-\U0001f600",
    "semi;colon",
    "$sys",
    "quote'd",
    "tab\u00a0nbsp",
)
BAD_METRIC_NAMES = ("", "1abc", "a b", "x" * 65, "ü", "$x", "a-b", "_lead")
HUGE_NUMBERS = ("1e400", "-1e400", "1e16", "-2e15", "9" * 400, "1" + "0" * 5000, "1e308")
NON_FINITE_LITERALS = ("NaN", "Infinity", "-Infinity", "nan", "inf")
WRONG_VALUES = ('"12"', "true", "null", "[1]", '{"v": 1}', '""')
WRONG_TS = ("true", "[1]", "{}", '"yesterday"', '"2025-11-25T08:00:00"', "null", "1.5e300")
WRONG_SEQ = ('"1"', "-1", "1.5", "true", "[0]", str(2**64))


def _reading_json(ts: str = str(T0_MS), seq: str = "1", metrics: str = '{"power_w": 1.0}') -> bytes:
    return f'{{"seq": {seq}, "ts": {ts}, "metrics": {metrics}}}'.encode()


def _telemetry(prefix: str, device: str) -> str:
    return f"{prefix}/{device}/telemetry"


class HostileFleet:
    """Hostile messages addressed at the valid devices and at made-up ones."""

    def __init__(self, prefix: str, devices: Sequence[str], seed: int) -> None:
        self.prefix = prefix
        self.devices = list(devices)
        self.rng = random.Random(seed)
        self.config = InterpretConfig(topic_prefix=prefix)

    def device(self) -> str:
        # Half aimed at devices with a valid stream, so rejects sit beside accepted readings.
        if self.rng.random() < 0.5:
            return self.rng.choice(self.devices)
        return f"h{self.rng.randrange(1000):03d}"

    def generate(self, count: int) -> tuple[list[Outgoing], Counter[str]]:
        """`count` messages, each rejected by interpret(); and the reasons expected."""
        generators = self._generators()
        messages: list[Outgoing] = []
        reasons: Counter[str] = Counter()
        for index in range(count):
            if index < HUGE_PAYLOADS:
                make = self._huge
            elif index < HUGE_PAYLOADS + OVER_LIMIT_PAYLOADS:
                make = self._over_limit
            else:
                make = self.rng.choice(generators)
            while True:
                topic, payload = make()
                outcome = interpret(
                    InboundMessage(topic, payload, time.time_ns() // 1_000_000), self.config
                )
                if isinstance(outcome, Rejection):
                    break
                # Fuzzing can produce something valid by chance: draw again.
                make = self.rng.choice(generators)
            messages.append(Outgoing(topic, payload))
            reasons[outcome.reason.value] += 1
        order = list(range(count))
        self.rng.shuffle(order)
        return [messages[i] for i in order], reasons

    def _generators(self) -> list[Callable[[], tuple[str, bytes]]]:
        return [
            self._fuzzed_bytes,
            self._mutated_json,
            self._huge_number,
            self._non_finite_literal,
            self._non_finite_cbor,
            self._deep_nesting,
            self._wrong_value_type,
            self._wrong_timestamp,
            self._wrong_seq,
            self._wrong_shape,
            self._bad_metric_name,
            self._out_of_range_time,
            self._invalid_utf8,
            self._bad_device_id,
            self._bad_other_kind,
        ]

    # -- the generators ---------------------------------------------------------

    def _huge(self) -> tuple[str, bytes]:
        """1 MiB that starts like a valid reading."""
        head = _reading_json()[:-1] + b', "pad": "'
        return _telemetry(self.prefix, self.device()), head + b"x" * (MIB - len(head) - 2) + b'"}'

    def _fuzzed_bytes(self) -> tuple[str, bytes]:
        kind = self.rng.choice(KINDS)
        payload = self.rng.randbytes(self.rng.randrange(0, 300))
        return f"{self.prefix}/{self.device()}/{kind}", payload

    def _mutated_json(self) -> tuple[str, bytes]:
        payload = bytearray(_reading_json(seq=str(self.rng.randrange(10**6))))
        for _ in range(self.rng.randrange(1, 6)):
            position = self.rng.randrange(len(payload))
            action = self.rng.randrange(3)
            if action == 0:
                payload[position] = self.rng.randrange(256)
            elif action == 1:
                del payload[position]
            else:
                payload.insert(position, self.rng.randrange(256))
        if self.rng.random() < 0.3:
            payload = payload[: self.rng.randrange(len(payload))]
        return _telemetry(self.prefix, self.device()), bytes(payload)

    def _huge_number(self) -> tuple[str, bytes]:
        number = self.rng.choice(HUGE_NUMBERS)
        return _telemetry(self.prefix, self.device()), _reading_json(metrics=f'{{"p": {number}}}')

    def _non_finite_literal(self) -> tuple[str, bytes]:
        literal = self.rng.choice(NON_FINITE_LITERALS)
        where = self.rng.randrange(3)
        payload = (
            _reading_json(metrics=f'{{"p": {literal}}}'),
            _reading_json(ts=literal),
            _reading_json(seq=literal),
        )[where]
        return _telemetry(self.prefix, self.device()), payload

    def _non_finite_cbor(self) -> tuple[str, bytes]:
        value = self.rng.choice((math.nan, math.inf, -math.inf, 1e300))
        body = {"seq": 1, "ts": T0_MS, "metrics": {"power_w": value}}
        return _telemetry(self.prefix, self.device()), cbor2.dumps(body)

    def _deep_nesting(self) -> tuple[str, bytes]:
        depth = self.rng.choice((1_100, 3_000, 20_000))
        style = self.rng.randrange(3)
        if style == 0:
            payload = b"[" * depth + b"]" * depth
        elif style == 1:
            payload = b'{"a":' * depth + b"1" + b"}" * depth
        else:
            payload = b"\x81" * depth + b"\x01"  # CBOR: arrays of one element
        return _telemetry(self.prefix, self.device()), payload

    def _wrong_value_type(self) -> tuple[str, bytes]:
        value = self.rng.choice(WRONG_VALUES)
        return _telemetry(self.prefix, self.device()), _reading_json(metrics=f'{{"p": {value}}}')

    def _wrong_timestamp(self) -> tuple[str, bytes]:
        payload = (
            b'{"seq": 1, "metrics": {"p": 1}}'
            if self.rng.random() < 0.2
            else _reading_json(ts=self.rng.choice(WRONG_TS))
        )
        return _telemetry(self.prefix, self.device()), payload

    def _wrong_seq(self) -> tuple[str, bytes]:
        return _telemetry(self.prefix, self.device()), _reading_json(seq=self.rng.choice(WRONG_SEQ))

    def _wrong_shape(self) -> tuple[str, bytes]:
        many = "[" + ",".join(_reading_json(ts=str(T0_MS + i)).decode() for i in range(1001)) + "]"
        repeated = "[" + ",".join([_reading_json().decode()] * 2) + "]"
        too_many_metrics = json.dumps({f"m{i}": 1 for i in range(129)})
        payload = self.rng.choice(
            (
                "[]",
                "{}",
                "42",
                '"text"',
                "null",
                "true",
                many,
                repeated,
                _reading_json(metrics="[1, 2]").decode(),
                _reading_json(metrics="{}").decode(),
                _reading_json(metrics="null").decode(),
                _reading_json(metrics=too_many_metrics).decode(),
                "[1, 2, 3]",
            )
        )
        return _telemetry(self.prefix, self.device()), payload.encode()

    def _bad_metric_name(self) -> tuple[str, bytes]:
        name = json.dumps(self.rng.choice(BAD_METRIC_NAMES))
        return _telemetry(self.prefix, self.device()), _reading_json(metrics=f"{{{name}: 1}}")

    def _out_of_range_time(self) -> tuple[str, bytes]:
        ts = self.rng.choice(
            (
                FAR_FUTURE_MS,  # beyond the 5 min skew allowed
                T0_MS // 1000,  # epoch seconds where milliseconds belong
                4_102_444_800_000,  # 2100
                -1,
            )
        )
        return _telemetry(self.prefix, self.device()), _reading_json(ts=str(ts))

    def _over_limit(self) -> tuple[str, bytes]:
        size = DEFAULT_MAX_PAYLOAD_BYTES + self.rng.randrange(1, 4096)
        return _telemetry(self.prefix, self.device()), b" " * size + _reading_json()

    def _invalid_utf8(self) -> tuple[str, bytes]:
        bad = self.rng.choice((b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"))
        payload = self.rng.choice(
            (
                b'{"seq": 1, "ts": ' + str(T0_MS).encode() + b', "metrics": {"' + bad + b'": 1}}',
                b'{"seq": 1, "ts": "' + bad + b'", "metrics": {"p": 1}}',
                bad + _reading_json(),
            )
        )
        return _telemetry(self.prefix, self.device()), payload

    def _bad_device_id(self) -> tuple[str, bytes]:
        device = self.rng.choice(BAD_DEVICE_IDS)
        kind = self.rng.choice(KINDS)
        return f"{self.prefix}/{device}/{kind}", _reading_json()

    def _bad_other_kind(self) -> tuple[str, bytes]:
        device = self.device()
        topic, payload = self.rng.choice(
            (
                ("hello", b"[]"),
                ("hello", b'{"capabilities": "relay"}'),
                ("hello", b'{"type": 42}'),
                ("status", b"rebooting"),
                ("status", b'{"state": "sleeping"}'),
                ("status", b"{}"),
                ("command/ack", b'{"status": "ok"}'),
                ("command/ack", b'{"command_id": "c1", "status": "maybe"}'),
                ("ota/status", b'{"job_id": "j1", "state": "downloading", "progress_pct": 150}'),
                ("ota/status", b'{"state": "done"}'),
            )
        )
        return f"{self.prefix}/{device}/{topic}", payload
