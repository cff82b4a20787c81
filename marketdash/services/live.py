"""Live quotes for pages and the command line: poll the sources, keep every quote as a snapshot, and say what is
current per asset (SPEC.md, `snapshots`). Quotes never become daily bars; once a session's bar is stored, it
replaces the provisional price.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pandas as pd

from collectors.base import Quoter
from collectors.errors import CollectorError
from marketdash.domain import catalog, clock, market_clock
from marketdash.domain.config import mask_msg
from marketdash.domain.i18n import Msg, msg, stored
from marketdash.domain.market_clock import KST
from marketdash.domain.records import CLOSE, LIVE, Quote
from marketdash.services.sources import Sources
from marketdash.services.store import Store

CLOSED_REFRESH = dt.timedelta(hours=6)  # a closed market is quoted once when its last quote is older than this


@dataclass(frozen=True)
class QuoteResult:
    """One asset's outcome of a polling round (the command line prints `line()`)."""

    asset_id: str
    status: str  # "ok", "error" or "skipped"
    quote: Quote | None = None
    note: Msg | None = None
    kind: str = ""

    @property
    def message(self) -> str:
        return "" if self.note is None else str(self.note)

    def line(self) -> str:
        if self.quote is None:
            return f"{self.asset_id:<9} {self.status:<7} {self.message}"
        q = self.quote
        when = q.quoted_at.astimezone(KST).strftime("%Y-%m-%d %H:%M:%S KST")
        clock = "" if q.time_from_source else " (fetch time)"
        what = f", close of {q.session:%Y-%m-%d}" if q.kind == CLOSE and q.session else ""  # never today's move
        return (f"{self.asset_id:<9} {self.status:<7} {q.source:<8} {q.price:,.4f} {q.currency} "
                f"{q.change_pct:+.2f}% vs {q.prev_close:,.4f}  {when}{clock}  {q.market_state}{what}")  # fmt: skip


@dataclass(frozen=True)
class NowRow:
    """What the Now strip shows of one asset: its last quote (if any), its market's state, and why not live."""

    asset_id: str
    clock: market_clock.MarketState
    quote: Quote | None
    error: Msg | str | None  # the last poll failed after this quote (or there is no quote at all)
    why_not_live: Msg | None  # no live source: the reason, in a sentence

    def age(self, now: dt.datetime) -> dt.timedelta | None:
        return None if self.quote is None else now - self.quote.quoted_at


def _quotes(frame: pd.DataFrame) -> Iterator[Quote]:
    """Stored snapshot rows -> Quotes (quoted_at back to aware UTC)."""
    for row in frame.itertuples(index=False):
        kind = getattr(row, "quote_kind", None)
        session = getattr(row, "session", None)
        yield Quote(
            row.asset_id, float(row.price), float(row.prev_close), row.currency, row.source,
            pd.Timestamp(row.quoted_at).to_pydatetime().replace(tzinfo=dt.UTC), bool(row.time_from_source),
            row.market_state or "", kind if isinstance(kind, str) and kind else LIVE,
            None if session is None or pd.isna(session) else pd.Timestamp(session).date(),
        )  # fmt: skip


def _settled(asset: catalog.Asset, quote: Quote, bars: pd.DataFrame) -> Quote:
    """Once the session a quote belongs to has its daily bar, the bar's close replaces the provisional price. A quote
    taken while no session runs (a weekend, a holiday, the night before an open) belongs to the last session
    before it."""
    session = quote.session or market_clock.session_of(asset, quote.quoted_at)
    done = bars[bars["date"].dt.date >= session]
    if done.empty or len(bars) < 2:
        return quote
    last = done.iloc[-1]
    before = bars[bars["date"] < last["date"]]
    if before.empty:
        return quote
    closed = dt.datetime.combine(last["date"].date(), asset.close_time, tzinfo=asset.tz).astimezone(dt.UTC)
    return Quote(asset.id, float(last["close"]), float(before["close"].iloc[-1]), asset.currency,
                 f"{last['source']} daily close", closed, True, market_clock.CLOSED, CLOSE,
                 last["date"].date())  # fmt: skip


class LiveQuotes:
    """The service's live side (`MarketService.live`): its sources, one polling round, and the board pages show."""

    def __init__(self, store: Store, sources: Sources) -> None:
        self.store = store
        self.sources = sources
        self._quoters: dict[str, Quoter] | None = None
        self._lock = threading.Lock()

    def quoters(self) -> dict[str, Quoter]:
        """The live quote source of each asset that has one (built once, on the collectors' clients)."""
        collectors = self.sources.collectors()
        with self._lock:
            if self._quoters is None:
                from collectors.registry import live_quoters  # the HTTP stack: only once quotes are asked for

                self._quoters = live_quoters(self.sources.settings, collectors)
            return self._quoters

    def poll(
        self, asset_ids: Sequence[str], *, everything: bool = False, now: dt.datetime | None = None
    ) -> list[QuoteResult]:
        """One round: quote each asset whose market moves now, or whose last quote is older than CLOSED_REFRESH
        (so a closed market shows its final price); `everything` quotes them all. Quotes go to `snapshots`."""
        now = now or clock.now()
        quoters = self.quoters()
        latest = self.latest()
        results = []
        for asset_id in asset_ids:
            asset, quoter = catalog.get(asset_id), quoters.get(asset_id)
            if quoter is None:
                results.append(QuoteResult(asset_id, "skipped", note=self.sources.why_not_live(asset_id)))
                continue
            market = market_clock.state(asset, now)
            last = latest.get(asset_id)
            fresh_enough = last is not None and now - last.quoted_at < CLOSED_REFRESH
            if not (everything or market.moving or not fresh_enough):
                results.append(
                    QuoteResult(asset_id, "skipped", note=msg("live.skipped", state=msg(f"state.{market.state}")))
                )
                continue
            try:
                quote = market_clock.taken(asset, quoter.quote(asset), market)
                self.store.add_snapshots([quote])
                results.append(QuoteResult(asset_id, "ok", quote))
            except CollectorError as exc:
                note = mask_msg(exc.msg, self.sources.settings.secrets())
                self.store.record_quote_error(asset_id, quoter.source, note)
                results.append(QuoteResult(asset_id, "error", note=note, kind=exc.kind))
        return results

    def latest(self) -> dict[str, Quote]:
        return {q.asset_id: q for q in _quotes(self.store.latest_snapshots())}

    def board(self, asset_ids: Sequence[str], now: dt.datetime | None = None) -> list[NowRow]:
        """Per asset: its last stored quote, its market's state now, the last poll error after that quote, and
        why there is no live source when there is none. Reads the store only (pages call this every refresh)."""
        now = now or clock.now()
        quoters = self.quoters()
        readable = self.store.problem() is None
        latest = self.store.latest_snapshots().set_index("asset_id") if readable else None
        errors = self.store.quote_errors().set_index("asset_id") if readable else None
        recent: pd.DataFrame | None = None  # read once, and only when a closed market's quote needs its bars
        rows = []
        for asset_id in asset_ids:
            quote = None
            error = None
            market = market_clock.state(catalog.get(asset_id), now)
            if latest is not None and asset_id in latest.index:
                quote = next(_quotes(latest.loc[[asset_id]].reset_index()))
                error = stored(latest.loc[asset_id, "error"], latest.loc[asset_id, "error_key"])
                if not market.moving:
                    if recent is None:
                        recent = self.store.read_bars(list(asset_ids), now.date() - dt.timedelta(days=14))
                    quote = _settled(catalog.get(asset_id), quote, recent[recent["asset_id"] == asset_id])
            elif errors is not None and asset_id in errors.index:
                error = stored(errors.loc[asset_id, "message"], errors.loc[asset_id, "message_key"])
            why = None if asset_id in quoters else self.sources.why_not_live(asset_id)
            rows.append(NowRow(asset_id, market, quote, error, why))
        return rows

    def coverage(self) -> pd.DataFrame:
        """Per asset: first and last quote, how many, and the last error (every catalog asset listed, and every
        added symbol with a quote or an error on record)."""
        cov = self.store.snapshot_coverage().set_index("asset_id")
        cov = cov.reindex(list(dict.fromkeys([*catalog.ASSETS, *cov.index])))
        cov["quotes"] = cov["quotes"].fillna(0).astype(int)
        return cov.reset_index()

    def recent(self, days: int) -> pd.DataFrame:
        return self.store.snapshots(since=clock.now() - dt.timedelta(days=days))

    def today(self, asset_ids: Sequence[str], now: dt.datetime | None = None) -> pd.DataFrame:
        """Today's moves: the quotes since 00:00 KST taken while their market traded, as % change against each
        quote's previous close, one column per asset, indexed by the quote time in KST (Compare's 1D view). A quote
        taken while its market was closed is a close of an earlier session, never a move of today's."""
        now = now or clock.now()
        midnight = dt.datetime.combine(now.astimezone(KST).date(), dt.time(), tzinfo=KST)
        frame = self.store.snapshots(list(asset_ids), since=midnight)
        frame = frame[frame["quote_kind"].fillna(LIVE) != CLOSE]
        if frame.empty:
            return pd.DataFrame(columns=list(asset_ids), index=pd.DatetimeIndex([], tz=KST, name="time_kst"))
        frame["pct"] = (frame["price"] / frame["prev_close"] - 1.0) * 100.0
        frame["time_kst"] = pd.to_datetime(frame["quoted_at"]).dt.tz_localize("UTC").dt.tz_convert(KST)
        wide = frame.pivot_table(index="time_kst", columns="asset_id", values="pct", aggfunc="last")
        return wide.reindex(columns=[a for a in asset_ids if a in wide.columns])
