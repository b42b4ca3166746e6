"""Wattline's metrics as Prometheus sees them: promtool's lint, the alerting
rules' own tests, and a real Prometheus server scraping a running `wattline up`."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import free_port, unavailable
from tests.e2e.conftest import RunningWattline, start_wattline, wait_until

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "deploy" / "prometheus"


def tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/bin")
    if path is None:
        unavailable(f"{name} is not installed (scripts/install-test-deps.sh installs prometheus)")
    assert path is not None
    return path


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("promtool"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=RULES,
    )


def test_alerting_rules_are_valid_and_pass_their_tests() -> None:
    checked = promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", "alerts.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningWattline]:
    w = start_wattline(tmp_path, "--demo", "--sim-interval-s", "0.5")
    yield w
    w.stop()


def test_a_real_prometheus_scrapes_a_running_wattline(
    running: RunningWattline, tmp_path: Path
) -> None:
    w = running
    wait_until(
        lambda: "wattline_ingest_batch_messages_count" in w.client.get("/metrics").text,
        30,
        "a first committed batch",
    )
    exposition = w.client.get("/metrics").text
    lint = promtool("check", "metrics", stdin=exposition)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    for family in (
        "wattline_http_requests_total",
        "wattline_http_request_duration_seconds_bucket",
        "wattline_ingest_messages_total",
        "wattline_ingest_commit_seconds_bucket",
        "wattline_ingest_queued_messages",
        "wattline_ingest_broker_connected",
        "process_resident_memory_bytes",
        "process_open_fds",
        "wattline_build_info",
    ):
        assert family in exposition, family

    port = free_port()
    target = w.api_url.removeprefix("http://")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n"
        f"rule_files: ['{RULES / 'alerts.yml'}']\n"
        "scrape_configs:\n"
        f"  - job_name: wattline\n    static_configs:\n      - targets: ['{target}']\n"
    )
    server = subprocess.Popen(
        [
            tool("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def scraped(query: str) -> list[dict[str, object]]:
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{port}/api/v1/query", params={"query": query}, timeout=2
                ).json()
            except (httpx.HTTPError, ValueError):
                return []
            result: list[dict[str, object]] = answer.get("data", {}).get("result", [])
            return result

        wait_until(lambda: scraped('up{job="wattline"} == 1'), 60, "Prometheus to scrape Wattline")
        wait_until(
            lambda: scraped("sum(wattline_ingest_messages_total) > 0"),
            30,
            "the demo fleet's messages in Prometheus",
        )
        [connected] = scraped("wattline_ingest_broker_connected")
        assert connected["value"][1] == "1"  # type: ignore[index]
        rules = httpx.get(f"http://127.0.0.1:{port}/api/v1/rules", timeout=5).json()
        names = {r["name"] for g in rules["data"]["groups"] for r in g["rules"]}
        assert {"WattlineDown", "WattlineIngestStalled"} <= names
    finally:
        server.terminate()
        server.wait(10)
