"""The symbol lists and the user's own added assets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd

from marketdash.domain.i18n import Msg
from marketdash.domain.symbols import COLUMNS
from marketdash.services.store.files import message_columns, utcnow


class SymbolTables:
    """`symbols`, `symbol_lists`, `user_assets` and `security_groups` (a part of Store)."""

    def replace_symbols(self, name: str, symbols: pd.DataFrame, as_of: dt.date) -> None:
        """One list's symbols replaced by a validated new one, with its as-of date, in one transaction."""
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
        text, key = message_columns(message)
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

    def security_groups(self, ids: Sequence[str]) -> dict[str, str]:
        """What KIS said each KRX id is (its 증권그룹), for the ids it was asked about."""
        if not ids:
            return {}
        with self.connect() as con:
            rows = con.execute(f"SELECT id, grp FROM security_groups WHERE id IN ({', '.join('?' * len(ids))})",
                               list(ids)).fetchall()  # fmt: skip
        return dict(rows)

    def save_security_group(self, asset_id: str, group: str) -> None:
        self._write("INSERT OR REPLACE INTO security_groups VALUES (?, ?, ?)", [asset_id, group, utcnow()])
