"""``make bench``: run every benchmark and record the results in docs/benchmarks.md.

Each benchmark prints a Markdown table on stdout; this script adds the machine,
the date and the exact command, and replaces that benchmark's section of
docs/benchmarks.md (other sections are kept).

    python benchmarks/run.py              # all benchmarks, default sizes
    python benchmarks/run.py ingest       # one of them
    python benchmarks/run.py ingest -- --readings 20000
    python benchmarks/run.py broker-security     # security on vs off, with its floor
    python benchmarks/run.py tracing     # ingest with OpenTelemetry off and on
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
# name -> the script and its default arguments (arguments after `--` replace them)
BENCHMARKS: dict[str, tuple[Path, list[str]]] = {
    "ingest": (ROOT / "benchmarks" / "ingest.py", []),
    "query": (ROOT / "benchmarks" / "query.py", []),
    # the first compaction of a loaded store: a transaction per series-day against the budget
    "compaction": (ROOT / "benchmarks" / "compaction.py", []),
    "registry": (ROOT / "benchmarks" / "registry.py", []),
    "auth": (ROOT / "benchmarks" / "auth.py", []),
    # the collector with OpenTelemetry off, sampling, and tracing every message
    "tracing": (ROOT / "benchmarks" / "tracing.py", []),
    # command round trip with 100 devices, bulk to 1,000, pending commands' cost to ingest
    "commands": (ROOT / "benchmarks" / "commands.py", []),
    # publish -> WebSocket latency, 100 subscribers, embedded bus and Redis bus; three
    # interleaved runs and their medians (one run's p99 moves a lot on two shared cores)
    "live": (ROOT / "benchmarks" / "live.py", ["--repeat", "3"]),
    # the API loop's own work per live reading: events and the hub's dispatch, no sockets
    "live-dispatch": (ROOT / "benchmarks" / "live_dispatch.py", []),
    # the collector's peak RSS under the 100,000-reading burst, then 30 minutes steady
    "soak": (ROOT / "benchmarks" / "soak.py", []),
    # rule evaluation per reading, ingest with 100 rules, publish -> webhook latency
    "alerts": (ROOT / "benchmarks" / "alerts.py", []),
    # labelled faults on simulated profiles: precision, recall and F1 per kind
    "anomalies": (ROOT / "benchmarks" / "anomaly_benchmark.py", []),
    # hourly kWh forecasts against seasonal-naive: MAE and MASE
    "forecast": (ROOT / "benchmarks" / "forecast_backtest.py", []),
    # the dashboard in Chromium: first render of the fleet (1,000 devices) and of a year chart
    "dashboard": (ROOT / "benchmarks" / "dashboard.py", []),
    # wall and CPU seconds from launch: the CLI, and `up --demo` until the fleet shows
    "startup": (ROOT / "benchmarks" / "startup.py", ["--repeat", "3"]),
    # broker authentication and ACLs on against off, in one run with its floor
    "broker-security": (
        ROOT / "benchmarks" / "ingest.py",
        [
            "--only",
            "sub,embedded,secure",
            "--readings",
            "20000",
            "--devices",
            "10",
            "--repeat",
            "3",
        ],
    ),
}
HEADER = """# Benchmarks

Recorded by `make bench` (`benchmarks/run.py`). Each section says the machine,
the date and the command that produced it; rerun the command to check it.
"""


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with Path("/proc/cpuinfo").open() as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_gib:.0f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def section(name: str, command: list[str], output: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    shown = " ".join(
        [
            "python",
            *[
                str(Path(c).relative_to(ROOT)) if c.startswith(str(ROOT)) else c
                for c in command[1:]
            ],
        ]
    )
    return (
        f"<!-- bench:{name} -->\n## {name}\n\n"
        f"- machine: {machine()}\n- date: {stamp}\n- command: `{shown}`\n\n"
        f"{output.strip()}\n<!-- /bench:{name} -->\n"
    )


def section_pattern(name: str) -> re.Pattern[str]:
    """A benchmark's section of docs/benchmarks.md, which ``record`` replaces whole."""
    return re.compile(
        rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->\n", re.DOTALL
    )


def record(name: str, text: str) -> None:
    doc = DOC.read_text() if DOC.exists() else HEADER
    pattern = section_pattern(name)
    doc = pattern.sub(lambda _m: text, doc) if pattern.search(doc) else doc.rstrip() + "\n\n" + text
    DOC.write_text(doc)


def main() -> None:
    args = sys.argv[1:]
    extra: list[str] = []
    if "--" in args:
        extra = args[args.index("--") + 1 :]
        args = args[: args.index("--")]
    names = args or [name for name, (path, _) in BENCHMARKS.items() if path.exists()]
    for name in names:
        script, defaults = BENCHMARKS[name]
        command = [sys.executable, str(script), *(extra or defaults)]
        print(f"== {name}: {' '.join(command)}", file=sys.stderr)
        result = subprocess.run(command, check=True, capture_output=True, text=True)
        sys.stderr.write(result.stderr)
        print(result.stdout)
        notes = ROOT / "benchmarks" / f"{name}.notes.md"
        body = result.stdout + ("\n" + notes.read_text() if notes.exists() else "")
        record(name, section(name, command, body))


if __name__ == "__main__":
    main()
