"""The collector's commits in a process of their own (``WATTLINE_COMMIT_PROCESS``).

Why a process: sqlite3 and psycopg release the GIL for every statement step
and must take it back afterwards. Beside a busy thread of the same process
(the MQTT reader, the planner, the API's event loop) each step can wait a whole
switch interval for it, and a commit that takes 11 ms alone took 70-800 ms in
``wattline up`` (the GIL convoy, ADR 0024 and 0025, ``benchmarks/commit_convoy.py``).
A child process with one thread commits at its own speed.

The parent keeps everything else: decoding, the archive (appended before the
commit, as before), metrics, the live feed and the acknowledgements. Only the
``CommitBatch`` crosses, pickled over a socket pair, and the ``CommitResult``
or the error comes back. The child opens its own connection to the same
database; the store keeps no state between commits outside the database, so
a commit there is the commit here.

Failure: a child that dies is a store outage to the collector
(``StoreUnavailableError``): the batch stays unacknowledged, is retried, and
the next attempt starts a new child. A batch the child had committed before
dying is committed again, which dedup by (device, seq) and (device, metric, ts)
makes harmless, as after any lost reply from a database.

The child ignores SIGINT and SIGTERM (Ctrl-C reaches the whole process group):
the parent drains the collector through it at shutdown, then closes the
socket, and the child exits when it reads the end.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from wattline.ingest.poison import describe_store_error, store_error_cause
from wattline.runtime import garbage
from wattline.runtime.pickle_channel import PickleChannel
from wattline.storage.base import (
    CommitBatch,
    CommitResult,
    StoreUnavailableError,
)
from wattline.storage.ports import IngestStore

log = logging.getLogger("wattline.ingest")

# Starting a child is an import of the storage packages and a connection.
_START_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class StoreAddress:
    """Where the child's store is: PostgreSQL's URL, or SQLite's file and fsync mode.

    Sent over the socket, not on the command line, where ``ps`` would show a password."""

    database_url: str | None
    database_path: Path
    sqlite_synchronous: str


class CommitRefusedError(Exception):
    """The child's store refused a batch's content (not an outage): named as the child saw it."""

    def __init__(self, type_name: str, text: str) -> None:
        super().__init__(text)
        self.type_name = type_name


@dataclass(frozen=True, slots=True)
class _Ready:
    """The child has opened the store."""


@dataclass(frozen=True, slots=True)
class _Stage:
    """Commit the batch with its readings staged (``IngestStore.stage``)."""

    batch: CommitBatch


@dataclass(frozen=True, slots=True)
class _Fold:
    """Fold staged readings of up to ``max_devices`` devices (``IngestStore.fold``)."""

    max_devices: int
    min_age_ms: int


_Request = CommitBatch | _Stage | _Fold


@dataclass(frozen=True, slots=True)
class _Ok:
    # None: a fold found nothing staged
    result: CommitResult | None


@dataclass(frozen=True, slots=True)
class _Unavailable:
    text: str


@dataclass(frozen=True, slots=True)
class _Refused:
    type_name: str
    text: str


_Reply = _Ok | _Unavailable | _Refused
_Greeting = _Ready | _Unavailable


class CommitProcess:
    """Commits batches in a child process; one commit at a time, from any thread."""

    def __init__(self, address: StoreAddress) -> None:
        self._address = address
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None
        self._channel: PickleChannel | None = None
        # the child said it has opened the store
        self._ready = False
        self.started = 0

    def start(self) -> None:
        """Start the child, which imports and connects while the rest of Wattline starts;
        the first commit (or ``wait_ready``) waits for it."""
        with self._lock:
            if self._channel is None:
                self._spawn()

    def wait_ready(self) -> None:
        """Until the child has opened the store; StoreUnavailableError if it cannot."""
        with self._lock:
            self._ensure_running()

    def commit(self, batch: CommitBatch) -> CommitResult:
        result = self._ask(batch)
        assert result is not None
        return result

    def stage(self, batch: CommitBatch) -> CommitResult:
        result = self._ask(_Stage(batch))
        assert result is not None
        return result

    def fold(self, max_devices: int, min_age_ms: int = 0) -> CommitResult | None:
        return self._ask(_Fold(max_devices, min_age_ms))

    def _ask(self, request: _Request) -> CommitResult | None:
        with self._lock:
            channel = self._ensure_running()
            try:
                channel.send(request)
                reply: _Reply = channel.recv()
            except (EOFError, OSError) as exc:
                code = self._discard()
                raise StoreUnavailableError(
                    f"the commit process ended (exit code {code}): {exc or type(exc).__name__}"
                ) from exc
        if isinstance(reply, _Ok):
            return reply.result
        if isinstance(reply, _Unavailable):
            raise StoreUnavailableError(reply.text)
        raise CommitRefusedError(reply.type_name, reply.text)

    def close(self) -> None:
        """End the child after its commit in progress: it reads the end of the socket."""
        with self._lock:
            self._discard()

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    def _ensure_running(self) -> PickleChannel:
        # No poll of the child here: like any system call it leaves the GIL, which
        # costs up to a switch interval in a busy process. A child that has ended
        # fails the send or the receive, an outage the collector retries.
        if self._channel is None:
            self._spawn()
        channel = self._channel
        assert channel is not None
        if not self._ready:
            self._await_greeting(channel)
        return channel

    def _spawn(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            child = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "wattline.runtime.commit_process", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        except OSError as exc:
            ours.close()
            raise StoreUnavailableError(f"cannot start the commit process: {exc}") from exc
        finally:
            theirs.close()
        self._child, self._channel = child, PickleChannel(ours)
        self._ready = False
        # A child already gone says so when its greeting is awaited.
        with contextlib.suppress(OSError):
            self._channel.send(self._address)

    def _await_greeting(self, channel: PickleChannel) -> None:
        try:
            if not channel.poll(_START_TIMEOUT_S):
                raise TimeoutError(f"no answer within {_START_TIMEOUT_S:.0f} s")
            greeting: _Greeting = channel.recv()
        except (EOFError, OSError) as exc:
            code = self._discard()
            raise StoreUnavailableError(
                f"the commit process did not start (exit code {code}): {exc}"
            ) from exc
        if isinstance(greeting, _Unavailable):
            self._discard()
            raise StoreUnavailableError(
                f"the commit process cannot open the store: {greeting.text}"
            )
        self._ready = True
        self.started += 1

    def _discard(self) -> int | None:
        """Close the socket and wait for the child (killed if it does not end); its exit code."""
        channel, child = self._channel, self._child
        self._channel = self._child = None
        if channel is not None:
            channel.close()
        if child is None:
            return None
        try:
            return child.wait(_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            return child.wait()


class SplitStore:
    """An ``IngestStore`` whose commits run in the commit process, its look-ups here."""

    def __init__(self, local: IngestStore, commits: CommitProcess) -> None:
        self._local = local
        self._commits = commits

    def commit(self, batch: CommitBatch) -> CommitResult:
        return self._commits.commit(batch)

    def stage(self, batch: CommitBatch) -> CommitResult:
        return self._commits.stage(batch)

    def fold(self, max_devices: int, min_age_ms: int = 0) -> CommitResult | None:
        return self._commits.fold(max_devices, min_age_ms)

    def existing_devices(self, device_ids: Iterable[str]) -> set[str]:
        return self._local.existing_devices(device_ids)


# -- the child ---------------------------------------------------------------------


def _serve(channel: PickleChannel) -> None:
    # Imported in the child only: the parent needs none of the backends to send.
    from wattline.storage.opening import open_store_at  # noqa: PLC0415

    address: StoreAddress = channel.recv()
    try:
        # The parent opened (and migrated) the store before it started this child.
        store = open_store_at(
            address.database_url, address.database_path, address.sqlite_synchronous, migrate=False
        )
    except Exception as exc:
        channel.send(_Unavailable(describe_store_error(exc)))
        return
    garbage.settle_after_startup()
    channel.send(_Ready())
    try:
        while True:
            try:
                request: _Request = channel.recv()
            except EOFError:
                return
            channel.send(_answer(store, request))
    finally:
        store.close()


def _answer(store: IngestStore, request: _Request) -> _Reply:
    try:
        if isinstance(request, _Stage):
            return _Ok(store.stage(request.batch))
        if isinstance(request, _Fold):
            return _Ok(store.fold(request.max_devices, request.min_age_ms))
        return _Ok(store.commit(request))
    except (StoreUnavailableError, OSError) as exc:
        return _Unavailable(str(exc))
    except Exception as exc:
        cause = store_error_cause(exc)
        return _Refused(type(cause).__name__, str(cause))


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    channel = PickleChannel(socket.socket(fileno=int(argv[1])))
    try:
        _serve(channel)
    except (BrokenPipeError, ConnectionResetError):
        return 0  # the parent is gone; nothing was acknowledged that is not committed
    return 0


if __name__ == "__main__":
    # Run as the module proper, so that the replies pickle under their real name,
    # not ``__main__``'s.
    from wattline.runtime import commit_process  # noqa: PLW0406 - see above

    sys.exit(commit_process.main(sys.argv))
