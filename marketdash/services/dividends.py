"""Dividends for pages and the command line: fetched into the store at most once a day per asset (a few calls), read
from the store (or, for assets on sample data, the sample's own), never fetched by a page view.

Each fetch reaches back over the record dates whose amounts may still be fixed (a year-end amount is fixed in
February or March, a quarter's about a month after it) and every row stored unfixed, so what was not fixed yet is
asked for again on a later day; the first fetch takes the whole history. Every attempt is on record in fetch_log
(dataset 'dividends'). KIS serves dividend records to real accounts only: with a paper key nothing is asked, and
the caller says so once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from collectors.base import DividendSource
from collectors.errors import CollectorError, RealAccountOnlyError
from marketdash.analysis import dividends as analysis
from marketdash.domain import calendars, catalog, clock
from marketdash.domain.config import DEFAULT_START, Settings, mask_msg
from marketdash.domain.i18n import Msg, msg
from marketdash.domain.records import DIVIDEND_COLUMNS, Dividend, dividend_frame, dividends_to_frame
from marketdash.services.sources import Sources
from marketdash.services.store import Store, StoreError

log = logging.getLogger(__name__)

DATASET = "dividends"  # fetch_log.dataset of dividend attempts
LOOKBACK = dt.timedelta(days=400)  # record dates a daily fetch reaches back over: amounts fixed months later
AHEAD = dt.timedelta(days=366)  # record dates announced ahead
RETRY_AFTER = dt.timedelta(hours=1)  # a failed fetch is tried again after this, a successful one the next day
RUNNING_FOR = dt.timedelta(minutes=15)  # an attempt started this recently without an end is still running


@dataclass(frozen=True)
class DividendResult:
    asset_id: str
    status: str  # "ok", "error" or "skipped" (fetched today, or KIS serves it to real accounts only)
    new_rows: int = 0
    stored: int = 0
    note: Msg | None = None
    kind: str = ""  # the error's kind; "real only" for a paper key or host

    @property
    def ok(self) -> bool:
        return self.status != "error"

    def text(self) -> str:
        """The command line's words, after the asset's price line: `dividends ok +2 new, 24 stored`."""
        head = f"dividends {self.status}"
        if self.status == "ok":
            return f"{head} +{self.new_rows} new, {self.stored} stored"
        return f"{head}: {self.note}" if self.note is not None else head


def empty() -> pd.DataFrame:
    """No dividends, with the columns and types."""
    return dividend_frame(pd.DataFrame(columns=list(DIVIDEND_COLUMNS)))


def with_krx_ex_dates(rows: list[Dividend]) -> list[Dividend]:
    """KRX rows get their ex-date by the T+2 rule on the exchange calendar (shared/kis-dividends.md §1.5); a record
    date past the calendar's horizon keeps none until a later fetch."""
    out = []
    for row in rows:
        asset = catalog.get(row.asset_id)
        if row.ex_date is None and asset.calendar == "XKRX":
            sessions = calendars.all_sessions(asset.calendar)
            if len(sessions) and pd.Timestamp(row.record_date) <= sessions[-1]:
                row = dataclasses.replace(row, ex_date=analysis.krx_ex_date(row.record_date, sessions))
        out.append(row)
    return out


class DividendService:
    """The dividends of the user's store and of the sample (a part of MarketService)."""

    def __init__(self, store: Store, sample_store: Store, sources: Sources, settings: Settings) -> None:
        self.store, self.sample_store, self.sources, self.settings = store, sample_store, sources, settings

    @staticmethod
    def payers(asset_ids: Sequence[str]) -> list[str]:
        """The assets that pay dividends: listed shares and funds, not indices, coins or futures."""
        return [a for a in asset_ids if catalog.get(a).pays_dividends]

    def refused(self) -> Msg | None:
        """Why no dividends are fetched at all under these settings (a paper key), else None."""
        return msg("err.kis_dividends_paper") if self.settings.kis_env == "paper" and self.settings.has_kis else None

    # -- reads ---------------------------------------------------------------------------------------------------
    def read(self, stored: Sequence[str], sample: Sequence[str] = ()) -> pd.DataFrame:
        """The dividends of `stored` assets from the user's store, and of `sample` ones from the sample (source
        'sample', deterministic, never in the user's store); the table's columns, sorted."""
        frames = [self.store.read_dividends(self.payers(stored))] if self.payers(stored) else []
        if self.payers(sample):
            from collectors.sample import sample_dividends

            today = clock.now().date()
            rows = [r for a in self.payers(sample) for r in sample_dividends(catalog.get(a), today)]
            frames.append(dividends_to_frame(with_krx_ex_dates(rows)))
        filled = [f for f in frames if not f.empty]
        return dividend_frame(pd.concat(filled, ignore_index=True)) if filled else empty()

    def coverage(self, asset_ids: Sequence[str]) -> pd.DataFrame:
        """Per paying asset: dividends stored, how many are fixed, the first and last record date, and the last
        fetch with its result (the Data page)."""
        stored = self.store.read_dividends(self.payers(asset_ids))
        attempts = self.store.last_attempts(DATASET)
        rows = []
        for asset_id in self.payers(asset_ids):
            mine, tried = stored[stored["asset_id"] == asset_id], attempts.get(asset_id)
            rows.append({"asset_id": asset_id, "rows": len(mine), "fixed": int(mine["fixed"].sum()),
                         "first_record": mine["record_date"].min(), "last_record": mine["record_date"].max(),
                         "last_attempt": tried.finished_at if tried else None,
                         "last_status": tried.status if tried else None,
                         "last_message": tried.message if tried else None,
                         "last_message_key": tried.message_key if tried else None})  # fmt: skip
        return pd.DataFrame(rows, columns=["asset_id", "rows", "fixed", "first_record", "last_record", "last_attempt",
                                           "last_status", "last_message", "last_message_key"])  # fmt: skip

    # -- updates -------------------------------------------------------------------------------------------------
    def update(self, asset_ids: Sequence[str], start: dt.date | None = None) -> dict[str, DividendResult]:
        """Fetch the dividends of the paying assets that are due (at most once a day each). None are asked for
        without a source, and none with a paper key (each skipped with the reason); after the host refuses one
        as real-account only, the others are not asked either."""
        source, payers = self.sources.dividends(), self.payers(asset_ids)
        refused = self.refused()
        if source is None or refused is not None:
            return {a: DividendResult(a, "skipped", note=refused, kind="real only") for a in payers} if refused else {}
        results: dict[str, DividendResult] = {}
        for asset_id in payers:
            if refused is not None:
                results[asset_id] = DividendResult(asset_id, "skipped", note=refused, kind="real only")
                continue
            results[asset_id] = self.update_one(source, asset_id, start)
            if results[asset_id].kind == "real only":
                refused = results[asset_id].note
        return results

    def _due(self, asset_id: str, now: dt.datetime) -> bool:
        """Not fetched today (KST), not failed in the last hour, not being fetched right now by another run."""
        tried = self.store.last_attempts(DATASET).get(asset_id)
        if tried is None:
            return True
        naive_now = now.astimezone(dt.UTC).replace(tzinfo=None)
        if tried.finished_at is None:
            return naive_now - tried.started_at >= RUNNING_FOR
        if tried.status == "error":
            return naive_now - tried.finished_at >= RETRY_AFTER
        finished = tried.finished_at.replace(tzinfo=dt.UTC).astimezone(clock.KST).date()
        return finished < now.astimezone(clock.KST).date()

    def window(self, asset_id: str, start: dt.date | None, today: dt.date) -> tuple[dt.date, dt.date]:
        """The record dates to ask for: the whole history (from `start`, default DEFAULT_START) until a fetch from
        there has completed; then the last LOOKBACK and every row still unfixed; always AHEAD into the future."""
        goal = start or dt.date.fromisoformat(DEFAULT_START)
        _, completed = self.store.requested_history(asset_id, DATASET)
        if completed is None or completed > goal:
            return goal, today + AHEAD
        lo = today - LOOKBACK
        unfixed = self.store.unfixed_since(asset_id)
        return (min(lo, unfixed.date()) if unfixed is not None else lo), today + AHEAD

    def update_one(self, source: DividendSource, asset_id: str, start: dt.date | None = None) -> DividendResult:
        """One asset's dividends, if due: fetched, given their KRX ex-dates, merged into the store, on record."""
        now = clock.now()
        asset = catalog.get(asset_id)
        try:
            if not self._due(asset_id, now):
                return DividendResult(asset_id, "skipped", stored=self.store.dividend_counts().get(asset_id, 0),
                                      note=msg("div.fetched_today"))  # fmt: skip
            lo, hi = self.window(asset_id, start, now.astimezone(clock.KST).date())
            before = self.store.dividend_counts().get(asset_id, 0)
            attempt = self.store.begin_attempt(asset_id, source.source, lo, hi, DATASET)
        except StoreError as exc:
            return DividendResult(asset_id, "error", note=exc.msg, kind="store")
        status, note, kind, written = "ok", None, "", 0
        try:
            rows = with_krx_ex_dates(source.dividends(asset, lo, hi))
            written = self.store.upsert_dividends(dividends_to_frame(rows))
        except RealAccountOnlyError as exc:
            status, note, kind = "error", exc.msg, "real only"
        except (CollectorError, StoreError) as exc:
            status, note, kind = "error", exc.msg, getattr(exc, "kind", "store")
        except Exception as exc:  # a bug or an unforeseen reply: reported in one sentence, nothing stored is lost
            log.exception("dividends of %s failed", asset_id)
            note = msg("update.unexpected", kind=type(exc).__name__, detail=str(exc))
            status, kind = "error", "unexpected"
        note = None if note is None else mask_msg(note, self.settings.secrets())
        try:
            self.store.end_attempt(attempt, written, status, note)
            after = self.store.dividend_counts().get(asset_id, 0)
        except StoreError as exc:
            return DividendResult(asset_id, "error", note=exc.msg, kind="store")
        return DividendResult(asset_id, status, after - before, after, note, kind)
