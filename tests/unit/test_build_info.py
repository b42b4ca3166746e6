"""`wattline version` and `wattline_build_info`: the build and its backends, no secrets."""

from __future__ import annotations

import platform
import re
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from typer.testing import CliRunner

import wattline
from wattline.build import build_commit
from wattline.cli.main import app
from wattline.config import Settings
from wattline.runtime.services import process_registry


def version_lines(env: dict[str, str]) -> dict[str, str]:
    result = CliRunner().invoke(app, ["version"], env=env)
    assert result.exit_code == 0, result.output
    # name and value are apart by two spaces or more; a name may hold one ("rate limits")
    return dict(re.split(r"\s{2,}", line, maxsplit=1) for line in result.stdout.splitlines())


def test_version_names_the_build_python_and_the_default_backends(tmp_path: Path) -> None:
    lines = version_lines({"WATTLINE_DATA_DIR": str(tmp_path)})
    assert lines["version"] == wattline.__version__
    assert lines["build"] == build_commit()
    assert lines["python"].startswith(platform.python_version())
    assert lines["database"] == f"sqlite ({tmp_path / 'wattline.db'})"
    assert lines["archive"] == f"folder ({tmp_path / 'archive'})"
    assert lines["broker"] == "embedded (auto)"
    assert lines["tracing"] == "off"


def test_version_shows_external_backends_without_their_passwords() -> None:
    lines = version_lines(
        {
            "WATTLINE_DATABASE_URL": "postgresql://wattline:s3cret@db:5432/wattline",
            "WATTLINE_MQTT_URL": "mqtt://collector:hunter2@broker:1883",
            "WATTLINE_ARCHIVE_URL": "s3://bucket/prefix",
            "WATTLINE_REDIS_URL": "redis://redis:6379/0",
            "WATTLINE_OTLP_ENDPOINT": "http://otel:4318",
        }
    )
    assert lines["database"] == "postgresql (postgresql://wattline:***@db:5432/wattline)"
    assert lines["broker"] == "external (mqtt://broker:1883)"
    assert lines["archive"] == "s3 (s3://bucket/prefix)"
    assert lines["rate limits"] == "redis"
    assert lines["tracing"] == "otlp (http://otel:4318)"
    assert "s3cret" not in str(lines)
    assert "hunter2" not in str(lines)


def test_version_short_is_the_number_alone() -> None:
    result = CliRunner().invoke(app, ["version", "--short"])
    assert result.stdout == wattline.__version__ + "\n"


def test_every_process_exports_its_build_as_a_metric(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATTLINE_DATABASE_URL", raising=False)
    registry = process_registry(Settings(mqtt_url="mqtt://broker:1883"), "collect")
    exposition = generate_latest(registry).decode()
    [line] = [x for x in exposition.splitlines() if x.startswith("wattline_build_info{")]
    assert f'version="{wattline.__version__}"' in line
    assert f'commit="{build_commit()}"' in line
    assert 'database="sqlite"' in line
    assert 'broker="external"' in line
    assert 'role="collect"' in line
    assert line.endswith(" 1.0")
