"""The portfolio engine (SPEC.md, "Portfolio"): a plan run close by close over markets that keep different calendars
and close at different hours, in won or dollars, with what was known at each moment.

The run walks the close instants in time order (timeline.py). Money due on a day arrives before that day's first
close; a decision (a calendar rebalance, a band breach, a cash-flow split, raising money owed) is made at a close
instant with each holding at its latest close then, and each of its legs trades at that asset's own first close at
or after it (book.py keeps the cash, units and trades). A later close never sizes an earlier trade.

At one instant: money arrives, dividends are paid, decisions due then are made, trades happen (sells first), the
bands are checked; a year's tax is paid at the end of its last valuation day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from marketdash.analysis.portfolio import schedule, timeline
from marketdash.analysis.portfolio.plan import Plan, PlanError, check
from marketdash.analysis.portfolio.simulation import Payout, Simulation
from marketdash.analysis.portfolio.timeline import Timeline
from marketdash.domain import catalog
from marketdash.domain.i18n import Msg, Name, msg

TRADE_COLUMNS = ["date", "asset_id", "side", "units", "price", "currency", "fx", "amount", "fee", "tax"]
VALUE_COLUMNS = ["invested", "withdrawn", "cash", "receivable", "owed", "dividends", "value"]


@dataclass(frozen=True)
class Backtest:
    """A plan's run: per valuation day the money in and out, cash, receivables, what is owed and each holding's
    value (`values`, the columns of values.csv), every trade, the dated flows (+ in, - out), what the attribution
    needs, and what is said about the data it ran on."""

    plan: Plan
    start: dt.date
    values: pd.DataFrame
    trades: pd.DataFrame
    flows: pd.Series
    units: pd.DataFrame
    prices: pd.DataFrame
    conv: pd.DataFrame
    receivables: pd.DataFrame
    taxes_paid: float
    notes: list[Msg] = field(default_factory=list)

    @property
    def end(self) -> dt.date:
        return self.values.index[-1].date()


def _days(index: pd.DatetimeIndex, dates: list[dt.date]) -> np.ndarray:
    """The valuation day (its row) of each date."""
    return index.searchsorted(pd.DatetimeIndex([pd.Timestamp(d) for d in dates]))


def _money_days(plan: Plan, start: dt.date, end: dt.date) -> tuple[dict[dt.date, float], dict[dt.date, float]]:
    """Money in and out by due day, within [start, end]."""
    arrivals: dict[dt.date, float] = {}
    outs: dict[dt.date, float] = {}
    if plan.initial > 0:
        arrivals[start] = plan.initial
    for day in schedule.contribution_dates(plan, start, end):
        arrivals[day] = arrivals.get(day, 0.0) + plan.amount
    for day in schedule.withdrawal_dates(plan, start, end):
        outs[day] = outs.get(day, 0.0) + plan.withdraw
    for day, amount in plan.flows:
        if start <= day <= end:
            book = arrivals if amount > 0 else outs
            book[day] = book.get(day, 0.0) + abs(amount)
    return arrivals, outs


def _payouts(plan: Plan, line: Timeline, bars: pd.DataFrame, table: pd.DataFrame | None) -> list[Payout]:
    """The plan's assets' cash dividends in the run: ex-dates after the start (KRX ones derived from the bars),
    each paid at its asset's first bar on or after the pay date (never, when that is past the end)."""
    if plan.dividends == "none" or table is None or table.empty:
        return []
    from marketdash.analysis import dividends as payouts

    out = []
    resolved = payouts.resolve(table[table["asset_id"].isin(plan.assets)], bars)
    for row in resolved.itertuples():
        j = plan.assets.index(row.asset_id)
        ex = pd.Timestamp(row.ex_date)
        if ex <= line.dates[0] or ex > line.dates[-1]:
            continue
        ex_day = int(line.dates.searchsorted(ex))
        pay_from = max(pd.Timestamp(row.pay_date), ex) if pd.notna(row.pay_date) else None
        pay_at = -1
        if pay_from is not None:
            sessions = np.flatnonzero(line.session[:, j] & (line.dates >= pay_from))
            pay_at = int(line.close_at[sessions[0], j]) if len(sessions) else -1
        out.append(Payout(j, ex_day, pay_at, float(row.amount)))
    return out


def run(
    plan: Plan, bars: pd.DataFrame, fx: pd.DataFrame | None = None, dividends: pd.DataFrame | None = None
) -> Backtest:
    """Run `plan` (already checked) over the long `bars` (asset_id, date, close), USD/KRW fixings `fx` (date,
    close, source) and the store's `dividends`, from its effective start to the last day all its assets have
    data up to."""
    check(plan)
    plan = plan.active()
    end, notes = timeline.run_end(bars, plan.assets, plan.end)
    if plan.costs.tax:  # a KRX code neither a list nor KIS has named: taxed as a stock, and said
        notes += [msg("pf.note_kind_assumed", asset=Name(a.id)) for a in map(catalog.get, plan.assets)
                  if a.kind == "domestic_stock" and not a.fixed and not a.listing]  # fmt: skip
    start = timeline.effective_start(bars, plan.assets, plan.start, end)
    arrivals, outs = _money_days(plan, start, end)
    if plan.withdraw > 0 and plan.withdraw_every != "none" and not schedule.withdrawal_dates(plan, start, end):
        notes.append(msg("pf.note_withdraw_after", day=plan.withdraw_from or start, end=end))
    if not arrivals:
        raise PlanError(msg("pf.err_short", every=msg(f"pf.every_{plan.every}"), start=start, end=end))
    line, said = timeline.build(plan, bars, fx, start, end, sorted({*arrivals, *outs}))
    notes += said
    rebalances: dict[int, dt.date] = {}
    all_open = timeline.next_index(line.session.all(axis=1)[:, None])[:, 0]
    for due in schedule.rebalance_dates(plan.rebalance, start, end):
        d = int(line.dates.searchsorted(pd.Timestamp(due)))
        if d < len(line.dates) and all_open[d] >= 0:
            rebalances.setdefault(int(line.day_first[all_open[d]]), due)
    by_day = lambda money: dict(zip(_days(line.dates, list(money)).tolist(), money.values(), strict=True))  # noqa: E731
    state = Simulation(plan, line, by_day(arrivals), by_day(outs), rebalances, _payouts(plan, line, bars, dividends))
    return _walk(plan, line, state, notes)


def _walk(plan: Plan, line: Timeline, state: Simulation, notes: list[Msg]) -> Backtest:
    """Every day in order; the books recorded at the end of each day something happened, and carried over the
    days nothing did."""
    n = len(line.dates)
    book = state.book
    years = line.dates.year.tolist()
    put_in = taken = 0.0
    changed, rows = [], []
    for d in range(n):
        moved = state.day(d)
        if d == n - 1 or years[d + 1] != years[d]:
            moved |= state.pay_tax(d, years[d], line.dates[d].date() if d == n - 1 else None)
        if moved or not changed:
            put_in += state.arrivals.get(d, 0.0)
            taken += state.outs.get(d, 0.0) - state.forgiven.get(d, 0.0)
            changed.append(d)
            rows.append((book.units.copy(), book.receivable.copy(), book.cash, book.owed, put_in, taken,
                         state.dividends_paid))  # fmt: skip
    if state.ran_out:
        notes.append(msg("pf.note_ran_out", day=state.ran_out))
    notes += [msg("pf.note_waited", due=due, day=day) for due, day in state.waited]
    at = np.searchsorted(changed, np.arange(n), side="right") - 1  # each day's latest recorded row
    units, receivable = (np.array([r[k] for r in rows])[at] for k in (0, 1))
    cash, owed, invested, withdrawn, paid = (np.array([r[k] for r in rows], dtype=float)[at] for k in range(2, 7))
    return _result(plan, line, state, units, receivable, cash, owed, invested, withdrawn, paid, notes)


def _result(plan: Plan, line: Timeline, state: Simulation, units: np.ndarray, receivable: np.ndarray, cash: np.ndarray,
            owed: np.ndarray, invested: np.ndarray, withdrawn: np.ndarray, paid: np.ndarray,
            notes: list[Msg]) -> Backtest:  # fmt: skip
    ids, book = plan.assets, state.book
    held = np.where(units > 0, units * line.price * line.conv, 0.0)
    due = receivable * np.nan_to_num(line.conv)
    values = pd.DataFrame(held, index=line.dates, columns=ids)
    table = {"invested": invested, "withdrawn": withdrawn, "cash": cash, "receivable": due.sum(axis=1),
             "owed": owed, "dividends": paid, "value": cash + due.sum(axis=1) - owed + held.sum(axis=1)}  # fmt: skip
    for k, column in enumerate(VALUE_COLUMNS):
        values.insert(k, column, table[column])
    values.index.name = "date"
    flow = np.zeros(len(line.dates))
    for d, amount in state.arrivals.items():
        flow[d] += amount
    for d, amount in state.outs.items():
        flow[d] -= amount
    for d, amount in state.forgiven.items():
        flow[d] += amount
    flows = pd.Series(flow, index=line.dates)
    columns = list(zip(*book.trades, strict=True)) if book.trades else [[]] * 9
    day, asset = np.asarray(columns[0], dtype=int), np.asarray(columns[1], dtype=int)
    currency = np.where(line.usd, "USD", "KRW").astype(object)
    trades = pd.DataFrame({
        "date": line.dates[day], "asset_id": np.asarray(ids, dtype=object)[asset], "side": columns[2],
        "units": columns[3], "price": columns[4], "currency": currency[asset] if len(asset) else [],
        "fx": columns[5], "amount": columns[6], "fee": columns[7], "tax": columns[8],
    }, columns=TRADE_COLUMNS).astype({c: float for c in ("units", "price", "fx", "amount", "fee", "tax")})  # fmt: skip
    frame = lambda a: pd.DataFrame(a, index=line.dates, columns=ids)  # noqa: E731
    return Backtest(plan, line.dates[0].date(), values, trades, flows[flows != 0], frame(units), frame(line.price),
                    frame(line.conv), frame(due), book.taxes_paid, notes)  # fmt: skip
