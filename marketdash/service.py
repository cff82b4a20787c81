"""What pages and the command line call: read the store, fetch only what is missing, fall back to sample data.

Data flows one way: page -> service -> store / collectors. A failed fetch keeps every bar that arrived before the
failure and never replaces a stored bar; sample bars live in their own store file and never enter the user's.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pandas as pd

from collectors.base import Collector
from collectors.errors import CollectorError
from marketdash import calendars, catalog
from marketdash.config import DEFAULT_START, Settings, mask
from marketdash.records import DailyBar, bars_to_frame
from marketdash.store import FetchAttempt, Store, StoreBusyError, utcnow

log = logging.getLogger(__name__)

Progress = Callable[[str, float, str], None]  # (asset_id, fraction done, message)
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
    message: str = ""
    kind: str = ""

    @property
    def ok(self) -> bool:
        return self.status != "error"

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

    def note(self) -> str:
        if self.last_date is None:
            return "no data"
        if self.stale:
            return f"stale: {self.sessions_behind} sessions behind, data through {self.last_date}"
        return f"data through {self.last_date}"


STALE_AFTER = 3  # sessions behind the market's calendar


def freshness(last_dates: dict[str, dt.date | None], now: dt.datetime | None = None) -> dict[str, Freshness]:
    """Each asset's last stored date and whether it is more than STALE_AFTER closed sessions behind its calendar."""
    now = now or dt.datetime.now(dt.UTC)
    out = {}
    for asset_id, day in last_dates.items():
        behind = calendars.sessions_behind(catalog.get(asset_id), day, now)
        out[asset_id] = Freshness(day, behind, behind is not None and behind > STALE_AFTER)
    return out


@dataclass(frozen=True)
class PriceData:
    """Bars for pages, with where each asset's bars came from: 'store' (real) or 'sample'."""

    bars: pd.DataFrame
    origin: dict[str, str]
    notes: dict[str, str] = field(default_factory=dict)
    freshness: dict[str, Freshness] = field(default_factory=dict)

    @property
    def sample_assets(self) -> list[str]:
        return [a for a, o in self.origin.items() if o == "sample"]


def drop_unfinished(bars: pd.DataFrame, now: dt.datetime) -> pd.DataFrame:
    """Never mix today's unfinished session with closed ones: drop bars dated after their market's last close."""
    if bars.empty:
        return bars
    cutoffs = {a: pd.Timestamp(catalog.get(a).last_closed_date(now)) for a in bars["asset_id"].unique()}
    return bars.loc[bars["date"] <= bars["asset_id"].map(cutoffs)].reset_index(drop=True)


class MarketService:
    def __init__(self, settings: Settings, collectors: dict[str, Collector] | None = None) -> None:
        self.settings = settings
        self.store = Store(settings.market_db)
        self.sample_store = Store(settings.sample_db)
        self._collectors = collectors
        self._lock = threading.Lock()
        self._sample_checked: dt.date | None = None

    # -- sources -------------------------------------------------------------------------------------------------
    def collectors(self) -> dict[str, Collector]:
        """The live collector of each asset that has one under the current settings (built once)."""
        with self._lock:
            if self._collectors is None:
                from collectors.registry import live_collectors

                self._collectors = live_collectors(self.settings)
            return self._collectors

    def why_not_live(self, asset_id: str) -> str:
        """A sentence for the page when an asset has no live source."""
        if self.settings.offline:
            return "DASHBOARD_OFFLINE=1: the network is never used."
        if catalog.get(asset_id).source == "kis" and not self.settings.has_kis:
            return "No KIS keys: set KIS_APP_KEY and KIS_APP_SECRET (env or .streamlit/secrets.toml)."
        return "No live source is configured for this asset."

    # -- updates -------------------------------------------------------------------------------------------------
    def update(
        self,
        asset_ids: Sequence[str],
        start: dt.date | None = None,
        end: dt.date | None = None,
        progress: Progress | None = None,
        workers: int = 1,
    ) -> list[UpdateResult]:
        """Fetch what is missing for each asset; assets run in `workers` threads sharing each source's throttle."""
        if workers <= 1 or len(asset_ids) <= 1:
            return [self.update_one(a, start, end, progress) for a in asset_ids]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda a: self.update_one(a, start, end, progress), asset_ids))

    def _fetch_range(
        self, asset: catalog.Asset, start: dt.date | None, end: dt.date | None, now: dt.datetime
    ) -> tuple[dt.date, dt.date]:
        """Full history from `start` on an empty store, else from the last stored date less a small overlap."""
        end = min(end or asset.last_closed_date(now), asset.last_closed_date(now))
        first, last, _ = self._stored(asset.id)
        if first is None or last is None or (start is not None and start < first):
            return start or dt.date.fromisoformat(DEFAULT_START), end
        return max(last - dt.timedelta(days=OVERLAP_DAYS), start or dt.date.min), end

    def _stored(self, asset_id: str) -> tuple[dt.date | None, dt.date | None, int]:
        """First date, last date and rows the user's store holds for an asset."""
        cov = self.store.coverage()
        row = cov[(cov["asset_id"] == asset_id) & (cov["rows"] > 0)]
        if row.empty:
            return None, None, 0
        first, last, rows = row[["first_date", "last_date", "rows"]].iloc[0]
        return pd.Timestamp(first).date(), pd.Timestamp(last).date(), int(rows)

    def update_one(
        self,
        asset_id: str,
        start: dt.date | None = None,
        end: dt.date | None = None,
        progress: Progress | None = None,
    ) -> UpdateResult:
        asset = catalog.get(asset_id)
        collector = self.collectors().get(asset_id)
        if collector is None:
            return UpdateResult(
                asset_id,
                "-",
                "error",
                message=self.why_not_live(asset_id),
                kind="not configured",
            )
        started = utcnow()
        try:
            lo, hi = self._fetch_range(asset, start, end, dt.datetime.now(dt.UTC))
            before = self._stored(asset_id)[2]
        except StoreBusyError as exc:
            return UpdateResult(asset_id, collector.source, "error", message=str(exc), kind="store busy")
        if lo > hi:
            return UpdateResult(
                asset_id,
                collector.source,
                "skipped",
                start=lo,
                end=hi,
                message="up to date",
            )

        bars: list[DailyBar] = []
        status, message, kind = "ok", "", ""
        try:
            for page in collector.pages(asset, lo, hi):
                bars.extend(page)
                if progress and page:
                    oldest = min(b.date for b in page)
                    done = 1.0 if hi <= lo else (hi - oldest).days / (hi - lo).days
                    progress(asset_id, min(max(done, 0.0), 1.0), f"{oldest} .. {hi}")
        except CollectorError as exc:
            status, message, kind = "error", str(exc), exc.kind
        except Exception as exc:  # a bug or an unforeseen reply: keep what arrived, report without a traceback
            log.exception("update of %s failed", asset_id)
            status, message, kind = (
                "error",
                f"unexpected {type(exc).__name__}: {exc}",
                "unexpected",
            )
        message = mask(message, self.settings.secrets())

        written = 0
        try:
            frame = bars_to_frame(b for b in bars if lo <= b.date <= hi)
            written = self.store.upsert_bars(frame)
            if status == "ok" and written == 0 and (hi - lo).days >= 7:
                status, kind = "error", "no data"
                message = f"the source returned no bars between {lo} and {hi}"
            self.store.log_fetch(
                FetchAttempt(
                    asset_id,
                    collector.source,
                    started,
                    utcnow(),
                    lo,
                    hi,
                    written,
                    status,
                    message,
                )
            )
            first, last, after = self._stored(asset_id)
        except (StoreBusyError, ValueError) as exc:
            return UpdateResult(asset_id, collector.source, "error", message=str(exc), kind="store")
        if progress:
            progress(asset_id, 1.0, message or "done")
        sources = sorted({b.source for b in bars}) or [collector.source]
        return UpdateResult(
            asset_id, "+".join(sources), status, after - before, written, lo, hi,
            first, last, message, kind,
        )  # fmt: skip

    def stale_assets(self, asset_ids: Sequence[str], now: dt.datetime | None = None) -> list[str]:
        """Assets with a live source whose store lacks closed sessions and that were not tried a moment ago."""
        now = now or dt.datetime.now(dt.UTC)
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
            if tried and now.replace(tzinfo=None) - tried.finished_at < AUTO_REFRESH_EVERY:
                continue
            stale.append(asset_id)
        return stale

    # -- reads ---------------------------------------------------------------------------------------------------
    def ensure_sample(self) -> None:
        """Build or extend the sample store up to the last closed session (deterministic values, idempotent)."""
        today = dt.datetime.now(dt.UTC).date()
        if self._sample_checked == today:
            return
        from collectors.sample import SAMPLE_START, SampleCollector

        now = dt.datetime.now(dt.UTC)
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
        """Bars of the range: the user's store for assets it holds, sample bars for the others (labelled)."""
        held = self.store.last_dates()
        real_ids = [a for a in asset_ids if a in held]
        sample_ids = [a for a in asset_ids if a not in held]
        frames = [self.store.read_bars(real_ids, start, end)] if real_ids else []
        notes = {}
        last_dates: dict[str, dt.date | None] = {a: held[a] for a in real_ids}
        if sample_ids:
            self.ensure_sample()
            sample_last = self.sample_store.last_dates()
            last_dates.update({a: sample_last.get(a) for a in sample_ids})
            frames.append(self.sample_store.read_bars(sample_ids, start, end))
            attempts, live = self.store.last_attempts(), self.collectors()
            for a in sample_ids:
                tried = attempts.get(a)
                if tried and tried.status == "error":
                    notes[a] = f"live update failed: {tried.message}"
                else:
                    notes[a] = "not fetched yet" if a in live else self.why_not_live(a)
        filled = [f for f in frames if not f.empty]
        bars = pd.concat(filled, ignore_index=True) if filled else self.store.read_bars([])
        bars = drop_unfinished(bars, dt.datetime.now(dt.UTC))
        origin = {a: ("store" if a in held else "sample") for a in asset_ids}
        return PriceData(bars, origin, notes, freshness(last_dates))

    def coverage(self) -> pd.DataFrame:
        """The user's store per asset (SPEC 'status'), every catalog asset listed even when empty."""
        cov = self.store.coverage().set_index("asset_id")
        cov = cov.reindex(list(catalog.ASSETS))
        cov["rows"] = cov["rows"].fillna(0).astype(int)
        cov.insert(0, "name", [catalog.get(a).label for a in cov.index])
        cov["live_source"] = [getattr(self.collectors().get(a), "source", "none") for a in cov.index]
        return cov.reset_index()
