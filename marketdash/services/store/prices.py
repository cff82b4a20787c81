"""Daily bars and the fetch log: bars merged so that a worse source never replaces a better one's day, and every
collection attempt on record, failures and killed runs included."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from marketdash.domain.i18n import Msg, stored
from marketdash.domain.records import BAR_COLUMNS, SOURCE_RANK
from marketdash.services.store.files import message_columns, utcnow

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
IMPORT_PRICES = _MERGE_PRICES.format(
    keep_when="excluded.source_rank < prices.source_rank"
    " OR (excluded.source_rank = prices.source_rank AND excluded.fetched_at > prices.fetched_at)"
)


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


PRICES = "prices"  # fetch_log.dataset of daily-bar attempts (the others: "dividends")
_OF_DATASET = "coalesce(dataset, 'prices') = ?"
# The latest attempt per asset; one still running (or killed) has no finished_at yet.
_LATEST = (
    "QUALIFY row_number() OVER (PARTITION BY asset_id ORDER BY coalesce(finished_at, started_at) DESC, id DESC) = 1"
)


class PriceTables:
    """`prices` and `fetch_log` (a part of Store)."""

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

    def rows_from(self, asset_ids: Sequence[str], start: dt.date | None) -> int:
        """How many bars of `asset_ids` are stored on or after `start` (all with None): whether a view has changed."""
        if not asset_ids:
            return 0
        sql = f"SELECT count(*) FROM prices WHERE asset_id IN ({', '.join('?' * len(asset_ids))}) AND date >= ?"
        with self.connect() as con:
            return con.execute(sql, [*asset_ids, start or dt.date.min]).fetchone()[0]

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

    def begin_attempt(
        self, asset_id: str, source: str, start_date: dt.date | None, end_date: dt.date | None, dataset: str = PRICES
    ) -> int:
        """Log an attempt before it fetches anything, so one killed halfway is still on record (status 'running').
        `dataset`: what it fetches, daily bars (PRICES) or dividends."""
        sql = (
            "INSERT INTO fetch_log (asset_id, source, started_at, start_date, end_date, rows, status, message, dataset)"
            " VALUES (?, ?, ?, ?, ?, 0, 'running', '', ?) RETURNING id"
        )
        return self._write(sql, [asset_id, source, utcnow(), start_date, end_date, dataset])[0][0]

    def end_attempt(self, attempt_id: int, rows: int, status: str, message: Msg | None) -> None:
        sql = "UPDATE fetch_log SET finished_at = ?, rows = ?, status = ?, message = ?, message_key = ? WHERE id = ?"
        text, key = message_columns(message)
        self._write(sql, [utcnow(), rows, status, text, key, attempt_id])

    def log_fetch(self, attempt: FetchAttempt) -> None:
        sql = (
            "INSERT INTO fetch_log (asset_id, source, started_at, finished_at, start_date, end_date, rows, status,"
            " message, message_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        a = attempt
        params = [a.asset_id, a.source, a.started_at, a.finished_at, a.start_date, a.end_date, a.rows, a.status]
        self._write(sql, [*params, a.message[:2000], a.message_key])

    def requested_history(self, asset_id: str, dataset: str = PRICES) -> tuple[dt.date | None, dt.date | None]:
        """The earliest start any attempt asked for, and the earliest start of one that finished 'ok': the source
        has nothing before what the store holds once an attempt from that start has completed."""
        sql = (
            "SELECT min(start_date), min(start_date) FILTER (WHERE status = 'ok') FROM fetch_log"
            f" WHERE asset_id = ? AND {_OF_DATASET}"
        )
        with self.connect() as con:
            asked, completed = con.execute(sql, [asset_id, dataset]).fetchone()
        return asked, completed

    def last_attempts(self, dataset: str = PRICES) -> dict[str, FetchAttempt]:
        """The latest fetch attempt per asset (of daily bars, or of `dataset`)."""
        sql = f"""
            SELECT asset_id, source, started_at, finished_at, start_date, end_date, rows, status, message, message_key
            FROM fetch_log WHERE {_OF_DATASET} {_LATEST}
        """
        with self.connect() as con:
            rows = con.execute(sql, [dataset]).fetchall()
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
                FROM fetch_log WHERE {_OF_DATASET}
                {_LATEST})
            SELECT coalesce(c.asset_id, l.asset_id) AS asset_id, first_date, last_date, coalesce(rows, 0) AS rows,
                   sources, last_attempt, last_status, last_message, last_message_key
            FROM c FULL OUTER JOIN l ON c.asset_id = l.asset_id ORDER BY 1
        """
        with self.connect() as con:
            return con.execute(sql, [PRICES]).df()
