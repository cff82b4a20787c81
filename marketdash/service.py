"""What pages and the command line call: read the store, fetch only what is missing, fall back to sample data.

Data flows one way: page -> service -> store / collectors. A failed fetch keeps every bar that arrived before the
failure and never replaces a stored bar; sample bars live in their own store file and never enter the user's.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import tempfile
import threading
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from collectors.base import Collector
from collectors.errors import CollectorError, NoDataError
from marketdash import calendars, catalog, clock, integrity
from marketdash.config import DEFAULT_START, Settings, mask_msg
from marketdash.i18n import Msg, msg
from marketdash.live import LiveQuotes
from marketdash.records import DailyBar, bars_to_frame
from marketdash.store import Store, StoreError, StoreUnreadableError
from marketdash.universe import Universe

log = logging.getLogger(__name__)

Progress = Callable[[str, float, Msg], None]  # (asset_id, fraction done, what it is doing)
OVERLAP_DAYS = 7  # re-read the last week: picks up the revised latest bar (US prices are replaced after the close)
AUTO_REFRESH_EVERY = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class UpdateResult:
    asset_id: str
    source: str
    status: str  # "ok", "error" or "skipped"
    new_rows: int = 0
    written: int = 0
    start: dt.date | None = None
    end: dt.date | None = None
    first_date: dt.date | None = None
    last_date: dt.date | None = None
    note: Msg | None = None  # why it failed, or what it found ("up to date")
    kind: str = ""

    @property
    def ok(self) -> bool:
        return self.status != "error"

    @property
    def message(self) -> str:
        """The note in English (the command line)."""
        return "" if self.note is None else str(self.note)

    def line(self) -> str:
        """The command line's one summary line per asset."""
        span = f"{self.first_date} .. {self.last_date}" if self.last_date else "no data stored"
        text = f"{self.asset_id:<9} {self.status:<7} {self.source:<8} {span:<24} +{self.new_rows} new"
        return f"{text}  {self.message}" if self.message else text


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


class _RangeFetch:
    """One asset's ranges fetched page by page, each page stored at once; counts what was written and from where."""

    def __init__(
        self,
        store: Store,
        collector: Collector,
        asset: catalog.Asset,
        ranges: list[tuple[dt.date, dt.date]],
        progress: Progress | None,
        stored_from: dt.date | None,
    ) -> None:
        self.store, self.collector, self.asset, self.ranges, self.progress = store, collector, asset, ranges, progress
        self.stored_from = stored_from
        self.written = 0
        self.sources: set[str] = set()
        self._total_days = sum((hi - lo).days + 1 for lo, hi in ranges)
        self._done_days = 0

    def run(self) -> None:
        for lo, hi in self.ranges:
            try:
                for page in self.collector.pages(self.asset, lo, hi):
                    self._store_page([b for b in page if lo <= b.date <= hi], lo, hi)
            except NoDataError:
                if self.stored_from is None or hi >= self.stored_from:
                    raise
                # Nothing before the first stored day: the source's history starts there. Not a failure.
            self._done_days += (hi - lo).days + 1

    def _store_page(self, page: list[DailyBar], lo: dt.date, hi: dt.date) -> None:
        if not page:
            return
        self.written += self.store.upsert_bars(bars_to_frame(page))
        self.sources.update(b.source for b in page)
        if self.progress:
            oldest = min(b.date for b in page)
            done = self._done_days + (hi - max(oldest, lo)).days + 1
            self.progress(self.asset.id, min(done / self._total_days, 1.0), msg("progress.span", start=oldest, end=hi))


class MarketService:
    def __init__(self, settings: Settings, collectors: dict[str, Collector] | None = None) -> None:
        self.settings = settings
        self.store = Store(settings.market_db)
        self.sample_store = Store(settings.sample_db)
        self._collectors = collectors
        self._lock = threading.Lock()
        self._sample_checked: dt.date | None = None
        self.live = LiveQuotes(self)
        self.universe = Universe(self)

    # -- sources -------------------------------------------------------------------------------------------------
    def collectors(self) -> dict[str, Collector]:
        """The live collector of each asset that has one under the current settings (built once)."""
        with self._lock:
            if self._collectors is None:
                from collectors.registry import live_collectors

                self._collectors = live_collectors(self.settings)
            return self._collectors

    def why_not_live(self, asset_id: str) -> Msg:
        """A sentence for the page when an asset has no live source (an added symbol has no sample data either)."""
        added = not catalog.get(asset_id).fixed
        if self.settings.offline:
            return msg("sym.needs_network") if added else msg("live.offline")
        if catalog.get(asset_id).source == "kis" and not self.settings.has_kis:
            return msg("sym.needs_keys") if added else msg("live.no_keys")
        return msg("live.no_source")

    # -- updates -------------------------------------------------------------------------------------------------
    def update(
        self,
        asset_ids: Sequence[str],
        start: dt.date | None = None,
        end: dt.date | None = None,
        progress: Progress | None = None,
        workers: int = 1,
    ) -> list[UpdateResult]:
        """Fetch what is missing for each asset. Each source runs in its own threads (`workers` of them for a
        source with several series, sharing its rate budget), so one source's wait (KIS's one-token-a-minute
        rule, a rate limit) never holds up another's series (Bitcoin)."""
        live = self.collectors()
        groups: dict[str, list[str]] = {}
        for asset_id in asset_ids:
            groups.setdefault(getattr(live.get(asset_id), "source", "-"), []).append(asset_id)

        def run(ids: list[str]) -> list[UpdateResult]:
            if workers <= 1 or len(ids) <= 1:
                return [self.update_one(a, start, end, progress) for a in ids]
            with ThreadPoolExecutor(max_workers=min(workers, len(ids))) as pool:
                return list(pool.map(lambda a: self.update_one(a, start, end, progress), ids))

        if len(groups) <= 1:
            return run(list(asset_ids))
        with ThreadPoolExecutor(max_workers=len(groups)) as pool:
            done = {r.asset_id: r for results in pool.map(run, groups.values()) for r in results}
        return [done[a] for a in asset_ids]

    def fetch_ranges(
        self,
        asset: catalog.Asset,
        start: dt.date | None,
        end: dt.date | None,
        now: dt.datetime,
        stored: tuple[dt.date | None, dt.date | None],
    ) -> list[tuple[dt.date, dt.date]]:
        """What to fetch, newest first: the days after the last stored one (less a small overlap), then any history
        before the first stored day that was asked for and never completed (a `--start` earlier than the store, a
        backfill killed or failed halfway). An empty store fetches from `start` (default DEFAULT_START).
        `stored` is the (first, last) date the store holds for the asset."""
        last_closed = asset.last_closed_date(now)
        end = min(end or last_closed, last_closed)
        first, last = stored
        if first is None or last is None:
            lo = start or dt.date.fromisoformat(DEFAULT_START)
            return [(lo, end)] if lo <= end else []
        ranges = []
        tail_lo = max(last - dt.timedelta(days=OVERLAP_DAYS), start or dt.date.min)
        if tail_lo <= end:
            ranges.append((tail_lo, end))
        head = self._head(asset, start, first, end)
        return [*ranges, head] if head else ranges

    def _head(
        self, asset: catalog.Asset, start: dt.date | None, first: dt.date, end: dt.date
    ) -> tuple[dt.date, dt.date] | None:
        """History before the first stored day that was asked for (`start`, else the earliest start any attempt
        asked for) and that no attempt from that far back has completed; None when there is none to fetch."""
        asked, completed = self.store.requested_history(asset.id)
        goal = start or asked
        if goal is None or goal >= first or (completed is not None and completed <= goal):
            return None
        head_end = min(first - dt.timedelta(days=1), end)
        if not len(calendars.sessions(asset.calendar, goal, head_end)):  # no session before the first stored day
            return None
        return goal, head_end

    def history_gaps(self, asset_ids: Sequence[str], start: dt.date | None = None) -> list[str]:
        """Assets with a live source and some stored days whose history does not yet reach back to `start`
        (default DEFAULT_START): what a backfill behind the page still has to fetch."""
        goal = start or dt.date.fromisoformat(DEFAULT_START)
        live, now = self.collectors(), clock.now()
        gaps = []
        for asset_id in asset_ids:
            first = self.store.span(asset_id)[0] if asset_id in live else None
            asset = catalog.get(asset_id)
            if first is not None and self._head(asset, goal, first, asset.last_closed_date(now)):
                gaps.append(asset_id)
        return gaps

    def update_one(
        self,
        asset_id: str,
        start: dt.date | None = None,
        end: dt.date | None = None,
        progress: Progress | None = None,
    ) -> UpdateResult:
        """Fetch what is missing for one asset, storing each page as it arrives (its own transaction), so a run
        killed halfway keeps every page it fetched and the next run resumes where it stopped."""
        asset = catalog.get(asset_id)
        collector = self.collectors().get(asset_id)
        if collector is None:
            return UpdateResult(asset_id, "-", "error", note=self.why_not_live(asset_id), kind="not configured")
        stored_from = stored_to = None
        try:
            stored_from, stored_to, before = self.store.span(asset_id)
            ranges = self.fetch_ranges(asset, start, end, clock.now(), (stored_from, stored_to))
            if not ranges:
                return UpdateResult(
                    asset_id, collector.source, "skipped", first_date=stored_from, last_date=stored_to,
                    note=msg("update.up_to_date"),
                )  # fmt: skip
            lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
            attempt = self.store.begin_attempt(asset_id, collector.source, lo, hi)
        except StoreError as exc:
            return UpdateResult(
                asset_id, collector.source, "error", first_date=stored_from, last_date=stored_to, note=exc.msg,
                kind="store",
            )  # fmt: skip

        fetch = _RangeFetch(self.store, collector, asset, ranges, progress, stored_from)
        status, note, kind = "ok", None, ""
        try:
            fetch.run()
        except StoreError as exc:
            status, note, kind = "error", exc.msg, "store"
        except CollectorError as exc:
            status, note, kind = "error", exc.msg, exc.kind
        except Exception as exc:  # a bug or an unforeseen reply: keep what arrived, report without a traceback
            log.exception("update of %s failed", asset_id)
            status, note, kind = (
                "error",
                msg("update.unexpected", kind=type(exc).__name__, detail=str(exc)),
                "unexpected",
            )
        note = None if note is None else mask_msg(note, self.settings.secrets())
        if status == "ok" and fetch.written == 0 and (hi - lo).days >= 7:
            status, kind, note = "error", "no data", msg("update.no_bars", start=lo, end=hi)
        try:
            self.store.end_attempt(attempt, fetch.written, status, note)
            first, last, after = self.store.span(asset_id)
        except StoreError as exc:
            return UpdateResult(asset_id, collector.source, "error", note=exc.msg, kind="store")
        if progress:
            progress(asset_id, 1.0, note or msg("progress.done"))
        source = "+".join(sorted(fetch.sources)) or collector.source
        return UpdateResult(
            asset_id, source, status, after - before, fetch.written, lo, hi, first, last, note, kind,
        )  # fmt: skip

    def stale_assets(self, asset_ids: Sequence[str], now: dt.datetime | None = None) -> list[str]:
        """Assets with a live source whose store lacks closed sessions and that were not tried a moment ago."""
        now = now or clock.now()
        live = self.collectors()
        last = self.store.last_dates()
        attempts = self.store.last_attempts()
        stale = []
        for asset_id in asset_ids:
            if asset_id not in live:
                continue
            asset = catalog.get(asset_id)
            stored = last.get(asset_id)
            if stored is not None and stored >= calendars.expected_last_session(asset, now):
                continue
            tried = attempts.get(asset_id)
            # A fetch under way (the history behind the pages, a cron job) has no finished_at yet; one killed
            # long ago never will, and no longer holds the asset back.
            when = tried and (tried.finished_at or tried.started_at)
            if when and now.replace(tzinfo=None) - when < AUTO_REFRESH_EVERY:
                continue
            stale.append(asset_id)
        return stale

    # -- reads ---------------------------------------------------------------------------------------------------
    def ensure_sample(self) -> None:
        """Build or extend the sample store up to the last closed session (deterministic values, idempotent)."""
        today = clock.now().date()
        if self._sample_checked == today:
            return
        from collectors.sample import SAMPLE_START, SampleCollector

        now = clock.now()
        have = self.sample_store.last_dates()
        sampler = SampleCollector()
        for asset in catalog.ASSETS.values():
            expected = calendars.expected_last_session(asset, now)
            if have.get(asset.id) is not None and have[asset.id] >= expected:
                continue
            bars = [b for page in sampler.pages(asset, SAMPLE_START, asset.last_closed_date(now)) for b in page]
            self.sample_store.upsert_bars(bars_to_frame(bars))
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
            attempts, live = ({} if problem else self.store.last_attempts()), self.collectors()
            for a in [*sample_ids, *none_ids]:
                tried = attempts.get(a)
                if problem:
                    notes[a] = msg("sample.store_unusable")
                elif tried and tried.status == "error":
                    notes[a] = msg("sample.update_failed", error=tried.msg)
                elif a in live:
                    notes[a] = msg("sample.not_fetched" if a in sample_ids else "sym.not_fetched")
                else:
                    notes[a] = self.why_not_live(a)
        filled = [f for f in frames if not f.empty]
        bars = pd.concat(filled, ignore_index=True) if filled else self.store.read_bars([])
        bars = drop_unfinished(bars, clock.now())
        origin = {a: ("store" if a in held else "sample" if a in sample_ids else "none") for a in asset_ids}
        return PriceData(bars, origin, notes, freshness(last_dates), problem)

    def usd_krw(self, start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
        """USD/KRW bars for currency views: the store's (or the sample's) fixings, and the ECB reference rates
        shipped with the app on the days outside their span, so a view never shrinks to the weeks a new store
        holds while the history of USD/KRW is still being fetched. `source` says which each day is."""
        from collectors import ecb

        bars = self.load([catalog.FX_ASSET], start, end).bars
        rates = ecb.usdkrw_history().loc[pd.Timestamp(start or dt.date.min) : pd.Timestamp(end or dt.date.max)]
        reference = bars_to_frame(ecb.transform(catalog.get(catalog.FX_ASSET), rates))
        if bars.empty:
            return reference
        outside = (reference["date"] < bars["date"].min()) | (reference["date"] > bars["date"].max())
        both = pd.concat([bars, reference[outside]], ignore_index=True) if outside.any() else bars
        return both.sort_values("date", ignore_index=True)

    def store_problem(self) -> Msg | None:
        """Why the user's store cannot be opened, in one sentence; None when it can (or does not exist yet)."""
        try:
            self.store.last_dates()
        except StoreUnreadableError as exc:
            return exc.msg
        return None

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
        """The integrity report of the user's store (integrity.check)."""
        return integrity.check(self.store.read_bars())

    def coverage(self) -> pd.DataFrame:
        """The user's store per asset (SPEC 'status'), every catalog asset listed even when empty."""
        cov = self.store.coverage().set_index("asset_id")
        extra = [a for a in [*self.universe.user_assets(), *cov.index] if a not in catalog.ASSETS]
        cov = cov.reindex(list(dict.fromkeys([*catalog.ASSETS, *extra])))
        cov["rows"] = cov["rows"].fillna(0).astype(int)
        cov["live_source"] = [getattr(self.collectors().get(a), "source", "none") for a in cov.index]
        return cov.reset_index()
