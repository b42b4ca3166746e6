"""`make bench` rewrites each section of docs/benchmarks.md from its benchmark's
output and ``benchmarks/<name>.notes.md``: what is written by hand inside a
section and missing from its notes would be lost at the next run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "benchmarks.md"
NOTES = sorted((ROOT / "benchmarks").glob("*.notes.md"))


def _section(name: str) -> str:
    found = re.search(
        rf"<!-- bench:{re.escape(name)} -->\n(.*?)<!-- /bench:{re.escape(name)} -->",
        DOC.read_text(),
        re.DOTALL,
    )
    assert found, f"docs/benchmarks.md has no section for {name}"
    return found.group(1)


@pytest.mark.parametrize("notes", NOTES, ids=[n.name for n in NOTES])
def test_each_section_ends_with_its_notes_as_they_are(notes: Path) -> None:
    name = notes.name.removesuffix(".notes.md")
    assert _section(name).rstrip().endswith(notes.read_text().rstrip()), (
        f"the {name} section of docs/benchmarks.md differs from {notes.name}:"
        " edit both, or make bench will overwrite the section"
    )


def test_there_are_notes_to_check() -> None:
    assert len(NOTES) >= 10
