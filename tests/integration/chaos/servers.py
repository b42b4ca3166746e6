"""Private Mosquitto and PostgreSQL servers that a chaos test may stop, kill and restart.

The machine's shared servers are never touched: other tests and engineers use
them, and the shared Mosquitto's default ``max_queued_messages`` (1000) drops
messages silently whenever a subscriber falls behind, which is exactly what a
chaos test provokes.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import free_port, port_open

from wattline.broker.mosquitto import find_mosquitto

MOSQUITTO_SAVE_ERROR = "Error saving in-memory database"
# A collector killed or stalled for seconds leaves tens of thousands of
# messages queued in its session; the default of 1000 would drop the rest.
MAX_QUEUED_MESSAGES = 1_000_000
# A restarted cluster must be accepting connections well within this.
START_TIMEOUT_S = 30


def wait_for_port(port: int, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not port_open("127.0.0.1", port, timeout_s=0.2):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not open port {port} within {timeout_s} s")
        time.sleep(0.05)


def mosquitto_binary() -> str | None:
    return find_mosquitto()


class MosquittoServer:
    """A Mosquitto on a free port; `durable` is the configuration of docs/operations.md."""

    def __init__(self, binary: str, directory: Path, *, durable: bool) -> None:
        self.port = free_port()
        self.directory = directory
        self.log_path = directory / "mosquitto.log"
        self.config_path = directory / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            f"max_queued_messages {MAX_QUEUED_MESSAGES}",
            # Run as root, Mosquitto would drop to the `mosquitto` user, which
            # cannot write the persistence file in a root-owned temporary folder.
            "user root",
            "log_dest stderr",
        ]
        if durable:
            persistence = directory / "persistence"
            persistence.mkdir(parents=True, exist_ok=True)
            lines += [
                "persistence true",
                # The trailing slash matters: Mosquitto appends the file name as is.
                f"persistence_location {persistence}/",
                "autosave_on_changes true",
                "autosave_interval 1",
            ]
        # Without `durable`, nothing is saved: the broker outlives the test's
        # chaos, and saving the whole queue after every change (what
        # `autosave_interval 1` means) slows it to a few hundred messages per
        # second once a stalled collector has thousands queued.
        self.config_path.write_text("\n".join([*lines, ""]))
        self._binary = binary
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [self._binary, "-c", str(self.config_path)],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        wait_for_port(self.port, 10, "mosquitto")

    def stop(self) -> None:
        """SIGTERM: Mosquitto saves its in-memory database and exits."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: whatever the last autosave did not write is gone."""
        self._end(signal.SIGKILL)

    def _end(self, sig: signal.Signals) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def postgres_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's bin folder that has initdb and pg_ctl."""
    candidates = sorted(
        (path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    return candidates[-1] if candidates else None


class PostgresCluster:
    """A throw-away PostgreSQL cluster owned by the ``postgres`` OS user, trust auth.

    PostgreSQL refuses to run as root, so every server command goes through
    ``runuser``; the data folder doubles as the socket folder.
    """

    def __init__(self, bin_dir: Path, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.data_dir = directory / "data"
        self.log_path = directory / "postgres.log"
        self._bin = bin_dir

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        shutil.chown(self.directory, "postgres", "postgres")
        self._as_postgres(
            str(self._bin / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",  # initdb's final fsync only; the server itself keeps fsync on
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1"
        self._pg_ctl("-o", options, "-l", str(self.log_path), "-w", "start")
        wait_for_port(self.port, START_TIMEOUT_S, "postgres")

    def stop(self) -> None:
        """Fast shutdown: open transactions are rolled back, clients are disconnected."""
        self._pg_ctl("-m", "fast", "-w", "stop")

    def running(self) -> bool:
        status = subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(self._bin / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "status",
            ],
            capture_output=True,
            check=False,
        )
        return status.returncode == 0

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _pg_ctl(self, *args: str) -> None:
        self._as_postgres(str(self._bin / "pg_ctl"), "-D", str(self.data_dir), *args)

    def _as_postgres(self, *command: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            check=True,
            capture_output=True,
            timeout=60,
        )
