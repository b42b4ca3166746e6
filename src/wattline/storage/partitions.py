"""Monthly partitions: which UTC month a timestamp falls in, and its bounds.

Pure arithmetic; ``postgres.py`` does the DDL. Integer milliseconds and
timedelta throughout, so a bound is exact rather than a rounded float.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_DAY_MS = 86_400_000

# The tables partitioned by month on PostgreSQL: both grow with every sample
# and both are trimmed by retention. Their partitions are named like
# PARTITION_NAME_RE; migrations' autogenerate and the schema comparison in
# tests skip them, since schema.py has no partitions.
PARTITIONED_TABLES = ("sample_rows", "rollup_1m")
DEFAULT_PARTITION = "sample_rows_default"
PARTITION_NAME_RE = re.compile(r"(sample_rows|rollup_1m)_(default|\d{4}_\d{2})")
# Storage parameters of a new partition: the 1-minute tier's rows are updated by
# nearly every commit, and room on their page keeps the updates heap-only (HOT).
# Migration 0021 gives the tables updated as often the same.
PARTITION_STORAGE = {"sample_rows": "", "rollup_1m": " WITH (fillfactor = 70)"}


@dataclass(frozen=True, slots=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def of(cls, ts_ms: int) -> Month | None:
        """The UTC month holding ``ts_ms``, or None where datetime cannot name its bounds.

        Such rows (before year 1, or from year 9999 on) still land in the DEFAULT partition.
        """
        try:
            moment = _EPOCH + ts_ms * _MS
        except OverflowError:
            return None
        return cls(moment.year, moment.month) if moment.year < 9999 else None

    @property
    def name(self) -> str:
        return self.partition_of("sample_rows")

    def partition_of(self, table: str) -> str:
        return f"{table}_{self.year:04d}_{self.month:02d}"

    @classmethod
    def named(cls, partition: str) -> Month | None:
        """The month a partition name stands for; None for a DEFAULT partition."""
        match = PARTITION_NAME_RE.fullmatch(partition)
        if match is None or match.group(2) == "default":
            return None
        year, month = match.group(2).split("_")
        return cls(int(year), int(month))

    @property
    def start_ms(self) -> int:
        return (datetime(self.year, self.month, 1, tzinfo=UTC) - _EPOCH) // _MS

    @property
    def end_ms(self) -> int:
        """Exclusive, as in ``FOR VALUES FROM (start) TO (end)``."""
        if self.month == 12:
            following = datetime(self.year + 1, 1, 1, tzinfo=UTC)
        else:
            following = datetime(self.year, self.month + 1, 1, tzinfo=UTC)
        return (following - _EPOCH) // _MS


def months_of(timestamps_ms: Iterable[int]) -> set[Month]:
    """The months holding these instants (where ``Month.of`` names one).

    A month starts at a UTC midnight, so each instant's day says its month: a
    batch's thousands of readings fall on a few days, each looked at once (a
    datetime per reading: 7 ms of a 2,000-reading PostgreSQL commit under cProfile).
    """
    days = {ts // _DAY_MS for ts in timestamps_ms}
    return {month for day in days if (month := Month.of(day * _DAY_MS)) is not None}


def is_partition(table_name: str) -> bool:
    return PARTITION_NAME_RE.fullmatch(table_name) is not None
