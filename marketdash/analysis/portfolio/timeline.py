"""What the engine knows of the markets over time (SPEC.md, "Portfolio": Days, Close instants, Currencies).

- Valuation days: every date in the run on which a chosen asset has a bar or money is due; each holding at its last
  close on or before the day, converted at USD/KRW as known at that close.
- Close instants: every bar closes at its market's close time in its own time zone (KRX 15:30 Seoul, NYSE 16:00
  New York, a coin's UTC day at 23:59:59 UTC). Decisions are made at these instants with what is known then, and
  each trade happens at one: the engine walks them in time order.
- The run's end: the last date every chosen asset has data up to (no session of its calendar after its last bar),
  so an asset whose bars stop never stands frozen in a run that goes on without it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from marketdash.analysis.conversion import fx_known_at, in_force, local_instants
from marketdash.analysis.portfolio.plan import Plan, PlanError
from marketdash.domain import calendars, catalog
from marketdash.domain.i18n import Msg, Name, msg

STALE_SESSIONS = 5  # a gap in an asset's bars, or a USD/KRW fixing older than this many sessions, is said
_DAY_END = pd.Timedelta(hours=23, minutes=59, seconds=59)


def _day(value: object) -> dt.date:
    return pd.Timestamp(value).date()


def first_bars(
    bars: pd.DataFrame, asset_ids: list[str], start: dt.date | None, end: dt.date | None
) -> dict[str, dt.date]:
    """Each asset's first bar in [start, end]; an asset with none there is named (PlanError)."""
    inside = bars["asset_id"].isin(asset_ids)
    if start is not None:
        inside &= bars["date"] >= pd.Timestamp(start)
    if end is not None:
        inside &= bars["date"] <= pd.Timestamp(end)
    firsts = bars.loc[inside].groupby("asset_id")["date"].min()
    missing = [a for a in asset_ids if a not in firsts.index]
    if missing:
        raise PlanError(msg("pf.err_no_bars", asset=Name(missing[0])))
    return {a: _day(firsts[a]) for a in asset_ids}


def effective_start(bars: pd.DataFrame, asset_ids: list[str], start: dt.date | None, end: dt.date | None) -> dt.date:
    """The later of `start` and the first day by which every asset has a bar in the range."""
    return max(first_bars(bars, asset_ids, start, end).values())


def data_until(asset: catalog.Asset, last_bar: dt.date, horizon: dt.date) -> dt.date:
    """The last date the asset has data up to: the day before its calendar's first session after `last_bar` (or
    `horizon` when there is none before it). KRX closed on Dec 31: a bar of Dec 30 has data up to Dec 31."""
    if horizon <= last_bar:
        return horizon
    after = calendars.session_days(asset.calendar, last_bar + dt.timedelta(days=1), horizon)
    return horizon if not len(after) else _day(after[0]) - dt.timedelta(days=1)


def run_end(bars: pd.DataFrame, asset_ids: list[str], end: dt.date | None) -> tuple[dt.date, list[Msg]]:
    """The chosen end (or the newest bar of any asset), moved back to the last date every asset has data up to;
    a moved end is said, naming the assets whose bars stop and their last bar."""
    mine = bars.loc[bars["asset_id"].isin(asset_ids) & bars["close"].notna()]
    lasts = mine.groupby("asset_id")["date"].max()  # bars after the end say the asset goes on (a hole is a gap)
    wanted = end or _day(lasts.max())
    until = {a: data_until(catalog.get(a), min(_day(lasts[a]), wanted), wanted) for a in asset_ids if a in lasts.index}
    final = min(until.values(), default=wanted)
    if final >= wanted:
        return wanted, []
    stopped = [a for a, day in until.items() if day == final]
    notes = [msg("pf.note_stops", asset=Name(a), last=_day(lasts[a]), end=final, wanted=wanted) for a in stopped]
    return final, notes


@dataclass(frozen=True)
class Timeline:
    """Every valuation day's closes and rates (one column per asset, the plan's order) and every close instant.

    Instants are int64 nanoseconds since the epoch, UTC, sorted; `closing[i, j]` says asset j closes at instant i.
    """

    ids: list[str]
    dates: pd.DatetimeIndex
    session: np.ndarray  # days x assets: the asset has a bar that day
    price: np.ndarray  # days x assets: last close on or before the day
    before: np.ndarray  # assets: last close before the first day (NaN when none)
    conv: np.ndarray  # days x assets: portfolio currency per unit of the asset's, at its last close (valuation)
    krw: np.ndarray  # days x assets: won per unit of the asset's currency, at its last close (taxes in won)
    day_end_krw: np.ndarray  # days: won per unit of the portfolio's currency at each day's end (Seoul)
    instants: np.ndarray  # instants: int64 ns
    inst_day: np.ndarray  # instants: the valuation day of each
    closing: np.ndarray  # instants x assets: bool
    close_at: np.ndarray  # days x assets: the instant index of the asset's close that day (-1: no bar)
    next_close: np.ndarray  # instants x assets: first instant index at or after i at which the asset closes (-1)
    day_first: np.ndarray  # days + 1: index of the first instant on or after each day (len(instants) past the end)
    usd_krw: np.ndarray  # instants: won per dollar as known at each instant (NaN before the first fixing)
    usd: np.ndarray  # assets: priced in dollars
    currency: str  # the portfolio's

    def known(self, i: int, d: int) -> tuple[np.ndarray, np.ndarray]:
        """Each asset's latest close at or before instant i (of day d), and its conversion as known then."""
        done = self.close_at[d] >= 0
        done &= np.where(done, self.close_at[d], 0) <= i
        earlier = self.price[d - 1] if d > 0 else self.before
        price = np.where(done, self.price[d], earlier)
        rate = self.usd_krw[i]
        return price, np.where(self.usd, rate, 1.0) if self.currency == "KRW" else np.where(self.usd, 1.0, 1 / rate)


def build(plan: Plan, bars: pd.DataFrame, fx: pd.DataFrame | None, start: dt.date, end: dt.date,
          extra_days: list[dt.date]) -> tuple[Timeline, list[Msg]]:  # fmt: skip
    """The valuation days from `start` to `end`, every asset's closes and conversions on them, and the close
    instants; with what is said about gaps in the bars and a stale USD/KRW."""
    ids = plan.assets
    rows = bars.loc[bars["asset_id"].isin(ids) & bars["close"].notna() & (bars["date"] <= pd.Timestamp(end)),
                    ["date", "asset_id", "close"]].drop_duplicates(["date", "asset_id"], keep="last")  # fmt: skip
    wide = rows.pivot(index="date", columns="asset_id", values="close").reindex(columns=ids)
    index = wide.index.union(pd.DatetimeIndex([pd.Timestamp(d) for d in extra_days]))
    closes = wide.reindex(index).to_numpy()
    traded = ~np.isnan(closes)
    first = index.searchsorted(pd.Timestamp(start))
    assets = [catalog.get(a) for a in ids]
    usd = np.array([a.currency == "USD" for a in assets])
    by_instant = fx_known_at(in_force(fx)) if fx is not None and not fx.empty else pd.Series(dtype=float)
    fx_times = by_instant.index.asi8 if len(by_instant) else np.array([], dtype=np.int64)
    fx_values = by_instant.to_numpy(dtype=float)
    needs_fx = bool(usd.any()) if plan.currency == "KRW" else bool((~usd).any())
    needs_fx |= plan.costs.tax and any(a.kind == "overseas_stock" for a in assets)

    def known_rate(instants: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(fx_times, instants, side="right") - 1
        return np.where(pos >= 0, fx_values[np.maximum(pos, 0)] if len(fx_values) else np.nan, np.nan)

    # Every bar's close instant; the run's instants are those of its days.
    instant = np.zeros(closes.shape, dtype=np.int64)
    clocks: dict[tuple[str, str], np.ndarray] = {}  # one conversion per market close (most assets share a few)
    for j, asset in enumerate(assets):
        key = (asset.timezone, asset.close_time.strftime("%H:%M:%S"))
        if key not in clocks:
            clocks[key] = local_instants(index, *key).asi8
        instant[:, j] = clocks[key]
    rate_at_bar = np.where(traded, known_rate(instant.ravel()).reshape(closes.shape), np.nan)
    notes = _stale_fx(assets, plan.currency, index, traded, instant, fx_times, by_instant, first) if needs_fx else []
    if needs_fx:
        late = traded & np.isnan(rate_at_bar) & (usd if plan.currency == "KRW" else ~usd)
        late[:first] = False
        if late.any():
            row, col = np.argwhere(late)[0]
            raise PlanError(msg("pf.err_no_fx", asset=Name(ids[col]), day=index[row].date()))
    krw = np.where(usd, rate_at_bar, 1.0)
    conv = krw if plan.currency == "KRW" else np.where(usd, 1.0, 1.0 / rate_at_bar)
    price_all, conv_all, krw_all = (_carry(a, traded) for a in (closes, conv, krw))
    days = index[first:]
    session = traded[first:]
    before = price_all[first - 1] if first > 0 else np.full(len(ids), np.nan)
    notes += _gaps(assets, days, session)

    # The instants of the run's days, in time order.
    day_of, asset_of = np.nonzero(session)
    when = instant[first:][day_of, asset_of]
    order = np.lexsort((asset_of, when))
    when, day_of, asset_of = when[order], day_of[order], asset_of[order]
    instants, slot = np.unique(when, return_inverse=True)
    closing = np.zeros((len(instants), len(ids)), dtype=bool)
    closing[slot, asset_of] = True
    inst_day = np.zeros(len(instants), dtype=np.int64)
    inst_day[slot] = day_of
    close_at = np.full(session.shape, -1, dtype=np.int64)
    close_at[day_of, asset_of] = slot
    next_close = next_index(closing)
    day_first = np.searchsorted(inst_day, np.arange(len(days) + 1), side="left")
    usd_krw = known_rate(instants)
    if needs_fx and plan.currency == "USD":
        # a day's end is its last close (Seoul's midnight on a day with no close)
        midnight = (days + _DAY_END).tz_localize("Asia/Seoul").tz_convert("UTC").asi8
        last = day_first[1:] - 1
        ends = np.where(last >= day_first[:-1], instants[np.maximum(last, 0)] if len(instants) else 0, midnight)
        day_end_krw = pd.Series(known_rate(ends)).ffill().bfill().to_numpy()
        if np.isnan(day_end_krw).any():
            raise PlanError(msg("pf.err_no_fx_at_all"))
    else:
        day_end_krw = np.ones(len(days))
    timeline = Timeline(ids, days, session, price_all[first:], before, conv_all[first:], krw_all[first:],
                        day_end_krw, instants, inst_day, closing, close_at, next_close, day_first, usd_krw, usd,
                        plan.currency)  # fmt: skip
    return timeline, notes


def _carry(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Each column's last known value carried forward over the rows that have none (NaN before the first)."""
    rows = np.where(known, np.arange(len(values))[:, None], 0)
    np.maximum.accumulate(rows, axis=0, out=rows)
    carried = values[rows, np.arange(values.shape[1])]
    carried[~np.maximum.accumulate(known, axis=0)] = np.nan
    return carried


def next_index(mask: np.ndarray) -> np.ndarray:
    """For each row, the first row at or after it where `mask` holds (-1: none), column by column."""
    n = len(mask)
    rows = np.where(mask, np.arange(n)[:, None], n)
    after = np.minimum.accumulate(rows[::-1], axis=0)[::-1] if n else rows
    return np.where(after == n, -1, after)


def _gaps(assets: list[catalog.Asset], days: pd.DatetimeIndex, session: np.ndarray) -> list[Msg]:
    """Holes of more than STALE_SESSIONS sessions of an asset's own calendar between two of its bars in the run:
    its last price is carried over them (and a rebalance waits for its next bar)."""
    notes = []
    for j, asset in enumerate(assets):
        bar_days = days[session[:, j]]
        if len(bar_days) < 2:
            continue
        cal = calendars.session_days(asset.calendar, bar_days[0].date(), bar_days[-1].date())
        own = bar_days.to_numpy().astype("datetime64[D]")
        missing = np.searchsorted(cal, own[1:], "left") - np.searchsorted(cal, own[:-1], "right")
        for k in np.flatnonzero(missing > STALE_SESSIONS):
            notes.append(msg("pf.note_gap", asset=Name(asset.id), last=bar_days[k].date(), next=bar_days[k + 1].date(),
                             n=int(missing[k])))  # fmt: skip
    return notes


def _stale_fx(assets: list[catalog.Asset], currency: str, index: pd.DatetimeIndex, traded: np.ndarray,
              instant: np.ndarray, fx_times: np.ndarray, by_instant: pd.Series, first: int) -> list[Msg]:  # fmt: skip
    """Prices converted with a USD/KRW fixing more than STALE_SESSIONS KRX sessions older than their bar: said
    once per run (the rate's date and the assets that used it), the run going on with that rate."""
    if not len(fx_times):
        return []
    fix_days = (by_instant.index.tz_convert("Asia/Seoul").normalize().tz_localize(None)).to_numpy()
    convert = np.array([a.currency != currency and a.currency in ("USD", "KRW") for a in assets])
    stale_from: dict[str, dt.date] = {}
    krx = calendars.session_days("XKRX", index[0].date(), index[-1].date() + dt.timedelta(days=1))
    for j, asset in enumerate(assets):
        if not convert[j]:
            continue
        rows = np.flatnonzero(traded[first:, j]) + first
        if not len(rows):
            continue
        pos = np.searchsorted(fx_times, instant[rows, j], side="right") - 1
        ok = pos >= 0
        lag = np.searchsorted(krx, index[rows].to_numpy().astype("datetime64[D]"), "right") - np.searchsorted(
            krx, fix_days[np.maximum(pos, 0)].astype("datetime64[D]"), "right"
        )
        late = ok & (lag > STALE_SESSIONS)
        if late.any():
            stale_from[asset.id] = index[rows[np.argmax(late)]].date()
    if not stale_from:
        return []
    rate_day = _day(fix_days[-1])
    return [msg("pf.note_fx_stale", day=rate_day, names=[Name(a) for a in stale_from], since=min(stale_from.values()))]
