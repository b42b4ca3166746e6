"""``wattline archive read|stats`` against the folder and the S3 archive."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from tests.integration.archive.conftest import T0, S3Server, record
from typer.testing import CliRunner

from wattline.archive.base import ArchiveRecord
from wattline.cli.main import app
from wattline.config import Settings
from wattline.runtime.backends import open_archive

ODD = ArchiveRecord(
    T0 + 61 * 60_000, "iot/d1/telemetry", b'{"a":\n1}\x1b[2J\xff', "accepted", "telemetry"
)
REJECTED = ArchiveRecord(T0 + 62 * 60_000, "junk/topic", b"not json", "malformed", "rejected")


@pytest.fixture(params=["folder", "s3"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The environment a user would set, with an archive written through the factory."""
    variables = {"WATTLINE_DATA_DIR": str(tmp_path)}
    if request.param == "s3":
        server: S3Server = request.getfixturevalue("s3_server")
        variables["WATTLINE_ARCHIVE_URL"] = f"s3://{request.getfixturevalue('bucket')}/raw"
        variables["WATTLINE_S3_ENDPOINT_URL"] = server.endpoint_url
    archive = open_archive(
        Settings(
            data_dir=tmp_path,
            archive_url=variables.get("WATTLINE_ARCHIVE_URL"),
            s3_endpoint_url=variables.get("WATTLINE_S3_ENDPOINT_URL"),
        )
    )
    archive.append([record(i) for i in range(3)] + [ODD, REJECTED])
    archive.close()
    return variables


def run(env: dict[str, str], *args: str) -> list[str]:
    result = CliRunner().invoke(app, ["archive", *args], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def test_read_prints_one_line_per_message_in_archive_order(env: dict[str, str]) -> None:
    lines = run(env, "read")
    assert [line.split("\t") for line in lines] == [
        ["2025-11-25T09:02:00.000Z", "malformed", "junk/topic", "not json"],
        *(
            [f"2025-11-25T08:0{i}:00.000Z", "accepted", f"iot/d{i}/telemetry", payload]
            for i, payload in enumerate(
                f'{{"seq": {i}, "raw": "\\x0{i}\\x00\ufffd"}}' for i in range(3)
            )
        ),
        # A device can neither break the one-line format nor drive the terminal.
        [
            "2025-11-25T09:01:00.000Z",
            "accepted",
            "iot/d1/telemetry",
            r'{"a":\n1}\x1b[2J' + "\ufffd",
        ],
    ]


def test_raw_prints_the_payload_byte_for_byte_as_base64(env: dict[str, str]) -> None:
    lines = run(env, "read", "--raw", "--category", "telemetry")
    payloads = [base64.b64decode(line.split("\t")[3]) for line in lines]
    assert payloads == [record(i).payload for i in range(3)] + [ODD.payload]


def test_filters_by_category_time_and_topic(env: dict[str, str]) -> None:
    since_until = ["--since", "2025-11-25T08:01:00Z", "--until", "2025-11-25T09:01:00"]
    assert [line.split("\t")[2] for line in run(env, "read", *since_until)] == [
        "iot/d1/telemetry",
        "iot/d2/telemetry",
    ]
    assert [line.split("\t")[0] for line in run(env, "read", "--topic-contains", "d1/")] == [
        "2025-11-25T08:01:00.000Z",
        "2025-11-25T09:01:00.000Z",
    ]
    assert len(run(env, "read", "--category", "rejected")) == 1
    assert run(env, "read", "--category", "hello") == []


def test_stats_counts_segments_messages_and_bytes(env: dict[str, str]) -> None:
    header, *rows = run(env, "stats")
    assert header.split() == ["category", "segments", "messages", "bytes"]
    table = {row.split()[0]: [int(cell) for cell in row.split()[1:]] for row in rows}
    assert table.keys() == {"rejected", "telemetry"}
    assert table["rejected"][:2] == [1, 1]
    assert table["telemetry"][:2] == [2, 4]  # one segment per hour
    assert all(size > 0 for _, _, size in table.values())


def test_bad_input_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["archive", "read", "--since", "yesterday"])
    assert result.exit_code == 2
    assert "--since 'yesterday' is not an ISO time" in result.stderr
    result = runner.invoke(
        app, ["archive", "read", "--data-dir", str(tmp_path), "--archive-url", "ftp://x/y"]
    )
    assert result.exit_code == 2
    assert "unsupported WATTLINE_ARCHIVE_URL" in result.stderr
