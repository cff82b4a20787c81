"""Cash dividends (the `dividends` table): merged so that a fetch never worsens what is stored. A row is only ever
added or revised, never deleted, and a fixed row is not replaced by an unfixed one (a later answer that says "not
confirmed" about an amount already confirmed)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from marketdash.domain.records import DIVIDEND_COLUMNS, dividend_frame
from marketdash.services.store.files import utcnow

_COLUMNS = ", ".join(DIVIDEND_COLUMNS)
_MERGE = """
INSERT INTO dividends
SELECT asset_id, CAST(record_date AS DATE), CAST(ex_date AS DATE), CAST(pay_date AS DATE), amount, currency, kind,
       fixed, source, fetched_at
FROM incoming
ON CONFLICT (asset_id, record_date, kind) DO UPDATE SET
    ex_date = excluded.ex_date, pay_date = excluded.pay_date, amount = excluded.amount,
    currency = excluded.currency, fixed = excluded.fixed, source = excluded.source, fetched_at = excluded.fetched_at
WHERE {keep_when}
"""
# A fetch revises any row it may (a fixed one only with a fixed one); an import takes a row only where the store's
# is unfixed and the backup's fixed, or both are alike and the backup's was fetched later.
UPSERT_DIVIDENDS = _MERGE.format(keep_when="excluded.fixed OR NOT dividends.fixed")
IMPORT_DIVIDENDS = _MERGE.format(
    keep_when="(excluded.fixed AND NOT dividends.fixed)"
    " OR (excluded.fixed = dividends.fixed AND excluded.fetched_at > dividends.fetched_at)"
)


class DividendTables:
    """`dividends` (a part of Store)."""

    def upsert_dividends(self, dividends: pd.DataFrame) -> int:
        """Insert or revise dividends in one transaction (a fixed row never by an unfixed one); rows offered."""
        if dividends.empty:
            return 0
        frame = dividend_frame(dividends).drop_duplicates(["asset_id", "record_date", "kind"], keep="last")
        if frame["record_date"].isna().any() or frame["kind"].isna().any():
            raise ValueError("refusing dividends without a record date or kind")
        frame["fetched_at"] = utcnow()
        self._write(UPSERT_DIVIDENDS, frame=frame)
        return len(frame)

    def read_dividends(self, asset_ids: Sequence[str] | None = None) -> pd.DataFrame:
        """Stored dividends with exactly the table's columns (dates as datetime64), sorted by asset, record date and
        kind; all of them, or those of `asset_ids`."""
        where, params = "", []
        if asset_ids is not None:
            where, params = f"WHERE asset_id IN ({', '.join('?' * len(asset_ids))})", list(asset_ids)
            if not asset_ids:
                where = "WHERE FALSE"
        with self.connect() as con:
            frame = con.execute(f"SELECT {_COLUMNS} FROM dividends {where}", params).df()
        return dividend_frame(frame)

    def dividend_counts(self) -> dict[str, int]:
        """Rows stored per asset."""
        with self.connect() as con:
            return dict(con.execute("SELECT asset_id, count(*) FROM dividends GROUP BY asset_id").fetchall())

    def unfixed_since(self, asset_id: str) -> pd.Timestamp | None:
        """The oldest record date of the asset's dividends not fixed yet (None: all fixed): a fetch reaches back
        to it, so such a row is asked for again until the source confirms it."""
        with self.connect() as con:
            (day,) = con.execute(
                "SELECT min(record_date) FROM dividends WHERE asset_id = ? AND NOT fixed", [asset_id]
            ).fetchone()
        return None if day is None else pd.Timestamp(day)
