"""The write half of the market service: fetch only what is missing, page by page, each page stored at once.

A failed fetch keeps every bar that arrived before the failure and never replaces a stored bar; every attempt is on
record before it fetches (fetch_log), so a run killed halfway resumes where it stopped.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from collectors.base import Collector
from collectors.errors import CollectorError, NoDataError
from marketdash.domain import calendars, catalog, clock
from marketdash.domain.config import DEFAULT_START, Settings, mask_msg
from marketdash.domain.i18n import Msg, msg
from marketdash.domain.records import DailyBar, bars_to_frame
from marketdash.services.sources import Sources
from marketdash.services.store import Store, StoreError

log = logging.getLogger(__name__)

Progress = Callable[[str, float, Msg], None]  # (asset_id, fraction done, what it is doing)
OVERLAP_DAYS = 7  # re-read the last week: picks up the revised latest bar (US prices are replaced after the close)
AUTO_REFRESH_EVERY = dt.timedelta(minutes=15)
T, R = TypeVar("T"), TypeVar("R")


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


def _each(pool: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """`pool.map`, each call in a copy of the caller's context: a backfill's workers keep its place in the KIS
    budget's queue (collectors.limiter.background)."""
    return [f.result() for f in [pool.submit(contextvars.copy_context().run, fn, item) for item in items]]


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


class Updates:
    """Fetching what is missing (a part of MarketService, which holds `store`, `sources` and `settings`)."""

    store: Store
    sources: Sources
    settings: Settings

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
        live = self.sources.collectors()
        groups: dict[str, list[str]] = {}
        for asset_id in asset_ids:
            groups.setdefault(getattr(live.get(asset_id), "source", "-"), []).append(asset_id)

        def run(ids: list[str]) -> list[UpdateResult]:
            if workers <= 1 or len(ids) <= 1:
                return [self.update_one(a, start, end, progress) for a in ids]
            with ThreadPoolExecutor(max_workers=min(workers, len(ids))) as pool:
                return _each(pool, lambda a: self.update_one(a, start, end, progress), ids)

        if len(groups) <= 1:
            return run(list(asset_ids))
        with ThreadPoolExecutor(max_workers=len(groups)) as pool:
            done = {r.asset_id: r for results in _each(pool, run, groups.values()) for r in results}
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
        live, now = self.sources.collectors(), clock.now()
        gaps = []
        for asset_id in asset_ids:
            first = self.store.span(asset_id)[0] if asset_id in live else None
            asset = catalog.get(asset_id)
            if first is not None and self._head(asset, goal, first, asset.last_closed_date(now)):
                gaps.append(asset_id)
        return gaps

    def unstored(self, asset_ids: Sequence[str]) -> list[str]:
        """Assets with a live source and no stored day: what a first screen left for the backfill (USD/KRW)."""
        live = self.sources.collectors()
        return [a for a in asset_ids if a in live and self.store.span(a)[0] is None]

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
        collector = self.sources.collectors().get(asset_id)
        if collector is None:
            return UpdateResult(asset_id, "-", "error", note=self.sources.why_not_live(asset_id), kind="not configured")
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
        live = self.sources.collectors()
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
