"""Every example payload in docs/protocols.md decodes and is accepted."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from wattline.ingest.interpret import InterpretConfig, interpret
from wattline.model.messages import InboundMessage, Interpreted
from wattline.protocols.adapters import ADAPTERS, build_adapters

DOC = Path(__file__).parents[3] / "docs" / "protocols.md"
EXAMPLE = re.compile(r"<!-- example topic=(.+?) -->\n```\w*\n(.*?)```", re.DOTALL)
EXAMPLES = EXAMPLE.findall(DOC.read_text())
# Every adapter under its default prefix, as the reference describes them.
CONFIG = InterpretConfig(adapters=build_adapters(list(ADAPTERS)))


def test_the_reference_has_examples() -> None:
    assert len(EXAMPLES) >= 5


def test_every_adapter_has_an_example() -> None:
    routed = {
        adapter.name
        for topic, payload in EXAMPLES
        for adapter in CONFIG.adapters
        if _parses(adapter.name, topic, payload)
    }
    assert routed == set(ADAPTERS)


def _parses(name: str, topic: str, payload: str) -> bool:
    config = InterpretConfig(adapters=build_adapters([name]))
    return isinstance(interpret(_message(topic, payload), config), Interpreted)


def _message(topic: str, payload: str) -> InboundMessage:
    return InboundMessage(topic, payload.encode(), received_ms=time.time_ns() // 1_000_000)


@pytest.mark.parametrize(("topic", "payload"), EXAMPLES, ids=[t for t, _ in EXAMPLES])
def test_documented_example_is_accepted(topic: str, payload: str) -> None:
    outcome = interpret(_message(topic, payload), CONFIG)
    assert isinstance(outcome, Interpreted), outcome
