"""Backups: the whole store exported as Parquet (DuckDB EXPORT DATABASE), and a merge of such a backup (a folder or
the Data page's ZIP) that never replaces a day with one from a worse source."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from marketdash.domain.i18n import Said, msg
from marketdash.domain.records import BAR_COLUMNS, DIVIDEND_COLUMNS, SOURCE_RANK, dividend_frame
from marketdash.services.store.dividends import IMPORT_DIVIDENDS
from marketdash.services.store.files import StoreError
from marketdash.services.store.prices import IMPORT_PRICES
from marketdash.services.store.quotes import INSERT_SNAPSHOTS, SNAPSHOT_COLUMNS

TABLES = ("prices", "fetch_log", "snapshots", "dividends")
_LOG_COLUMNS = (
    "asset_id", "source", "started_at", "finished_at", "start_date", "end_date", "rows", "status", "message",
    "message_key", "dataset",
)  # fmt: skip
_IMPORT_LOG = f"""
INSERT INTO fetch_log ({", ".join(_LOG_COLUMNS)})
SELECT {", ".join(_LOG_COLUMNS)} FROM incoming i
WHERE NOT EXISTS (
    SELECT 1 FROM fetch_log f
    WHERE f.asset_id = i.asset_id AND f.source IS NOT DISTINCT FROM i.source AND f.started_at = i.started_at
      AND coalesce(f.dataset, 'prices') = coalesce(i.dataset, 'prices')
)
"""


class Backups:
    """Export, import and whole-table reads (a part of Store)."""

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
        source, or an older fetch of an equally good one; attempts not yet logged are added; a dividend is taken
        where the store has none, or an unfixed one the backup has fixed, or an older fetch of a row alike. Rows
        taken per table."""
        tables = read_export(folder)
        prices = tables["prices"].copy()
        prices["source_rank"] = prices["source"].map(SOURCE_RANK).fillna(0).astype("int32")
        before = self.row_counts()
        self._write(IMPORT_PRICES, frame=prices.loc[:, [*BAR_COLUMNS, "fetched_at", "source_rank"]])
        log = tables["fetch_log"]
        if not log.empty:
            if "message_key" not in log:  # a backup from before message keys: its messages stay English
                log = log.assign(message_key=pd.Series([None] * len(log), dtype=object, index=log.index))
            if "dataset" not in log:  # a backup from before dividends: every attempt fetched prices
                log = log.assign(dataset="prices")
            self._write(_IMPORT_LOG, frame=log.loc[:, list(_LOG_COLUMNS)])
        quotes = tables["snapshots"]
        if not quotes.empty:  # a backup from before a column existed has none of its values
            quotes = quotes.reindex(columns=list(SNAPSHOT_COLUMNS))
            self._write(INSERT_SNAPSHOTS, frame=quotes)
        dividends = tables["dividends"]
        if not dividends.empty:  # a backup from before the table has none
            self._write(IMPORT_DIVIDENDS, frame=dividend_frame(dividends).loc[:, list(DIVIDEND_COLUMNS)])
        after = self.row_counts()
        return {t: after[t] - before[t] for t in TABLES}

    def row_counts(self) -> dict[str, int]:
        with self.connect() as con:
            return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}

    def table(self, name: str) -> pd.DataFrame:
        """A whole table, ordered by its key (exports, round-trip checks)."""
        order = {"prices": "asset_id, date", "fetch_log": "id", "snapshots": "asset_id, quoted_at",
                 "dividends": "asset_id, record_date, kind"}[name]  # fmt: skip
        with self.connect() as con:
            return con.execute(f"SELECT * FROM {name} ORDER BY {order}").df()


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
