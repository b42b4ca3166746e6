"""Every example payload in docs/protocols.md decodes and is accepted."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from wattline.ingest.interpret import InterpretConfig, interpret
from wattline.model.messages import InboundMessage, Interpreted

DOC = Path(__file__).parents[3] / "docs" / "protocols.md"
EXAMPLE = re.compile(r"<!-- example topic=(\S+) -->\n```\w*\n(.*?)```", re.DOTALL)
EXAMPLES = EXAMPLE.findall(DOC.read_text())


def test_the_reference_has_examples() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize(("topic", "payload"), EXAMPLES, ids=[t for t, _ in EXAMPLES])
def test_documented_example_is_accepted(topic: str, payload: str) -> None:
    message = InboundMessage(topic, payload.encode(), received_ms=time.time_ns() // 1_000_000)
    outcome = interpret(message, InterpretConfig())
    assert isinstance(outcome, Interpreted), outcome
