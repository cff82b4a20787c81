"""Every symbol beyond the seven (`MarketService.universe`): the stored lists, their daily refresh, search, the
resolution of added ids into catalog entries, and the user's own list.

Lists are fetched at most once a day (a failure is retried after an hour), each validated before it replaces the
stored one; offline, or before the first download, search covers the seven and what is stored.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import pandas as pd

from collectors.base import StockInfo
from collectors.errors import CollectorError, NetworkError
from marketdash.domain import catalog, symbols
from marketdash.domain.config import Settings
from marketdash.domain.i18n import Msg, msg, stored
from marketdash.domain.symbols import MasterError, SymbolIndex
from marketdash.services.store import Store, StoreError, utcnow

log = logging.getLogger(__name__)
T = TypeVar("T")
_LIST_COLUMNS = ("list", "as_of", "fetched_at", "rows", "tried_at", "error", "error_key")

FRESH_FOR = dt.timedelta(days=1)
RETRY_AFTER = dt.timedelta(hours=1)
# The lists that must be stored before an id they do not hold is called unknown (KONEX's layout is unverified).
DECIDING = {"krx": ("kospi", "kosdaq"), "kidx": ("idx",), "us": ("nas", "nys", "ams"), "ovs": ("frgn",),
            "coin": ("upbit",)}  # fmt: skip


@dataclass(frozen=True)
class ListStatus:
    name: str
    status: str  # "ok" (downloaded now), "fresh" (kept: fetched within a day), "error", "offline"
    rows: int = 0
    as_of: dt.date | None = None
    note: Msg | None = None

    def line(self) -> str:
        """The command line's line per list."""
        as_of = f"as of {self.as_of}" if self.as_of else "no list stored"
        text = f"{self.name:<7} {self.status:<7} {self.rows:>6} symbols  {as_of}"
        return f"{text}  {self.note}" if self.note else text


class Universe:
    def __init__(self, store: Store, settings: Settings,
                 stock_info: Callable[[], StockInfo | None] | None = None) -> None:  # fmt: skip
        self.store = store
        self.settings = settings
        self._stock_info = stock_info  # KIS's word on what a KRX code is, where no list has said it
        self._index: SymbolIndex | None = None
        self._signature: tuple | None = None
        self._checked: set[str] = set()  # added ids looked up in the stored lists since their last refresh
        self._mine: list[str] | None = None  # the user's list as last read or written by this process
        self._lock = threading.Lock()

    @staticmethod
    def _read(read: Callable[[], T], default: T) -> T:
        """A read of the symbol tables; a store that cannot be used (busy, unreadable) reads as holding none, and
        the page says the store's problem where it loads prices."""
        try:
            return read()
        except StoreError:
            return default

    def _symbols(self, ids: Sequence[str] | None) -> pd.DataFrame:
        return self._read(lambda: self.store.symbols(ids), pd.DataFrame(columns=list(symbols.COLUMNS)))

    # -- the lists ----------------------------------------------------------------------------------------------
    def lists(self) -> pd.DataFrame:
        return self._read(self.store.symbol_lists, pd.DataFrame(columns=list(_LIST_COLUMNS)))

    def stale(self, now: dt.datetime | None = None) -> bool:
        """Some list is due for a download (never fetched, older than a day, or failed over an hour ago)."""
        if self.settings.offline:
            return False
        now = (now or utcnow()).replace(tzinfo=None)
        rows = self.lists().set_index("list")
        return any(not self._fresh(rows, m.name, now) for m in symbols.LISTS)

    @staticmethod
    def _fresh(rows: pd.DataFrame, name: str, now: dt.datetime) -> bool:
        """Not due: downloaded within a day, or failed within the hour (not asked again yet)."""
        if name not in rows.index:
            return False
        row = rows.loc[name]
        fetched, tried = row["fetched_at"], row["tried_at"]
        if pd.notna(fetched) and now - fetched < FRESH_FOR:
            return True
        return pd.notna(tried) and pd.notna(row["error"]) and now - tried < RETRY_AFTER

    def refresh(self, force: bool = False, progress: Callable[[str], None] | None = None) -> list[ListStatus]:
        """Download the lists that are due (all with `force`), validate each and store it; a failed one keeps the
        stored list. A host that cannot be reached is not asked for its other lists this time."""
        rows = self.lists().set_index("list")
        if self.settings.offline:
            return [self._kept(rows, m.name, "offline", msg("live.offline")) for m in symbols.LISTS]
        from collectors.masters import MasterSource

        source, now, out = MasterSource(self.settings), utcnow().replace(tzinfo=None), []
        unreachable: dict[bool, Msg] = {}  # by host (KIS zips / Upbit): why it could not be reached
        with self._lock:
            for master in symbols.LISTS:
                host = master.archive is None
                if not force and self._fresh(rows, master.name, now):
                    failed = self.last_errors().get(master.name)
                    out.append(self._kept(rows, master.name, "error" if failed else "fresh", failed))
                    continue
                if host in unreachable:
                    out.append(self._kept(rows, master.name, "error", unreachable[host]))
                    continue
                if progress:
                    progress(master.name)
                out.append(self._download(source, master, rows, unreachable))
            self._index = None
            self._checked.clear()
        return out

    def _download(self, source, master: symbols.MasterList, rows: pd.DataFrame, unreachable: dict) -> ListStatus:
        try:
            fetched = source.fetch(master)
            symbols.check_count(master.name, len(fetched.symbols), _stored_rows(rows, master.name))
            self.store.replace_symbols(master.name, fetched.symbols, fetched.as_of)
        except StoreError as exc:  # the list arrived but cannot be saved: the stored one stays
            return self._kept(rows, master.name, "error", exc.msg)
        except (CollectorError, MasterError) as exc:
            if isinstance(exc, NetworkError):
                unreachable[master.archive is None] = exc.msg
            failure = exc.msg
            self._read(lambda: self.store.symbol_list_failed(master.name, failure), None)
            return self._kept(rows, master.name, "error", failure)
        return ListStatus(master.name, "ok", len(fetched.symbols), fetched.as_of)

    @staticmethod
    def _kept(rows: pd.DataFrame, name: str, status: str, note: Msg | None = None) -> ListStatus:
        count = _stored_rows(rows, name)
        as_of = pd.Timestamp(rows.loc[name, "as_of"]).date() if count else None
        return ListStatus(name, status, count, as_of, note)

    def last_errors(self) -> dict[str, Msg | str]:
        """Each list's last failure that is newer than its last download, in the reader's language."""
        out = {}
        for row in self.lists().itertuples():
            if isinstance(row.error, str) and (pd.isna(row.fetched_at) or row.tried_at > row.fetched_at):
                out[row.list] = stored(row.error, row.error_key)
        return out

    # -- search -------------------------------------------------------------------------------------------------
    def index(self) -> SymbolIndex:
        """The search index over the stored lists, rebuilt when one of them changed."""
        lists = self.lists()
        signature = tuple(zip(lists["list"], lists["fetched_at"], strict=True))
        with self._lock:
            if self._index is None or signature != self._signature:
                stored = self._symbols(None)
                self._index, self._signature = SymbolIndex(stored), signature
            return self._index

    def search(self, text: str, limit: int = 20) -> pd.DataFrame:
        return self.index().search(text, limit)

    def covered(self) -> bool:
        """Every list is stored: search covers the whole universe."""
        return set(self.lists().dropna(subset=["fetched_at"])["list"]) >= {m.name for m in symbols.LISTS}

    # -- resolving ids ------------------------------------------------------------------------------------------
    def resolve(self, asset_ids: Sequence[str]) -> tuple[list[str], list[str]]:
        """(usable ids, unknown ids): each id canonical, each added symbol registered with its list's names and
        exchange. An id is unknown when it is malformed, or when the lists that would hold it are stored and do
        not (without them, the id alone is tried at the source)."""
        canonical = []
        unknown = []
        for raw in asset_ids:
            try:
                asset_id = catalog.get(raw).id
            except catalog.UnknownAssetError:
                unknown.append(str(raw))
                continue
            if asset_id not in canonical:
                canonical.append(asset_id)
        added = [a for a in canonical if a not in catalog.ASSETS and a not in self._checked]
        if not added:  # every page run resolves its ids: the store is asked only about ids not named yet
            return canonical, unknown
        rows = self._symbols(added).set_index("id")
        have = set(self.lists().dropna(subset=["fetched_at"])["list"])
        usable = []
        for asset_id in canonical:
            if asset_id in rows.index and symbols.NOT_SERVED in str(rows.loc[asset_id, "warnings"] or ""):
                unknown.append(asset_id)  # listed, but KIS serves no prices of it
                continue
            if asset_id in rows.index:
                catalog.register(symbols.to_asset({"id": asset_id, **rows.loc[asset_id].to_dict()}))
            elif asset_id in added and set(DECIDING[asset_id.split(":")[0]]) <= have:
                unknown.append(asset_id)
                continue
            elif asset_id in added and asset_id.startswith("krx:") and not catalog.get(asset_id).listing:
                self._ask_kind(asset_id)
            self._checked.add(asset_id)
            usable.append(asset_id)
        return usable, unknown

    def _ask_kind(self, asset_id: str) -> None:
        """A KRX code no list names yet: its kind (stock, ETF, ETN …) from what KIS said of it before, else asked
        once now (with keys and the network); unknown stays unknown, and a portfolio says which tax it assumed."""
        group = self._read(lambda: self.store.security_groups([asset_id]), {}).get(asset_id)
        source = None if group or self.settings.offline or self._stock_info is None else self._stock_info()
        if source is not None:
            try:
                group = source.security_group(asset_id.split(":", 1)[1])
            except CollectorError as exc:
                log.info("no security group for %s: %s", asset_id, exc)
            if group:
                self._read(lambda: self.store.save_security_group(asset_id, group), None)
        if group:
            catalog.register(catalog.symbol_asset(asset_id, kind=symbols.group_kind(group)))

    def due_for(self, asset_ids: Sequence[str]) -> bool:
        """Added ids the stored lists do not name while the lists are due: worth a download before drawing (a fresh
        app opened on a link with added symbols)."""
        added = [a for a in asset_ids if a not in catalog.ASSETS]
        if not added or not self.stale():
            return False
        return len(self._symbols(added)) < len(added)

    def warnings(self, asset_ids: Sequence[str]) -> dict[str, list[str]]:
        """Per added asset, what its list flags (거래정지, 관리종목, 투자경고, Upbit's 유의…) as locale keys."""
        added = [a for a in asset_ids if a not in catalog.ASSETS]
        if not added:
            return {}
        rows = self._symbols(added)
        return {r.id: r.warnings.split() for r in rows.itertuples() if isinstance(r.warnings, str) and r.warnings}

    # -- the user's list ----------------------------------------------------------------------------------------
    def user_assets(self) -> list[str]:
        """The user's added assets, read once per process (every page run asks; only this process changes it)."""
        if self._mine is None:
            mine = self._read(self.store.user_assets, None)
            if mine is None:  # an unusable store: none, asked again next time
                return []
            self._mine = [a for a in mine if catalog.known(a)]
        return list(self._mine)

    def add(self, asset_id: str) -> str:
        asset_id = catalog.get(asset_id).id
        if asset_id not in catalog.ASSETS:
            self.store.add_user_asset(asset_id)
            self._mine = None
        return asset_id

    def remove(self, asset_id: str) -> None:
        self.store.remove_user_asset(catalog.get(asset_id).id)
        self._mine = None


def _stored_rows(rows: pd.DataFrame, name: str) -> int:
    """How many symbols the stored list holds (0: none stored, or only a failure on record)."""
    value = rows.loc[name, "rows"] if name in rows.index else None
    return 0 if value is None or pd.isna(value) else int(value)
