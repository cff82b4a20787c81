"""What pages and the command line call: read the store, fetch only what is missing, fall back to sample data.

Data flows one way: page -> service -> store / collectors. A failed fetch keeps every bar that arrived before the
failure and never replaces a stored bar; sample bars live in their own store file and never enter the user's.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import io
import tempfile
import threading
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from collectors.base import Collector
from marketdash.analysis import conversion, integrity
from marketdash.domain import calendars, catalog, clock
from marketdash.domain.config import Settings
from marketdash.domain.i18n import Msg, msg
from marketdash.domain.records import bars_to_frame
from marketdash.services.dividends import DividendResult, DividendService, empty
from marketdash.services.live import LiveQuotes
from marketdash.services.sources import Sources
from marketdash.services.store import Store
from marketdash.services.universe import Universe
from marketdash.services.updates import Progress, UpdateResult, Updates


@dataclass(frozen=True)
class Freshness:
    last_date: dt.date | None
    sessions_behind: int | None
    stale: bool

    def note(self) -> Msg:
        if self.last_date is None:
            return msg("fresh.none")
        if self.stale:
            return msg("fresh.stale", behind=self.sessions_behind, day=self.last_date)
        return msg("fresh.through", day=self.last_date)


STALE_AFTER = 3  # sessions behind the market's calendar


def freshness(last_dates: dict[str, dt.date | None], now: dt.datetime | None = None) -> dict[str, Freshness]:
    """Each asset's last stored date and whether it is more than STALE_AFTER closed sessions behind its calendar."""
    now = now or clock.now()
    out = {}
    for asset_id, day in last_dates.items():
        behind = calendars.sessions_behind(catalog.get(asset_id), day, now)
        out[asset_id] = Freshness(day, behind, behind is not None and behind > STALE_AFTER)
    return out


@dataclass(frozen=True)
class PriceData:
    """Bars for pages, with where each asset's bars came from: 'store' (real) or 'sample'."""

    bars: pd.DataFrame
    origin: dict[str, str]  # 'store', 'sample', or 'none' (an added symbol with nothing stored: no sample exists)
    notes: dict[str, Msg] = field(default_factory=dict)
    freshness: dict[str, Freshness] = field(default_factory=dict)
    store_problem: Msg | None = None  # the user's store cannot be opened: why, and the way out
    # Cash dividends (the store's columns) from the same origin as each asset's bars: the store's for assets on
    # stored bars, the sample's (source 'sample') for assets on sample data, none for the others.
    dividends: pd.DataFrame = field(default_factory=empty)

    @property
    def sample_assets(self) -> list[str]:
        return [a for a, o in self.origin.items() if o == "sample"]

    @property
    def unavailable(self) -> list[str]:
        """Added symbols with no stored bars: never given invented prices; `notes` says why."""
        return [a for a, o in self.origin.items() if o == "none"]


def drop_unfinished(bars: pd.DataFrame, now: dt.datetime) -> pd.DataFrame:
    """Never mix today's unfinished session with closed ones: drop bars dated after their market's last close."""
    if bars.empty:
        return bars
    cutoffs = {a: pd.Timestamp(catalog.get(a).last_closed_date(now)) for a in bars["asset_id"].unique()}
    return bars.loc[bars["date"] <= bars["asset_id"].map(cutoffs)].reset_index(drop=True)


class MarketService(Updates):
    """What pages and the command line call: the reads here, the updates in `Updates`, live quotes in `live`, the
    symbol lists and the user's own list in `universe`."""

    def __init__(self, settings: Settings, collectors: dict[str, Collector] | None = None) -> None:
        self.settings = settings
        self.store = Store(settings.market_db)
        self.sample_store = Store(settings.sample_db)
        self.sources = Sources(settings, collectors)
        self._sample_checked: dt.date | None = None
        self._sample_lock = threading.Lock()
        self.live = LiveQuotes(self.store, self.sources)
        self.universe = Universe(self.store, settings, self.sources.stock_info)
        self.dividends = DividendService(self.store, self.sample_store, self.sources, settings)

    def update_with_dividends(
        self,
        asset_ids: Sequence[str],
        start: dt.date | None = None,
        end: dt.date | None = None,
        progress: Progress | None = None,
        workers: int = 1,
        dividends_from: dt.date | None = None,
    ) -> tuple[list[UpdateResult], dict[str, DividendResult]]:
        """The missing days of each series (`update`) and, beside them, the dividends of the paying ones
        (`dividends.update`, each at most once a day). On one KIS budget the dividends' few calls take the slots the
        series leave, instead of following the last series one by one (0.3 s at the end of a seven-series update)."""
        with ThreadPoolExecutor(max_workers=1) as side:
            paying = side.submit(contextvars.copy_context().run, self.dividends.update, asset_ids, dividends_from)
            results = self.update(asset_ids, start, end, progress=progress, workers=workers)
            return results, paying.result()

    def close(self) -> None:
        """Release both store files now, from the calling thread (a command's end: no DuckDB call is then left to a
        timer thread while Python exits, which aborted the process once in about 30 runs)."""
        self.store.close()
        self.sample_store.close()

    # -- reads ---------------------------------------------------------------------------------------------------
    def ensure_sample(self) -> None:
        """Build or extend the sample store up to the last closed session (deterministic values, idempotent). One
        thread builds it, the others wait for it (a first page and the server's warm-up, at once: twice the work)."""
        today = clock.now().date()
        if self._sample_checked == today:
            return
        with self._sample_lock:
            if self._sample_checked != today:
                self._build_sample(today)

    def _build_sample(self, today: dt.date) -> None:
        from collectors.sample import sample_frame

        now = clock.now()
        have = self.sample_store.last_dates()
        missing = [
            sample_frame(asset, have.get(asset.id), asset.last_closed_date(now))
            for asset in catalog.ASSETS.values()
            if have.get(asset.id) is None or have[asset.id] < calendars.expected_last_session(asset, now)
        ]
        if missing:  # one transaction for every asset
            self.sample_store.upsert_bars(pd.concat(missing, ignore_index=True))
        self._sample_checked = today

    def load(
        self,
        asset_ids: Sequence[str],
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> PriceData:
        """Bars of the range: the user's store for assets it holds, sample bars for the others (labelled).

        A store that cannot be opened at all (not a DuckDB file, another version's format) leaves every asset on
        sample data, with the store's problem in `store_problem` for the page to say.
        """
        problem = self.store_problem()
        held = {} if problem else self.store.last_dates()
        real_ids = [a for a in asset_ids if a in held]
        sample_ids = [a for a in asset_ids if a not in held and catalog.get(a).fixed]
        none_ids = [a for a in asset_ids if a not in held and not catalog.get(a).fixed]
        frames = [self.store.read_bars(real_ids, start, end)] if real_ids else []
        notes = {}
        last_dates: dict[str, dt.date | None] = {a: held[a] for a in real_ids}
        if sample_ids:
            self.ensure_sample()
            sample_last = self.sample_store.last_dates()
            last_dates.update({a: sample_last.get(a) for a in sample_ids})
            frames.append(self.sample_store.read_bars(sample_ids, start, end))
        if sample_ids or none_ids:
            attempts, live = ({} if problem else self.store.last_attempts()), self.sources.collectors()
            for a in [*sample_ids, *none_ids]:
                tried = attempts.get(a)
                if problem:
                    notes[a] = msg("sample.store_unusable")
                elif tried and tried.status == "error":
                    notes[a] = msg("sample.update_failed", error=tried.msg)
                elif a in live:
                    notes[a] = msg("sample.not_fetched" if a in sample_ids else "sym.not_fetched")
                else:
                    notes[a] = self.sources.why_not_live(a)
        filled = [f for f in frames if not f.empty]
        bars = pd.concat(filled, ignore_index=True) if filled else self.store.read_bars([])
        bars = drop_unfinished(bars, clock.now())
        origin = {a: ("store" if a in held else "sample" if a in sample_ids else "none") for a in asset_ids}
        dividends = self.dividends.read(real_ids, sample_ids)
        return PriceData(bars, origin, notes, freshness(last_dates), problem, dividends)

    def usd_krw(self, start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
        """USD/KRW bars for currency views: the store's (or the sample's) fixings, and the ECB reference rates
        shipped with the app on the days outside their span, so a view never shrinks to the weeks a new store
        holds while the history of USD/KRW is still being fetched. `source` says which each day is."""
        from collectors import ecb

        bars = self.load([catalog.FX_ASSET]).bars  # its whole span decides where the ECB's days are, not the window
        reference = bars_to_frame(ecb.transform(catalog.get(catalog.FX_ASSET), ecb.usdkrw_history()))
        both = conversion.in_force(pd.concat([bars, reference], ignore_index=True) if len(bars) else reference)
        inside = (both["date"] >= pd.Timestamp(start or dt.date.min)) & (
            both["date"] <= pd.Timestamp(end or dt.date.max)
        )
        return both.loc[inside].sort_values("date", ignore_index=True)

    def store_problem(self) -> Msg | None:
        """Why the user's store cannot be opened, in one sentence; None when it can (or does not exist yet)."""
        return self.store.problem()

    def backup_zip(self) -> bytes:
        """The whole store as one ZIP of its Parquet export (what `python -m collectors export` writes)."""
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "market-store"
            self.store.export_to(folder)
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(folder.iterdir()):
                    archive.write(path, f"market-store/{path.name}")
        return buffer.getvalue()

    def import_backup(self, path: Path) -> dict[str, int]:
        """Merge a backup into the store: a folder `export` wrote, or the ZIP the Data page offers."""
        if not zipfile.is_zipfile(path):
            return self.store.import_from(path)
        with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(path) as archive:
            archive.extractall(tmp)
            schema = next(Path(tmp).rglob("schema.sql"), None)
            return self.store.import_from(schema.parent if schema else Path(tmp))

    def check(self) -> pd.DataFrame:
        """The integrity report of the user's store (integrity.check): its bars and its dividends."""
        return integrity.check(self.store.read_bars(), dividends=self.store.read_dividends())

    def coverage(self) -> pd.DataFrame:
        """The user's store per asset (SPEC 'status'), every catalog asset listed even when empty."""
        cov = self.store.coverage().set_index("asset_id")
        extra = [a for a in [*self.universe.user_assets(), *cov.index] if a not in catalog.ASSETS]
        cov = cov.reindex(list(dict.fromkeys([*catalog.ASSETS, *extra])))
        cov["rows"] = cov["rows"].fillna(0).astype(int)
        cov["live_source"] = [getattr(self.sources.collectors().get(a), "source", "none") for a in cov.index]
        return cov.reset_index()
