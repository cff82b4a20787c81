"""The store's file and its life cycle: one DuckDB instance per process, opened only while calls are in flight.

DuckDB locks the whole file per process, even against read-only opens, and refuses one connection used by two
threads at once. So a process opens the file only while some call is in flight, each call works on its own cursor,
and the file is closed LINGER seconds after the last call ends (a backfill writing page after page does not pay an
open and a checkpoint per page): the app never holds the file between bursts of calls, the command-line collector
can write while the app is open, and Streamlit's threads never share a connection. A lock held by another process
is waited for briefly, then reported as StoreBusyError. The tables' queries live beside this module, one module per
group of tables (prices.py, quotes.py, symbols.py) and backup.py; `Store` (the package) joins them.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import random
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from marketdash.domain import clock
from marketdash.domain.i18n import Msg, Said, msg
from marketdash.services.store.schema import SCHEMA

_SCHEMA_LOCK = threading.Lock()
_OPEN_LOCK = threading.Lock()
LINGER = 0.25  # seconds an unused instance stays open before the file is released to other processes


@dataclass
class _Instance:
    con: duckdb.DuckDBPyConnection
    read_only: Msg | None  # why the file could only be opened read-only
    calls: int = 0  # calls in flight
    generation: int = 0  # bumped each time calls falls to 0: a close timer acts only on its own generation


_OPEN: dict[Path, _Instance] = {}  # resolved path -> this process's one open instance
_DUCKDB_MAGIC = b"DUCK"  # bytes 8..12 of every DuckDB database file


class StoreError(RuntimeError):
    """The store cannot do what was asked; `msg` is a plain sentence naming the file and the way out (str() is its
    English)."""

    def __init__(self, message: Msg) -> None:
        super().__init__(str(message))
        self.msg = message


class StoreBusyError(StoreError):
    """Another process kept the store locked for longer than we wait."""


class StoreUnreadableError(StoreError):
    """MARKET_DB is not a DuckDB store we can open: a directory, a CSV, a damaged file, another DuckDB's format."""


class StoreWriteError(StoreError):
    """The store can be read but not written (read-only file or disk, disk full): nothing stored was changed."""


def _check_file(path: Path) -> None:
    """Refuse what is not a DuckDB file before DuckDB sees it: DuckDB 2.0 "opens" a CSV as an in-memory database
    whose writes silently go nowhere."""
    if path.is_dir():
        raise StoreUnreadableError(msg("store.is_directory", path=str(path)))
    try:
        with path.open("rb") as fh:
            head = fh.read(12)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreUnreadableError(
            msg("store.cannot_read", path=str(path), said=Said(exc.strerror or "", "en", prefix=" (", suffix=")"))
        ) from None
    if head and head[8:12] != _DUCKDB_MAGIC:
        key = "store.looks_like_text" if _looks_like_text(head) else "store.looks_like_other"
        raise StoreUnreadableError(msg(key, path=str(path)))


def _looks_like_text(head: bytes) -> bool:
    try:
        return head.decode("utf-8").isprintable() or b"\n" in head
    except UnicodeDecodeError:
        return False


def _is_read_only_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "read-only file system" in text or "permission denied" in text


def _acquire(path: Path, busy_timeout: float) -> tuple[duckdb.DuckDBPyConnection, Msg | None]:
    """Open the file once per process (threads share it through cursors), waiting while another process holds it.

    DuckDB refuses a second attach of one file racing in from another thread, and a second process cannot open the
    file at all while this one holds it: so the instance lives only while some call is using it. A file that can be
    read but not written is opened read-only, with the reason returned beside it.
    """
    key = path.resolve()
    with _OPEN_LOCK:
        entry = _OPEN.get(key)
        if entry is not None:
            entry.generation += 1  # a close timer already started for this instance is void
        else:
            _check_file(path)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnreadableError(
                    msg("store.no_folder", path=str(path), said=Said(exc.strerror or "", "en", prefix=" (", suffix=")"))
                ) from None
            entry = _OPEN[key] = _Instance(*_open_with_retry(path, busy_timeout))
        entry.calls += 1
        return entry.con, entry.read_only


def _release(path: Path) -> None:
    key = path.resolve()
    with _OPEN_LOCK:
        entry = _OPEN.get(key)
        if entry is None:  # the process is exiting (_close_all) while this call finished: nothing left to close
            return
        entry.calls -= 1
        if entry.calls == 0:
            entry.generation += 1
            timer = threading.Timer(LINGER, _close_if_idle, (key, entry.generation))
            timer.daemon = True
            timer.start()


EXIT_WAIT = 5.0  # seconds the exit waits for calls in flight (a backfill's page being written) to finish


@atexit.register
def _close_all() -> None:
    """At exit, every instance is closed cleanly (a checkpoint, no leaked handles): an idle one at once, one a
    thread is still using (the history backfill of a server being stopped) once its calls end, within EXIT_WAIT;
    a call still running then keeps its connection (what it committed is in the file) and its thread ends quietly
    with the process."""
    deadline = time.monotonic() + EXIT_WAIT
    while True:
        with _OPEN_LOCK:
            for key in [k for k, entry in _OPEN.items() if not entry.calls]:
                with contextlib.suppress(duckdb.Error):
                    _OPEN.pop(key).con.close()
            if not _OPEN or time.monotonic() >= deadline:
                return
        time.sleep(0.05)


def _close_if_idle(key: Path, generation: int) -> None:
    with _OPEN_LOCK:
        entry = _OPEN.get(key)
        if entry is None or entry.calls or entry.generation != generation:
            return
        del _OPEN[key]
        entry.con.close()


def _open_with_retry(path: Path, busy_timeout: float) -> tuple[duckdb.DuckDBPyConnection, Msg | None]:
    deadline = time.monotonic() + busy_timeout
    delay = 0.01
    while True:
        try:
            return duckdb.connect(str(path)), None
        except duckdb.Error as exc:
            if _is_read_only_error(exc) and path.is_file():
                return _open_read_only(path, exc)
            if not isinstance(exc, duckdb.IOException) or "lock" not in str(exc).lower():
                raise _unreadable(path, exc) from None
            if time.monotonic() >= deadline:
                raise StoreBusyError(msg("store.busy", name=path.name, seconds=f"{busy_timeout:.0f}")) from None
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 0.25)


def _open_read_only(path: Path, cause: Exception) -> tuple[duckdb.DuckDBPyConnection, Msg]:
    reason = msg("store.why_read_only" if "read-only" in str(cause).lower() else "store.why_permission")
    try:
        return duckdb.connect(str(path), read_only=True), reason
    except duckdb.Error as exc:
        raise _unreadable(path, exc) from None


def _unreadable(path: Path, exc: Exception) -> StoreUnreadableError:
    """DuckDB's own reason, first line only and without the file name it repeats."""
    reason = str(exc).splitlines()[0].replace(f'"{path}"', "it").replace(str(path), "it")
    key = "store.other_version" if "version" in reason.lower() else "store.cannot_open"
    return StoreUnreadableError(msg(key, path=str(path), said=Said(reason, "en", prefix=": ")))


def _disk_problem(exc: Exception) -> Msg | None:
    text = str(exc).lower()
    if "no space left" in text or "disk is full" in text or "file too large" in text:
        return msg("store.why_full")
    if _is_read_only_error(exc):
        return msg("store.why_read_only")
    return None


def utcnow() -> dt.datetime:
    """Naive UTC, the way TIMESTAMP columns hold it."""
    return clock.now().replace(tzinfo=None)


BUSY_TIMEOUT = 15.0  # seconds to wait for another process's lock before saying the store is busy


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back, tolerating an instance a fatal I/O error already invalidated (it is reopened on the next call)."""
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


def message_columns(message: Msg | None) -> tuple[str, str | None]:
    """A message as the two columns that keep it: its English text, and its catalog key with parameters."""
    if message is None:
        return "", None
    return str(message)[:2000], message.to_json()


class StoreFile:
    """One store file: its cursors, its schema, and writes in transactions that retry a conflict."""

    def __init__(self, path: Path | str, busy_timeout: float | None = None) -> None:
        self.path = Path(path)
        self.busy_timeout = BUSY_TIMEOUT if busy_timeout is None else busy_timeout
        self._schema_ready = False

    def close(self) -> None:
        """Release this process's instance of the file now if no call is using it (instead of after LINGER)."""
        with _OPEN_LOCK:
            entry = _OPEN.get(self.path.resolve())
            if entry is not None and not entry.calls:
                del _OPEN[self.path.resolve()]
                entry.con.close()

    @contextmanager
    def connect(self, *, write: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on this process's one open instance of the file, which is closed when no call uses it."""
        con, read_only = _acquire(self.path, self.busy_timeout)
        try:
            if write and read_only:
                raise StoreWriteError(msg("store.read_only", path=str(self.path), why=read_only))
            cursor = con.cursor()
            try:
                if not self._schema_ready and not read_only:
                    self._create_schema(cursor)
                yield cursor
            finally:
                cursor.close()
        finally:
            _release(self.path)

    def _create_schema(self, con: duckdb.DuckDBPyConnection) -> None:
        """Create the tables once per Store; threads of one process take turns (a concurrent CREATE conflicts)."""
        with _SCHEMA_LOCK:
            if self._schema_ready:
                return
            for attempt in range(5):
                try:
                    con.execute(SCHEMA)
                    break
                except duckdb.TransactionException:
                    if attempt == 4:
                        raise
                    time.sleep(0.05 * (attempt + 1))
            self._schema_ready = True

    def _write(
        self,
        sql: str,
        params: Sequence | None = None,
        frame: pd.DataFrame | None = None,
    ) -> list[tuple]:
        """Run one write in a transaction, retrying a conflict with another writer of this process; returns what the
        statement returned (RETURNING rows)."""
        return self._transaction([(sql, params)], frame)

    def _transaction(self, steps: Sequence[tuple[str, Sequence | None]], frame: pd.DataFrame | None = None) -> list:
        """Several statements in one transaction (all or none), retried like `_write`; returns the last one's rows."""
        for attempt in range(6):
            with self.connect(write=True) as con:
                try:
                    con.execute("BEGIN TRANSACTION")
                    if frame is not None:
                        con.register("incoming", frame)
                    for sql, params in steps:
                        returned = con.execute(sql, params).fetchall()
                    con.execute("COMMIT")
                    return returned
                except duckdb.Error as exc:
                    _rollback(con)
                    problem = _disk_problem(exc)  # a full disk fails the WAL write, often only at COMMIT
                    if problem is not None:
                        raise StoreWriteError(msg("store.cannot_save", path=str(self.path), why=problem)) from None
                    # A conflict with another writer of this process; also a key it inserted at the same moment
                    # (two polls storing one session's close): retried, ON CONFLICT then sees the committed row.
                    retry = isinstance(exc, duckdb.TransactionException | duckdb.ConstraintException)
                    if not retry or attempt == 5:
                        raise
                except BaseException:
                    _rollback(con)
                    raise
            time.sleep(0.02 * (attempt + 1) * (1 + random.random()))

    def problem(self) -> Msg | None:
        """Why the file cannot be opened as a store, in one sentence; None when it can (or does not exist yet)."""
        try:
            with self.connect():
                return None
        except StoreUnreadableError as exc:
            return exc.msg
