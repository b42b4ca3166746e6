"""Wattline as a user installs it: a wheel, in a fresh virtual environment, outside
this repository; `wattline up --demo` runs from it (migrations, docs assets and
the broker configuration come from the package, not from the source tree)."""

from __future__ import annotations

import os
import signal
import site
import subprocess
import sys
import venv
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.e2e.conftest import wait_until

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_installs_and_runs_the_demo_outside_the_repository(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    [wheel] = dist.glob("wattline-*.whl")

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    # The dependencies come from this test run's environment (the machine has no
    # internet beyond the registries, and they are not under test); the .pth adds
    # their directory without its own .pth files, so the repository's editable
    # install of wattline is not on the path: only the wheel is.
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(purelib, "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            purelib,
            str(wheel),
        ],
        check=True,
        timeout=300,
        capture_output=True,
    )
    where = subprocess.run(
        [str(python), "-c", "import wattline; print(wattline.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    ).stdout.strip()
    assert where.startswith(purelib), where
    # the build's commit travels in the wheel (hatch_build.py)
    shown = subprocess.run(
        [str(python), "-m", "wattline", "version"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    ).stdout
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    assert f"build        {head or 'unknown'}\n" in shown, shown

    home = tmp_path / "elsewhere"
    home.mkdir()
    http_port, mqtt_port = free_port(), free_port()
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith(("WATTLINE_", "PYTHON"))}
    log = tmp_path / "wattline.stderr"
    with log.open("wb") as stderr:
        proc = subprocess.Popen(
            [
                str(python),
                "-m",
                "wattline",
                "up",
                "--demo",
                "--http-port",
                str(http_port),
                "--mqtt-port",
                str(mqtt_port),
                "--sim-interval-s",
                "0.5",
            ],
            cwd=home,
            env=clean_env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        token = home / "wattline-data" / "admin-token"

        def devices_reporting() -> bool:
            if proc.poll() is not None:
                pytest.fail(
                    f"wattline up exited: {proc.stderr.read().decode() if proc.stderr else ''}"
                )
            if not token.exists():
                return False
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{http_port}/api/v1/devices",
                    headers={"Authorization": f"Bearer {token.read_text().strip()}"},
                    timeout=2,
                )
            except httpx.HTTPError:
                return False
            return answer.status_code == 200 and len(answer.json()["devices"]) == 6

        wait_until(devices_reporting, 60, "the demo fleet, served from the wheel")
        docs = httpx.get(f"http://127.0.0.1:{http_port}/docs", timeout=5)
        assert docs.status_code == 200
        # the dashboard's page and files are in the package (src/wattline/web/static)
        page = httpx.get(f"http://127.0.0.1:{http_port}/", timeout=5)
        assert page.status_code == 200
        assert "/ui/app.js" in page.text
        for asset in ("/ui/app.js", "/ui/pages/device.js", "/ui/vendor/uplot/uPlot.iife.min.js"):
            assert httpx.get(f"http://127.0.0.1:{http_port}{asset}", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, log.read_text()
