"""Live quotes (never in `prices`) and the last failure of each asset's quotes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd

from marketdash.domain.i18n import Msg
from marketdash.domain.records import Quote
from marketdash.services.store.files import message_columns, utcnow

SNAPSHOT_COLUMNS = (
    "asset_id", "quoted_at", "price", "prev_close", "currency", "source", "fetched_at", "market_state",
    "time_from_source", "quote_kind", "session",
)  # fmt: skip
INSERT_SNAPSHOTS = (
    f"INSERT INTO snapshots ({', '.join(SNAPSHOT_COLUMNS)}) SELECT {', '.join(SNAPSHOT_COLUMNS)} FROM incoming"
    " ON CONFLICT DO NOTHING"
)


class QuoteTables:
    """`snapshots` and `quote_errors` (a part of Store)."""

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
                "quote_kind": [q.kind for q in quotes],
                "session": pd.to_datetime(pd.Series([q.session for q in quotes], dtype=object)),
            }
        ).drop_duplicates(["asset_id", "quoted_at"])
        self._write(INSERT_SNAPSHOTS, frame=frame)
        return len(frame)

    def record_quote_error(self, asset_id: str, source: str, message: Msg) -> None:
        sql = (
            "INSERT INTO quote_errors (asset_id, failed_at, source, message, message_key) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (asset_id) DO UPDATE SET failed_at = excluded.failed_at, source = excluded.source,"
            " message = excluded.message, message_key = excluded.message_key"
        )
        self._write(sql, [asset_id, utcnow(), source, *message_columns(message)])

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
