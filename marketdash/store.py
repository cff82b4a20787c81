"""The DuckDB store of daily bars and fetch attempts (SPEC.md, "The store").

DuckDB locks the whole file per process, even against read-only opens, and refuses one connection used by two
threads at once. So a process opens the file only while some call is in flight, each call works on its own cursor,
and the file is closed when the last call ends: the app never holds the file between calls, the command-line
collector can write while the app is open, and Streamlit's threads never share a connection. A lock held by another
process is waited for briefly, then reported as StoreBusyError.
"""

from __future__ import annotations

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

from marketdash.records import BAR_COLUMNS

# A lower rank is a better source for the same day; a worse one never replaces a better one.
SOURCE_RANK = {"kis": 0, "upbit": 0, "bithumb": 1, "ecb": 2, "sample": 9}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS prices (
    asset_id VARCHAR NOT NULL, date DATE NOT NULL,
    open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE NOT NULL, volume DOUBLE,
    currency VARCHAR, source VARCHAR, fetched_at TIMESTAMP, source_rank INTEGER DEFAULT 0,
    PRIMARY KEY (asset_id, date)
);
CREATE SEQUENCE IF NOT EXISTS fetch_log_id;
CREATE TABLE IF NOT EXISTS fetch_log (
    id BIGINT DEFAULT nextval('fetch_log_id'), asset_id VARCHAR, source VARCHAR,
    started_at TIMESTAMP, finished_at TIMESTAMP, start_date DATE, end_date DATE,
    rows INTEGER, status VARCHAR, message VARCHAR
);
"""

_UPSERT = """
INSERT INTO prices
SELECT asset_id, CAST(date AS DATE), open, high, low, close, volume, currency, source, fetched_at, source_rank
FROM incoming
ON CONFLICT (asset_id, date) DO UPDATE SET
    open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
    volume = excluded.volume, currency = excluded.currency, source = excluded.source,
    fetched_at = excluded.fetched_at, source_rank = excluded.source_rank
WHERE excluded.source_rank <= prices.source_rank
"""


_SCHEMA_LOCK = threading.Lock()
_OPEN_LOCK = threading.Lock()
_OPEN: dict[Path, list] = {}  # resolved path -> [instance, calls in flight]


def _acquire(path: Path, busy_timeout: float) -> duckdb.DuckDBPyConnection:
    """Open the file once per process (threads share it through cursors), waiting while another process holds it.

    DuckDB refuses a second attach of one file racing in from another thread, and a second process cannot open the
    file at all while this one holds it: so the instance lives only while some call is using it.
    """
    key = path.resolve()
    with _OPEN_LOCK:
        entry = _OPEN.get(key)
        if entry is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            entry = _OPEN[key] = [_open_with_retry(path, busy_timeout), 0]
        entry[1] += 1
        return entry[0]


def _release(path: Path) -> None:
    key = path.resolve()
    with _OPEN_LOCK:
        entry = _OPEN[key]
        entry[1] -= 1
        if entry[1] == 0:
            del _OPEN[key]
            entry[0].close()


def _open_with_retry(path: Path, busy_timeout: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + busy_timeout
    delay = 0.01
    while True:
        try:
            return duckdb.connect(str(path))
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() >= deadline:
                raise StoreBusyError(
                    f"The data store {path.name} is in use by another program "
                    f"(waited {busy_timeout:.0f} s). Try again when its update has finished."
                ) from None
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 0.25)


class StoreBusyError(RuntimeError):
    """Another process kept the store locked for longer than we wait."""


@dataclass(frozen=True)
class FetchAttempt:
    """One row of fetch_log: a collection attempt, failures included."""

    asset_id: str
    source: str
    started_at: dt.datetime
    finished_at: dt.datetime
    start_date: dt.date | None
    end_date: dt.date | None
    rows: int
    status: str  # "ok" or "error"
    message: str


def utcnow() -> dt.datetime:
    """Naive UTC, the way TIMESTAMP columns hold it."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


BUSY_TIMEOUT = 15.0  # seconds to wait for another process's lock before saying the store is busy


class Store:
    def __init__(self, path: Path | str, busy_timeout: float | None = None) -> None:
        self.path = Path(path)
        self.busy_timeout = BUSY_TIMEOUT if busy_timeout is None else busy_timeout
        self._schema_ready = False

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on this process's one open instance of the file, which is closed when no call uses it."""
        con = _acquire(self.path, self.busy_timeout)
        try:
            cursor = con.cursor()
            try:
                if not self._schema_ready:
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
    ) -> None:
        """Run one write in a transaction, retrying a conflict with another writer of this process."""
        for attempt in range(6):
            with self.connect() as con:
                try:
                    con.execute("BEGIN TRANSACTION")
                    if frame is not None:
                        con.register("incoming", frame)
                    con.execute(sql, params)
                    con.execute("COMMIT")
                    return
                except duckdb.TransactionException:
                    con.execute("ROLLBACK")
                    if attempt == 5:
                        raise
                except BaseException:
                    con.execute("ROLLBACK")
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
        if frame["close"].isna().any() or (frame["close"] <= 0).any():
            raise ValueError("refusing bars without a positive close")
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

    def last_dates(self) -> dict[str, dt.date]:
        with self.connect() as con:
            rows = con.execute("SELECT asset_id, max(date) FROM prices GROUP BY asset_id").fetchall()
        return {asset_id: last for asset_id, last in rows}

    def log_fetch(self, attempt: FetchAttempt) -> None:
        sql = (
            "INSERT INTO fetch_log (asset_id, source, started_at, finished_at, start_date, end_date, rows, status,"
            " message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        a = attempt
        params = [
            a.asset_id,
            a.source,
            a.started_at,
            a.finished_at,
            a.start_date,
            a.end_date,
            a.rows,
        ]
        self._write(sql, [*params, a.status, a.message[:2000]])

    def last_attempts(self) -> dict[str, FetchAttempt]:
        """The latest fetch attempt per asset."""
        sql = """
            SELECT asset_id, source, started_at, finished_at, start_date, end_date, rows, status, message
            FROM fetch_log QUALIFY row_number() OVER (PARTITION BY asset_id ORDER BY finished_at DESC, id DESC) = 1
        """
        with self.connect() as con:
            rows = con.execute(sql).fetchall()
        return {row[0]: FetchAttempt(*row) for row in rows}

    def coverage(self) -> pd.DataFrame:
        """Per asset: first and last date, rows, sources, and the latest attempt with its result."""
        sql = """
            WITH c AS (
                SELECT asset_id, min(date) AS first_date, max(date) AS last_date, count(*) AS rows,
                       string_agg(DISTINCT source, ', ' ORDER BY source) AS sources
                FROM prices GROUP BY asset_id),
            l AS (
                SELECT asset_id, finished_at AS last_attempt, status AS last_status, message AS last_message
                FROM fetch_log
                QUALIFY row_number() OVER (PARTITION BY asset_id ORDER BY finished_at DESC, id DESC) = 1)
            SELECT coalesce(c.asset_id, l.asset_id) AS asset_id, first_date, last_date, coalesce(rows, 0) AS rows,
                   sources, last_attempt, last_status, last_message
            FROM c FULL OUTER JOIN l ON c.asset_id = l.asset_id ORDER BY 1
        """
        with self.connect() as con:
            return con.execute(sql).df()
