"""JSON logs keep one field set, so log pipelines can rely on it."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import pytest

from wattline.observability.logging import configure_logging

FIELDS = {"event", "level", "logger", "timestamp"}


@pytest.fixture
def json_logs() -> Iterator[Callable[[], logging.Logger]]:
    """Configures JSON logs when called: inside the test, so the handler writes to
    the stream capsys reads then; the root logger is restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    def configure() -> logging.Logger:
        configure_logging("INFO", json_logs=True)
        return logging.getLogger("wattline.test")

    yield configure
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]


def test_every_line_has_the_same_fields(
    json_logs: Callable[[], logging.Logger], capsys: pytest.CaptureFixture[str]
) -> None:
    log = json_logs()
    log.info("collector connected to %s", "mqtt://127.0.0.1:1883")
    log.warning("store unavailable, will retry: %s", "connection refused")
    records = lines(capsys)
    assert [set(r) for r in records] == [FIELDS, FIELDS]
    assert records[0]["event"] == "collector connected to mqtt://127.0.0.1:1883"
    assert (records[1]["level"], records[1]["logger"]) == ("warning", "wattline.test")
    assert str(records[0]["timestamp"]).endswith("Z")


def test_an_exception_adds_its_stack_as_text(
    json_logs: Callable[[], logging.Logger], capsys: pytest.CaptureFixture[str]
) -> None:
    log = json_logs()
    try:
        _ = 1 / 0
    except ZeroDivisionError:
        log.exception("collector stopped on %s", "iot/plug-1/telemetry")
    [record] = lines(capsys)
    assert set(record) == {*FIELDS, "exception"}
    assert "ZeroDivisionError: division by zero" in str(record["exception"])
    assert "traceback object at" not in str(record["exception"])
