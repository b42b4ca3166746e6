"""Finding the message(s) a store refuses, so one bad message cannot stop a batch.

A batch's commit is all or nothing. When it fails for a reason that is not an
outage (a value the database cannot hold, a constraint no validation foresaw),
retrying it would fail forever and the broker would redeliver it forever. The
batch is split in halves until the messages at fault stand alone; those are
quarantined with the store's error, every other message commits. Halving costs
about 2·k·log2(n) commits for k bad messages in n, and nothing when none is bad.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

# The store's own words, bounded: enough to tell an overflow from a constraint.
MAX_ERROR_CHARS = 300


def isolate(
    items: Sequence[T],
    commit: Callable[[Sequence[T]], Exception | None],
    first_error: Exception,
) -> list[tuple[T, Exception]]:
    """Commit every item of a batch that failed with ``first_error``; return the culprits.

    ``commit`` returns None on success or the content error that failed it; an
    outage is not its answer to give (it retries or raises). Each culprit comes
    with the error that refused it alone.
    """
    if len(items) == 1:
        return [(items[0], first_error)]
    middle = len(items) // 2
    culprits: list[tuple[T, Exception]] = []
    for half in (items[:middle], items[middle:]):
        error = commit(half)
        if error is not None:
            culprits += isolate(half, commit, error)
    return culprits


def store_error_cause(error: Exception) -> BaseException:
    """The error that explains a refusal: the driver's own, when SQLAlchemy wraps one.

    A SQLAlchemy error's text quotes the whole statement and its parameters."""
    cause = getattr(error, "orig", None)
    return cause if isinstance(cause, BaseException) else error


def describe_store_error(error: Exception) -> str:
    """One line naming the error type and the store's message, without NUL characters."""
    cause = store_error_cause(error)
    text = " ".join(str(cause).split()) or "(no message)"
    text = text.replace("\0", "\\0")
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 1] + "…"
    # A refusal from the commit process names the error type as the child saw it.
    name = getattr(error, "type_name", None) or type(cause).__name__
    return f"the store refused it: {name}: {text}"
