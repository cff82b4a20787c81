"""The DuckDB store of daily bars and fetch attempts (SPEC.md, "The store").

DuckDB locks the whole file per process, even against read-only opens, and refuses one connection used by two
threads at once. So a process opens the file only while some call is in flight, each call works on its own cursor,
and the file is closed LINGER seconds after the last call ends (a backfill writing page after page does not pay an
open and a checkpoint per page): the app never holds the file between bursts of calls, the command-line collector
can write while the app is open, and Streamlit's threads never share a connection. A lock held by another process
is waited for briefly, then reported as StoreBusyError.
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
import numpy as np
import pandas as pd

from marketdash import clock
from marketdash.i18n import Msg, Said, msg, stored
from marketdash.records import BAR_COLUMNS, Quote

# A lower rank is a better source for the same day; a worse one never replaces a better one.
SOURCE_RANK = {"kis": 0, "upbit": 0, "bithumb": 1, "ecb": 2, "sample": 9}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS prices (
    asset_id VARCHAR NOT NULL, date DATE NOT NULL,
    open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE NOT NULL, volume DOUBLE,
    currency VARCHAR, source VARCHAR, fetched_at TIMESTAMP, source_rank INTEGER DEFAULT 0,
    PRIMARY KEY (asset_id, date)
);
CREATE TABLE IF NOT EXISTS snapshots (
    asset_id VARCHAR NOT NULL, quoted_at TIMESTAMP NOT NULL, price DOUBLE NOT NULL, prev_close DOUBLE,
    currency VARCHAR, source VARCHAR, fetched_at TIMESTAMP, market_state VARCHAR, time_from_source BOOLEAN,
    PRIMARY KEY (asset_id, quoted_at)
);
CREATE TABLE IF NOT EXISTS quote_errors (
    asset_id VARCHAR PRIMARY KEY, failed_at TIMESTAMP, source VARCHAR, message VARCHAR, message_key VARCHAR
);
CREATE SEQUENCE IF NOT EXISTS fetch_log_id;
CREATE TABLE IF NOT EXISTS fetch_log (
    id BIGINT DEFAULT nextval('fetch_log_id'), asset_id VARCHAR, source VARCHAR,
    started_at TIMESTAMP, finished_at TIMESTAMP, start_date DATE, end_date DATE,
    rows INTEGER, status VARCHAR, message VARCHAR, message_key VARCHAR
);
-- message: the English sentence (the command line); message_key: the same as a catalog key with its parameters,
-- so pages say it in the reader's language. Stores from before it gain the column.
ALTER TABLE fetch_log ADD COLUMN IF NOT EXISTS message_key VARCHAR;
ALTER TABLE quote_errors ADD COLUMN IF NOT EXISTS message_key VARCHAR;
-- The symbol lists (KIS masters, Upbit's markets): replaced whole, one list at a time, only by a list that passed
-- validation; symbol_lists says when each was fetched, its content date, and the last failure.
CREATE TABLE IF NOT EXISTS symbols (
    id VARCHAR PRIMARY KEY, list VARCHAR, code VARCHAR, name_ko VARCHAR, name_en VARCHAR, market VARCHAR,
    kind VARCHAR, exchange VARCHAR, symbol_class VARCHAR, warnings VARCHAR
);
CREATE TABLE IF NOT EXISTS symbol_lists (
    list VARCHAR PRIMARY KEY, as_of DATE, fetched_at TIMESTAMP, rows INTEGER, tried_at TIMESTAMP,
    error VARCHAR, error_key VARCHAR
);
-- The user's own added assets, in the order added (the seven are always there).
CREATE TABLE IF NOT EXISTS user_assets (asset_id VARCHAR PRIMARY KEY, added_at TIMESTAMP);
"""

_MERGE_PRICES = """
INSERT INTO prices
SELECT asset_id, CAST(date AS DATE), open, high, low, close, volume, currency, source, fetched_at, source_rank
FROM incoming
ON CONFLICT (asset_id, date) DO UPDATE SET
    open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
    volume = excluded.volume, currency = excluded.currency, source = excluded.source,
    fetched_at = excluded.fetched_at, source_rank = excluded.source_rank
WHERE {keep_when}
"""
# A fetch revises a day from an equal or better source; an import takes a day only from a better source, or a
# newer fetch of an equally good one.
_UPSERT = _MERGE_PRICES.format(keep_when="excluded.source_rank <= prices.source_rank")
_IMPORT_PRICES = _MERGE_PRICES.format(
    keep_when="excluded.source_rank < prices.source_rank"
    " OR (excluded.source_rank = prices.source_rank AND excluded.fetched_at > prices.fetched_at)"
)


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
        entry = _OPEN[key]
        entry.calls -= 1
        if entry.calls == 0:
            entry.generation += 1
            timer = threading.Timer(LINGER, _close_if_idle, (key, entry.generation))
            timer.daemon = True
            timer.start()


@atexit.register
def _close_all() -> None:
    """Instances still lingering when the process exits are closed cleanly (a checkpoint, no leaked handles)."""
    with _OPEN_LOCK:
        for entry in _OPEN.values():
            with contextlib.suppress(duckdb.Error):
                entry.con.close()
        _OPEN.clear()


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


@dataclass(frozen=True)
class FetchAttempt:
    """One row of fetch_log: a collection attempt, failures included."""

    asset_id: str
    source: str
    started_at: dt.datetime
    finished_at: dt.datetime | None  # None while the attempt runs (or when it was killed)
    start_date: dt.date | None
    end_date: dt.date | None
    rows: int
    status: str  # "ok" or "error"
    message: str  # English
    message_key: str | None = None  # the message as a catalog key (Msg.to_json)

    @property
    def msg(self) -> Msg | str:
        """The message for a page: its catalog form, or the stored text for rows from before keys."""
        return stored(self.message, self.message_key) or ""


def utcnow() -> dt.datetime:
    """Naive UTC, the way TIMESTAMP columns hold it."""
    return clock.now().replace(tzinfo=None)


BUSY_TIMEOUT = 15.0  # seconds to wait for another process's lock before saying the store is busy


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back, tolerating an instance a fatal I/O error already invalidated (it is reopened on the next call)."""
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


# The latest attempt per asset; one still running (or killed) has no finished_at yet.
_LATEST = (
    "QUALIFY row_number() OVER (PARTITION BY asset_id ORDER BY coalesce(finished_at, started_at) DESC, id DESC) = 1"
)


class Store:
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
                    con.execute(_SCHEMA)
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
                    if not isinstance(exc, duckdb.TransactionException) or attempt == 5:
                        raise
                except BaseException:
                    _rollback(con)
                    raise
            time.sleep(0.02 * (attempt + 1) * (1 + random.random()))

    def upsert_bars(self, bars: pd.DataFrame) -> int:
        """Insert or revise bars in one transaction; a worse source never replaces a better one's day."""
        if bars.empty:
            return 0
        missing = set(BAR_COLUMNS) - set(bars.columns)
        if missing:
            raise ValueError(f"bars lack columns {sorted(missing)}")
        frame = bars.loc[:, list(BAR_COLUMNS)].drop_duplicates(["asset_id", "date"], keep="last").copy()
        close = frame["close"].astype("float64")
        if not (np.isfinite(close) & (close > 0)).all():
            raise ValueError("refusing bars without a positive, finite close")
        frame["date"] = pd.to_datetime(frame["date"])
        frame["fetched_at"] = utcnow()
        frame["source_rank"] = frame["source"].map(SOURCE_RANK).fillna(0).astype("int32")
        self._write(_UPSERT, frame=frame)
        return len(frame)

    def read_bars(
        self,
        asset_ids: Sequence[str] | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> pd.DataFrame:
        """Stored bars in long form (asset_id, date, OHLCV, currency, source), sorted by asset and date."""
        where, params = ["TRUE"], []
        if asset_ids is not None:
            if not asset_ids:
                return pd.DataFrame(columns=list(BAR_COLUMNS))
            where.append(f"asset_id IN ({', '.join('?' * len(asset_ids))})")
            params.extend(asset_ids)
        if start is not None:
            where.append("date >= ?")
            params.append(start)
        if end is not None:
            where.append("date <= ?")
            params.append(end)
        cols = ", ".join(BAR_COLUMNS)
        sql = f"SELECT {cols} FROM prices WHERE {' AND '.join(where)} ORDER BY asset_id, date"
        with self.connect() as con:
            frame = con.execute(sql, params).df()
        frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
        return frame

    def span(self, asset_id: str) -> tuple[dt.date | None, dt.date | None, int]:
        """First date, last date and rows stored for one asset."""
        with self.connect() as con:
            first, last, rows = con.execute(
                "SELECT min(date), max(date), count(*) FROM prices WHERE asset_id = ?", [asset_id]
            ).fetchone()
        return first, last, rows

    def last_dates(self) -> dict[str, dt.date]:
        with self.connect() as con:
            rows = con.execute("SELECT asset_id, max(date) FROM prices GROUP BY asset_id").fetchall()
        return {asset_id: last for asset_id, last in rows}

    def begin_attempt(self, asset_id: str, source: str, start_date: dt.date | None, end_date: dt.date | None) -> int:
        """Log an attempt before it fetches anything, so one killed halfway is still on record (status 'running')."""
        sql = (
            "INSERT INTO fetch_log (asset_id, source, started_at, start_date, end_date, rows, status, message)"
            " VALUES (?, ?, ?, ?, ?, 0, 'running', '') RETURNING id"
        )
        return self._write(sql, [asset_id, source, utcnow(), start_date, end_date])[0][0]

    def end_attempt(self, attempt_id: int, rows: int, status: str, message: Msg | None) -> None:
        sql = "UPDATE fetch_log SET finished_at = ?, rows = ?, status = ?, message = ?, message_key = ? WHERE id = ?"
        text, key = _message_columns(message)
        self._write(sql, [utcnow(), rows, status, text, key, attempt_id])

    def log_fetch(self, attempt: FetchAttempt) -> None:
        sql = (
            "INSERT INTO fetch_log (asset_id, source, started_at, finished_at, start_date, end_date, rows, status,"
            " message, message_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        a = attempt
        params = [a.asset_id, a.source, a.started_at, a.finished_at, a.start_date, a.end_date, a.rows, a.status]
        self._write(sql, [*params, a.message[:2000], a.message_key])

    def requested_history(self, asset_id: str) -> tuple[dt.date | None, dt.date | None]:
        """The earliest start any attempt asked for, and the earliest start of one that finished 'ok': the source
        has nothing before what the store holds once an attempt from that start has completed."""
        sql = "SELECT min(start_date), min(start_date) FILTER (WHERE status = 'ok') FROM fetch_log WHERE asset_id = ?"
        with self.connect() as con:
            asked, completed = con.execute(sql, [asset_id]).fetchone()
        return asked, completed

    def last_attempts(self) -> dict[str, FetchAttempt]:
        """The latest fetch attempt per asset."""
        sql = f"""
            SELECT asset_id, source, started_at, finished_at, start_date, end_date, rows, status, message, message_key
            FROM fetch_log {_LATEST}
        """
        with self.connect() as con:
            rows = con.execute(sql).fetchall()
        return {row[0]: FetchAttempt(*row) for row in rows}

    def coverage(self) -> pd.DataFrame:
        """Per asset: first and last date, rows, sources, and the latest attempt with its result."""
        sql = f"""
            WITH c AS (
                SELECT asset_id, min(date) AS first_date, max(date) AS last_date, count(*) AS rows,
                       string_agg(DISTINCT source, ', ' ORDER BY source) AS sources
                FROM prices GROUP BY asset_id),
            l AS (
                SELECT asset_id, finished_at AS last_attempt, status AS last_status, message AS last_message,
                       message_key AS last_message_key
                FROM fetch_log
                {_LATEST})
            SELECT coalesce(c.asset_id, l.asset_id) AS asset_id, first_date, last_date, coalesce(rows, 0) AS rows,
                   sources, last_attempt, last_status, last_message, last_message_key
            FROM c FULL OUTER JOIN l ON c.asset_id = l.asset_id ORDER BY 1
        """
        with self.connect() as con:
            return con.execute(sql).df()

    # -- symbol lists and the user's own assets ---------------------------------------------------------------
    def replace_symbols(self, name: str, symbols: pd.DataFrame, as_of: dt.date) -> None:
        """One list's symbols replaced by a validated new one, with its as-of date, in one transaction."""
        from marketdash.symbols import COLUMNS

        frame = symbols.loc[:, list(COLUMNS)].assign(list=name)
        now = utcnow()
        self._transaction(
            [
                ("DELETE FROM symbols WHERE list = ?", [name]),
                # An id listed twice (a symbol moved lists) keeps the newest list's entry.
                (f"INSERT OR REPLACE INTO symbols SELECT {', '.join(COLUMNS)} FROM incoming", None),
                ("INSERT OR REPLACE INTO symbol_lists VALUES (?, ?, ?, ?, ?, NULL, NULL)",
                 [name, as_of, now, len(frame), now]),
            ],
            frame,
        )  # fmt: skip

    def symbol_list_failed(self, name: str, message: Msg) -> None:
        """A download or validation that failed: the stored list stays, the failure is on record."""
        text, key = _message_columns(message)
        self._write(
            "INSERT INTO symbol_lists (list, tried_at, error, error_key) VALUES (?, ?, ?, ?) ON CONFLICT (list) DO "
            "UPDATE SET tried_at = excluded.tried_at, error = excluded.error, error_key = excluded.error_key",
            [name, utcnow(), text, key],
        )

    def symbol_lists(self) -> pd.DataFrame:
        with self.connect() as con:
            return con.execute("SELECT * FROM symbol_lists ORDER BY list").df()

    def symbols(self, ids: Sequence[str] | None = None) -> pd.DataFrame:
        """Stored symbols (all, or those with the given ids)."""
        where, params = ("", []) if ids is None else (f"WHERE id IN ({', '.join('?' * len(ids))})", list(ids))
        if ids is not None and not ids:
            where, params = "WHERE FALSE", []
        with self.connect() as con:
            return con.execute(f"SELECT * FROM symbols {where} ORDER BY id", params).df()

    def user_assets(self) -> list[str]:
        with self.connect() as con:
            return [
                r[0] for r in con.execute("SELECT asset_id FROM user_assets ORDER BY added_at, asset_id").fetchall()
            ]

    def add_user_asset(self, asset_id: str) -> None:
        self._write("INSERT INTO user_assets VALUES (?, ?) ON CONFLICT DO NOTHING", [asset_id, utcnow()])

    def remove_user_asset(self, asset_id: str) -> None:
        self._write("DELETE FROM user_assets WHERE asset_id = ?", [asset_id])

    # -- live quotes (never in prices) ----------------------------------------------------------------------------
    def add_snapshots(self, quotes: Sequence[Quote]) -> int:
        """Keep live quotes; one already stored for the same asset and time is left as it is."""
        if not quotes:
            return 0
        frame = pd.DataFrame(
            {
                "asset_id": [q.asset_id for q in quotes],
                "quoted_at": [q.quoted_at.astimezone(dt.UTC).replace(tzinfo=None) for q in quotes],
                "price": [q.price for q in quotes],
                "prev_close": [q.prev_close for q in quotes],
                "currency": [q.currency for q in quotes],
                "source": [q.source for q in quotes],
                "fetched_at": utcnow(),
                "market_state": [q.market_state for q in quotes],
                "time_from_source": [q.time_from_source for q in quotes],
            }
        ).drop_duplicates(["asset_id", "quoted_at"])
        sql = f"INSERT INTO snapshots SELECT {', '.join(_SNAPSHOT_COLUMNS)} FROM incoming ON CONFLICT DO NOTHING"
        self._write(sql, frame=frame)
        return len(frame)

    def record_quote_error(self, asset_id: str, source: str, message: Msg) -> None:
        sql = (
            "INSERT INTO quote_errors (asset_id, failed_at, source, message, message_key) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (asset_id) DO UPDATE SET failed_at = excluded.failed_at, source = excluded.source,"
            " message = excluded.message, message_key = excluded.message_key"
        )
        self._write(sql, [asset_id, utcnow(), source, *_message_columns(message)])

    def snapshots(self, asset_ids: Sequence[str] | None = None, since: dt.datetime | None = None) -> pd.DataFrame:
        """Stored quotes (quoted_at naive UTC), oldest first."""
        where, params = ["TRUE"], []
        if asset_ids is not None:
            where.append(f"asset_id IN ({', '.join('?' * len(asset_ids))})" if asset_ids else "FALSE")
            params.extend(asset_ids)
        if since is not None:
            where.append("quoted_at >= ?")
            params.append(since.astimezone(dt.UTC).replace(tzinfo=None))
        sql = f"SELECT * FROM snapshots WHERE {' AND '.join(where)} ORDER BY asset_id, quoted_at"
        with self.connect() as con:
            return con.execute(sql, params).df()

    def latest_snapshots(self) -> pd.DataFrame:
        """The newest quote of each asset, with the asset's last quote error if one came after it."""
        sql = """
            SELECT s.*, e.failed_at AS error_at, e.message AS error, e.message_key AS error_key
            FROM snapshots s LEFT JOIN quote_errors e ON e.asset_id = s.asset_id AND e.failed_at > s.fetched_at
            QUALIFY row_number() OVER (PARTITION BY s.asset_id ORDER BY s.quoted_at DESC) = 1
        """
        with self.connect() as con:
            return con.execute(sql).df()

    def quote_errors(self) -> pd.DataFrame:
        with self.connect() as con:
            return con.execute("SELECT * FROM quote_errors ORDER BY asset_id").df()

    def snapshot_coverage(self) -> pd.DataFrame:
        """Per asset: first and last quote, how many, and the last error (Data page)."""
        sql = """
            WITH c AS (SELECT asset_id, min(quoted_at) AS first_quote, max(quoted_at) AS last_quote,
                              count(*) AS quotes FROM snapshots GROUP BY asset_id)
            SELECT coalesce(c.asset_id, e.asset_id) AS asset_id, first_quote, last_quote, coalesce(quotes, 0) AS quotes,
                   e.failed_at AS last_error_at, e.message AS last_error, e.message_key AS last_error_key
            FROM c FULL OUTER JOIN quote_errors e ON c.asset_id = e.asset_id ORDER BY 1
        """
        with self.connect() as con:
            return con.execute(sql).df()

    # -- backups -------------------------------------------------------------------------------------------------
    def export_to(self, folder: Path) -> dict[str, int]:
        """EXPORT DATABASE as Parquet into an empty folder: a backup any later DuckDB can import. Rows per table."""
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise StoreError(msg("store.export_not_empty", folder=str(folder)))
        folder.mkdir(parents=True, exist_ok=True)
        with self.connect() as con:
            con.execute(f"EXPORT DATABASE {_sql_text(folder)} (FORMAT parquet)")
            return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}

    def import_from(self, folder: Path) -> dict[str, int]:
        """Merge an export into this store: a day is taken only where the store has none, or one from a worse
        source, or an older fetch of an equally good one; attempts not yet logged are added. Rows taken per table."""
        tables = read_export(folder)
        prices = tables["prices"].copy()
        prices["source_rank"] = prices["source"].map(SOURCE_RANK).fillna(0).astype("int32")
        before = self.row_counts()
        self._write(_IMPORT_PRICES, frame=prices.loc[:, [*BAR_COLUMNS, "fetched_at", "source_rank"]])
        log = tables["fetch_log"]
        if not log.empty:
            if "message_key" not in log:  # a backup from before message keys: its messages stay English
                log = log.assign(message_key=pd.Series([None] * len(log), dtype=object, index=log.index))
            self._write(_IMPORT_LOG, frame=log.loc[:, list(_LOG_COLUMNS)])
        quotes = tables["snapshots"]
        if not quotes.empty:
            columns = ", ".join(_SNAPSHOT_COLUMNS)
            self._write(f"INSERT INTO snapshots SELECT {columns} FROM incoming ON CONFLICT DO NOTHING", frame=quotes)
        after = self.row_counts()
        return {t: after[t] - before[t] for t in TABLES}

    def row_counts(self) -> dict[str, int]:
        with self.connect() as con:
            return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}

    def table(self, name: str) -> pd.DataFrame:
        """A whole table, ordered by its key (exports, round-trip checks)."""
        order = {"prices": "asset_id, date", "fetch_log": "id", "snapshots": "asset_id, quoted_at"}[name]
        with self.connect() as con:
            return con.execute(f"SELECT * FROM {name} ORDER BY {order}").df()


TABLES = ("prices", "fetch_log", "snapshots")
_SNAPSHOT_COLUMNS = (
    "asset_id", "quoted_at", "price", "prev_close", "currency", "source", "fetched_at", "market_state",
    "time_from_source",
)  # fmt: skip
_LOG_COLUMNS = (
    "asset_id", "source", "started_at", "finished_at", "start_date", "end_date", "rows", "status", "message",
    "message_key",
)  # fmt: skip
_IMPORT_LOG = f"""
INSERT INTO fetch_log ({", ".join(_LOG_COLUMNS)})
SELECT {", ".join(_LOG_COLUMNS)} FROM incoming i
WHERE NOT EXISTS (
    SELECT 1 FROM fetch_log f
    WHERE f.asset_id = i.asset_id AND f.source IS NOT DISTINCT FROM i.source AND f.started_at = i.started_at
)
"""


def _message_columns(message: Msg | None) -> tuple[str, str | None]:
    """A message as the two columns that keep it: its English text, and its catalog key with parameters."""
    if message is None:
        return "", None
    return str(message)[:2000], message.to_json()


def _sql_text(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def read_export(folder: Path) -> dict[str, pd.DataFrame]:
    """The tables of an EXPORT DATABASE folder, read by IMPORT DATABASE into a throwaway in-memory database."""
    if not (folder / "schema.sql").is_file() or not (folder / "load.sql").is_file():
        raise StoreError(msg("store.not_a_backup", folder=str(folder)))
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"IMPORT DATABASE {_sql_text(folder)}")
        present = {row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        # A backup from before a table existed (snapshots) simply has none of its rows.
        return {t: con.execute(f"SELECT * FROM {t}").df() if t in present else pd.DataFrame() for t in TABLES}
    except duckdb.Error as exc:
        raise StoreError(
            msg("store.backup_unreadable", folder=str(folder), said=Said(str(exc).splitlines()[0], "en", prefix=": "))
        ) from None
    finally:
        con.close()
