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
import heapq
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from marketdash.analysis.portfolio import schedule, timeline
from marketdash.analysis.portfolio.book import EPS, Book
from marketdash.analysis.portfolio.plan import Plan, PlanError
from marketdash.analysis.portfolio.timeline import Timeline
from marketdash.domain.i18n import Msg, msg

TRADE_COLUMNS = ["date", "asset_id", "side", "units", "price", "currency", "fx", "amount", "fee", "tax"]
VALUE_COLUMNS = ["invested", "withdrawn", "cash", "receivable", "owed", "dividends", "value"]
WAIT_SAID = dt.timedelta(days=7)  # a calendar rebalance that waited longer than this for every market is said


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


@dataclass
class _Leg:
    """One asset's trade of a decision, at that asset's first close at or after it."""

    j: int
    sell: bool
    amount: float  # sold (portfolio currency, at the applied rate) or spent (fees included)
    owed: bool = False  # raising money owed (never dropped; its proceeds pay what is owed)
    live: bool = True


@dataclass(frozen=True)
class _Payout:
    j: int
    ex_day: int
    pay_at: int  # instant index, -1: not paid within the run
    gross: float  # per unit, in the asset's currency


def _days(index: pd.DatetimeIndex, dates: list[dt.date]) -> np.ndarray:
    return index.searchsorted(pd.DatetimeIndex([pd.Timestamp(d) for d in dates]))


class _Run:
    """One run of a plan over a timeline: the agenda of instants, the decisions and the books."""

    def __init__(self, plan: Plan, line: Timeline, arrivals: dict[int, float], outs: dict[int, float],
                 rebalances: dict[int, dt.date], payouts_: list[_Payout]) -> None:  # fmt: skip
        self.plan, self.line, self.book = plan, line, Book(plan, line)
        self.arrivals, self.outs = arrivals, outs
        self.rebalance_at = rebalances  # decision instant -> the due day it serves
        self.ex = {}
        self.pay: dict[int, list[int]] = {}
        for k, p in enumerate(payouts_):
            self.ex.setdefault(p.ex_day, []).append(k)
            if p.pay_at >= 0:
                self.pay.setdefault(p.pay_at, []).append(k)
        self.payouts = payouts_
        self.entitled = np.zeros(len(payouts_))  # units entitled to each payout (0: none or not yet)
        self.pending_at = np.full(len(plan.assets), -1)
        self.legs: dict[int, list[_Leg]] = {}
        self.live_legs = 0
        self.raising = 0.0  # owed money that legs are already selling for
        self.splits: dict[int, list[float]] = {}  # cash-flow split decisions: instant -> money to split
        self.raise_at: set[int] = set()
        self.agenda: list[int] = [*rebalances, *self.pay]
        heapq.heapify(self.agenda)
        self.dividends_paid = 0.0
        self.dividend_tax = 0.0
        self.ran_out: dt.date | None = None
        self.waited: list[tuple[dt.date, dt.date]] = []  # calendar rebalances that waited long: (due, done)
        self.value_before = 0.0  # the value at the previous day's end (a withdrawal takes at most this)

    # -- scheduling ----------------------------------------------------------------------------------------------
    def _at(self, i: int) -> None:
        if i >= 0:
            heapq.heappush(self.agenda, int(i))

    def _leg(self, i: int, leg: _Leg) -> None:
        at = int(self.line.next_close[i, leg.j])
        if at < 0:
            return
        self.legs.setdefault(at, []).append(leg)
        self.live_legs += 1
        self._at(at)

    def _cancel_legs(self) -> None:
        for legs in self.legs.values():
            for leg in legs:
                if leg.live:
                    leg.live = False
                    self.live_legs -= 1
        self.raising = 0.0

    # -- a day -----------------------------------------------------------------------------------------------------
    def day(self, d: int) -> None:
        line, book = self.line, self.book
        for k in self.ex.get(d, []):  # entitled: the units held at the asset's last close before the ex-date
            p = self.payouts[k]
            self.entitled[k] = book.units[p.j]
            book.receivable[p.j] += book.units[p.j] * p.gross * (1 - book.withholding[p.j])
        first = int(line.day_first[d])
        if d in self.arrivals:
            got = book.receive(self.arrivals[d])
            if self.plan.rebalance == "cashflow":
                if first < len(line.instants):
                    self.splits.setdefault(first, []).append(got)
                    self._at(first)
            else:
                self._wait(first, d, got * book.targets)
        if d in self.outs:
            wanted = self.outs[d]
            taken = min(wanted, max(self.value_before + self.arrivals.get(d, 0.0), 0.0))
            if taken < wanted - EPS and self.ran_out is None:
                self.ran_out = line.dates[d].date()
            self.outs[d] = taken
            book.take(taken)
            self._owe(first)
        last = int(line.day_first[d + 1])
        if self.plan.rebalance == "bands":
            for i in range(first, last):
                self.instant(i, d)
            while self.agenda and self.agenda[0] < last:
                heapq.heappop(self.agenda)
        else:
            done = -1
            while self.agenda and self.agenda[0] < last:
                i = heapq.heappop(self.agenda)
                if i != done:
                    self.instant(i, int(line.inst_day[i]))
                    done = i

    def _wait(self, first: int, d: int, parts: np.ndarray) -> None:
        """Money for each asset waits as cash for its first session on or after day d."""
        book = self.book
        for j in np.flatnonzero(parts > 0):
            book.pending[j] += parts[j]
            book.free -= parts[j]
            at = int(self.line.next_close[first, j]) if first < len(self.line.instants) else -1
            self.pending_at[j] = at
            self._at(at)

    def _owe(self, first: int) -> None:
        """Money owed is raised by a decision at the first close instant from now."""
        if self.book.owed > EPS and first < len(self.line.instants):
            self.raise_at.add(first)
            self._at(first)

    # -- an instant ------------------------------------------------------------------------------------------------
    def instant(self, i: int, d: int) -> None:
        for k in self.pay.get(i, []):
            self._pay(k, d)
        if i in self.rebalance_at:
            self._rebalance(i, d, breached=None)
        for money in self.splits.pop(i, []):
            self._split(i, d, money)
        if i in self.raise_at:
            self.raise_at.discard(i)
            self._raise(i, d)
        self._execute(i, d)
        if self.plan.rebalance == "bands" and not self.live_legs:
            breached = self._breached(i, d)
            if breached is not None and self._rebalance(i, d, breached):
                self._execute(i, d)

    def _execute(self, i: int, d: int) -> None:
        """The legs due at instant i (sells first, so their money is there), then money waiting for a session."""
        book = self.book
        legs = [leg for leg in self.legs.pop(i, []) if leg.live]
        for leg in sorted(legs, key=lambda leg: not leg.sell):
            self.live_legs -= 1
            if leg.sell:
                if leg.owed:
                    self.raising = max(self.raising - leg.amount, 0.0)
                book.receive(book.sell(d, leg.j, leg.amount))
            else:
                spent = book.buy(d, leg.j, leg.amount)
                book.free -= spent
                self._keep_remainder(leg.j, leg.amount - spent)
        for j in np.flatnonzero((self.pending_at == i) & self.line.closing[i]):
            budget = book.pending[j] + book.remainder[j]
            book.pending[j] = book.remainder[j] = 0.0
            self.pending_at[j] = -1
            spent = book.buy(d, j, budget)
            book.free += budget - spent
            self._keep_remainder(j, budget - spent)

    def _keep_remainder(self, j: int, unspent: float) -> None:
        """Whole shares: what a buy could not spend waits for the asset's next buy (in `free` until now)."""
        if self.book.whole[j] and unspent > 0:
            self.book.free -= unspent
            self.book.remainder[j] += unspent

    def _holdings(self, i: int, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each holding's value at instant i, and each asset's latest close and conversion then (as known)."""
        price, conv = self.line.known(i, d)
        return np.where(self.book.units > 0, self.book.units * price * conv, 0.0), price, conv

    # -- decisions -------------------------------------------------------------------------------------------------
    def _rebalance(self, i: int, d: int, breached: np.ndarray | None) -> bool:
        """Every leg to its target weight of the value (cash, waiting money and remainders in, owed out); a band
        breach whose breaching legs whole units cannot narrow trades nothing (returns False)."""
        book, line = self.book, self.line
        held, price, conv = self._holdings(i, d)
        unit = price * conv
        cash = book.cash
        gap = book.targets * (cash + held.sum() - book.owed) - held
        trade_day = np.array([line.inst_day[at] if (at := line.next_close[i, j]) >= 0 else -1
                              for j in range(len(gap))])  # fmt: skip
        sells = (gap < -EPS) & (trade_day >= 0)
        sells &= ~(book.whole & (-gap < unit / 2))
        buys = (gap > EPS) & (trade_day >= 0)
        raised = sum(-gap[j] * (1 - book.sale_costs(int(trade_day[j]), j)) for j in np.flatnonzero(sells))
        wanted = gap[buys].sum()
        scale = min(1.0, max(cash - book.owed + raised, 0.0) / wanted) if wanted > 0 else 0.0
        budget = np.where(buys, gap * scale, 0.0)
        cost = np.array([book.unit_cost(j, price[j], conv[j]) if book.whole[j] else 0.0 for j in range(len(gap))])
        fits = buys & ~(book.whole & (budget < cost - EPS))
        if breached is not None and not (breached & (sells | fits)).any():
            return False
        self._cancel_legs()
        book.free += float(book.pending.sum() + book.remainder.sum())
        book.pending[:] = book.remainder[:] = 0.0
        self.pending_at[:] = -1
        for j in np.flatnonzero(sells):
            self._leg(i, _Leg(int(j), True, float(-gap[j])))
        for j in np.flatnonzero(buys):
            if fits[j]:
                self._leg(i, _Leg(int(j), False, float(budget[j])))
            else:
                book.free -= budget[j]
                book.remainder[j] += budget[j]
        if breached is None:
            due = self.rebalance_at[i]
            if line.dates[d].date() - due > WAIT_SAID:
                self.waited.append((due, line.dates[d].date()))
        return True

    def _breached(self, i: int, d: int) -> np.ndarray | None:
        """The holdings whose weight among the holdings left its band at instant i, or None. Money waiting for an
        asset and its whole-share remainder count as that asset's (other cash aside): a share that cannot be bought
        yet is no reason to trade the others."""
        book = self.book
        held = self._holdings(i, d)[0] + book.pending + book.remainder
        total = held.sum()
        if total <= 0:
            return None
        gap = np.abs(held / total - book.targets)
        absolute, relative = self.plan.bands
        out = (gap > absolute / 100 + EPS) | (gap > relative / 100 * book.targets + EPS)
        return out if out.any() else None

    def _split(self, i: int, d: int, money: float) -> None:
        """적립금으로만: the money goes to the assets furthest below their target (holding plus money already
        waiting for it, at instant i), never selling."""
        book = self.book
        held = self._holdings(i, d)[0] + book.pending + book.remainder
        parts = water_fill(held, book.targets * (held.sum() + money), money)
        self._wait(i, d, parts)

    def _raise(self, i: int, d: int) -> None:
        """Money owed that no leg sells for yet: every holding sold in proportion to its value at instant i."""
        book = self.book
        need = book.owed - self.raising
        held = self._holdings(i, d)[0]
        total = held.sum()
        if need <= EPS or total <= EPS:
            return
        need = min(need, total)
        for j in np.flatnonzero(held > 0):
            amount = float(need * held[j] / total)
            self.raising += amount
            self._leg(i, _Leg(int(j), True, amount, owed=True))

    def _pay(self, k: int, d: int) -> None:
        """A dividend paid at its asset's close: reinvested in it (its own currency: no spread), or kept as cash
        (converted with the spread); withholding as the plan's taxes say."""
        p, book = self.payouts[k], self.book
        units = self.entitled[k]
        if units <= 0:
            return
        j = p.j
        book.receivable[j] -= units * p.gross * (1 - book.withholding[j])
        reinvest = self.plan.dividends == "reinvest"
        fx = book.line.conv[d, j] if reinvest else book.rate(d, j, -1)
        gross = units * p.gross * fx
        tax = gross * book.withholding[j]
        book.trades.append([d, j, "dividend", units, p.gross, fx, gross, 0.0, tax])
        self.dividends_paid += gross - tax
        self.dividend_tax += tax
        got = book.receive(gross - tax)
        if reinvest:
            budget = got + book.remainder[j]
            book.free -= got
            book.remainder[j] = 0.0
            spent = book.buy(d, j, budget, spread=False)
            book.free += budget - spent
            self._keep_remainder(j, budget - spent)

    def pay_tax(self, d: int, year: int, settled_by: dt.date | None) -> None:
        tax = self.book.year_tax(d, year, settled_by)
        if tax > 0:
            self.book.take(tax)
            self._owe(int(self.line.day_first[d + 1]))


def water_fill(held: np.ndarray, goal: np.ndarray, money: float) -> np.ndarray:
    """Spend `money` so that the assets furthest below their goal (as a fraction of it) come up first, all bought
    assets ending at the same fraction f of their goal: buy_i = max(0, f * goal_i - held_i), summing to `money`."""
    ratio = np.divide(held, goal, out=np.full_like(held, np.inf), where=goal > 0)
    order = np.argsort(ratio, kind="stable")
    held_sum = goal_sum = 0.0
    f = 0.0
    for k, i in enumerate(order):
        if goal[i] <= 0:
            break
        held_sum += held[i]
        goal_sum += goal[i]
        f = (money + held_sum) / goal_sum
        nxt = ratio[order[k + 1]] if k + 1 < len(order) else np.inf
        if f <= nxt:
            break
    return np.maximum(f * goal - held, 0.0) * (goal > 0)


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


def _payouts(plan: Plan, line: Timeline, bars: pd.DataFrame, table: pd.DataFrame | None) -> list[_Payout]:
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
        out.append(_Payout(j, ex_day, pay_at, float(row.amount)))
    return out


def run(
    plan: Plan, bars: pd.DataFrame, fx: pd.DataFrame | None = None, dividends: pd.DataFrame | None = None
) -> Backtest:
    """Run `plan` (already checked) over the long `bars` (asset_id, date, close), USD/KRW fixings `fx` (date,
    close, source) and the store's `dividends`, from its effective start to the last day all its assets have
    data up to."""
    plan = plan.active()
    end, notes = timeline.run_end(bars, plan.assets, plan.end)
    start = timeline.effective_start(bars, plan.assets, plan.start, end)
    arrivals, outs = _money_days(plan, start, end)
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
    state = _Run(plan, line, dict(zip(_days(line.dates, list(arrivals)).tolist(), arrivals.values(), strict=True)),
                 dict(zip(_days(line.dates, list(outs)).tolist(), outs.values(), strict=True)), rebalances,
                 _payouts(plan, line, bars, dividends))  # fmt: skip
    return _walk(plan, line, state, notes)


def _walk(plan: Plan, line: Timeline, state: _Run, notes: list[Msg]) -> Backtest:
    """Every day in order; the books recorded at each day's end."""
    n, m = len(line.dates), len(plan.assets)
    book = state.book
    units, receivable = np.zeros((n, m)), np.zeros((n, m))
    cash, owed, invested, withdrawn, paid = (np.zeros(n) for _ in range(5))
    years = line.dates.year.to_numpy()
    put_in = taken = 0.0
    for d in range(n):
        state.day(d)
        if d == n - 1 or years[d + 1] != years[d]:
            state.pay_tax(d, int(years[d]), line.dates[d].date() if d == n - 1 else None)
        put_in += state.arrivals.get(d, 0.0)
        taken += state.outs.get(d, 0.0)
        units[d], receivable[d] = book.units, book.receivable
        cash[d], owed[d], invested[d], withdrawn[d], paid[d] = book.cash, book.owed, put_in, taken, state.dividends_paid
        if state.outs:  # a withdrawal takes at most the value of the day before
            state.value_before = _value_at(line, d, book, cash[d])
    if state.ran_out:
        notes.append(msg("pf.note_ran_out", day=state.ran_out))
    notes += [msg("pf.note_waited", due=due, day=day) for due, day in state.waited]
    return _result(plan, line, state, units, receivable, cash, owed, invested, withdrawn, paid, notes)


def _value_at(line: Timeline, d: int, book: Book, cash: float) -> float:
    held = np.where(book.units > 0, book.units * line.price[d] * line.conv[d], 0.0).sum()
    return float(cash + held + (book.receivable * line.conv[d]).sum() - book.owed)


def _result(plan: Plan, line: Timeline, state: _Run, units: np.ndarray, receivable: np.ndarray, cash: np.ndarray,
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
