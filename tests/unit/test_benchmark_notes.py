"""`make bench` rewrites each section of docs/benchmarks.md from its benchmark's
output and ``benchmarks/<name>.notes.md``: what is written by hand inside a
section and missing from its notes would be lost at the next run."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.benchmark_modules import load_benchmark

ROOT = Path(__file__).resolve().parents[2]
NOTES = sorted((ROOT / "benchmarks").glob("*.notes.md"))


RUN = load_benchmark("run")  # the script `make bench` runs


def _section(name: str) -> str:
    found = RUN.section_pattern(name).search(RUN.DOC.read_text())
    assert found, f"docs/benchmarks.md has no section for {name}"
    return str(found.group(0)).removesuffix(f"<!-- /bench:{name} -->\n")


@pytest.mark.parametrize("notes", NOTES, ids=[n.name for n in NOTES])
def test_each_section_ends_with_its_notes_as_they_are(notes: Path) -> None:
    name = notes.name.removesuffix(".notes.md")
    assert _section(name).rstrip().endswith(notes.read_text().rstrip()), (
        f"the {name} section of docs/benchmarks.md differs from {notes.name}:"
        " edit both, or make bench will overwrite the section"
    )


def test_there_are_notes_to_check() -> None:
    assert len(NOTES) >= 10
