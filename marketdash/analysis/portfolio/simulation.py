"""One run of a plan close by close (SPEC.md, "Portfolio"): the agenda of close instants, the decisions made at
them with what is known then, and the legs each trades at its own close; book.py keeps the money and units.

At one instant: money arrives, dividends are paid, decisions due then are made (money owed raised first, a
rebalance last: it replaces every leg still to trade), trades happen (sells first), the bands are checked.
"""

from __future__ import annotations

import datetime as dt
import heapq
from dataclasses import dataclass

import numpy as np

from marketdash.analysis.portfolio.book import EPS, Book
from marketdash.analysis.portfolio.plan import Plan
from marketdash.analysis.portfolio.timeline import Timeline

WAIT_SAID = dt.timedelta(days=7)  # a calendar rebalance that waited longer than this for every market is said


@dataclass
class Leg:
    """One asset's trade of a decision, at that asset's first close at or after it."""

    j: int
    sell: bool
    amount: float  # sold (portfolio currency, at the applied rate) or spent (fees included)
    owed: bool = False  # raising money owed (never dropped; its proceeds pay what is owed)
    everything: bool = False  # the money ran out: every unit is sold
    pays: float = 0.0  # raising money owed: the part of it this leg's proceeds pay (after the sale's costs)
    live: bool = True


@dataclass(frozen=True)
class Payout:
    j: int
    ex_day: int
    pay_at: int  # instant index, -1: not paid within the run
    gross: float  # per unit, in the asset's currency


class Simulation:
    """One run of a plan over a timeline: the agenda of instants, the decisions and the books (`day` is called
    for each valuation day in order)."""

    def __init__(self, plan: Plan, line: Timeline, arrivals: dict[int, float], outs: dict[int, float],
                 rebalances: dict[int, dt.date], payouts_: list[Payout]) -> None:  # fmt: skip
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
        self.legs: dict[int, list[Leg]] = {}
        self.live_legs = 0
        self.raising = 0.0  # owed money that legs are already selling for
        self.day_first = line.day_first.tolist()  # plain ints: read once a day, faster than numpy scalars
        self.busy = {*arrivals, *outs, *self.ex}  # days with something due before their first close
        self.bands = plan.rebalance == "bands"
        self.splits: dict[int, list[float]] = {}  # cash-flow split decisions: instant -> money to split
        self.raise_at: set[int] = set()
        self.agenda: list[int] = [*rebalances, *self.pay]
        heapq.heapify(self.agenda)
        self.dividends_paid = 0.0
        self.dividend_tax = 0.0
        self.ran_out: dt.date | None = None  # the first day a withdrawal met less than it asked for
        self.emptying = 0  # legs still to trade of a decision that sells everything
        self.forgiven: dict[int, float] = {}  # day -> owed money sales could not raise once everything was sold
        self.waited: list[tuple[dt.date, dt.date]] = []  # calendar rebalances that waited long: (due, done)

    # -- scheduling ----------------------------------------------------------------------------------------------
    def _at(self, i: int) -> None:
        if i >= 0:
            heapq.heappush(self.agenda, int(i))

    def _leg(self, i: int, leg: Leg) -> None:
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
        self.emptying = 0

    # -- a day -----------------------------------------------------------------------------------------------------
    def day(self, d: int) -> bool:
        """Day d, before and at its closes; False when nothing happened (the books stand as they were)."""
        line, book = self.line, self.book
        if d not in self.busy and not (self.agenda and self.agenda[0] < self.day_first[d + 1]) and not self.bands:
            return False  # nothing arrives, leaves, goes ex or trades today: most days of a buy and hold
        for k in self.ex.get(d, []):  # entitled: the units held at the asset's last close before the ex-date
            p = self.payouts[k]
            self.entitled[k] = book.units[p.j]
            book.receivable[p.j] += book.units[p.j] * p.gross * (1 - book.withholding[p.j])
        first = self.day_first[d]
        if d in self.arrivals:
            got = book.receive(self.arrivals[d])
            if self.plan.rebalance == "cashflow":
                if first < len(line.instants):
                    self.splits.setdefault(first, []).append(got)
                    self._at(first)
            else:
                self._wait(first, d, got * book.targets)
        if d in self.outs:
            if not (book.units > EPS).any():  # nothing to sell: only the cash there is can be taken
                self.outs[d] = min(self.outs[d], max(book.free + float(book.remainder.sum()), 0.0))
            book.take(self.outs[d])
            self._owe(first)
        last = self.day_first[d + 1]
        if self.bands:
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
        return True

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
        if i in self.raise_at:  # before a rebalance of the same instant, which replaces its legs
            self.raise_at.discard(i)
            self._raise(i, d)
        for money in self.splits.pop(i, []):
            self._split(i, d, money)
        if i in self.rebalance_at:
            self._rebalance(i, d, breached=None)
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
                    self.raising = max(self.raising - leg.pays, 0.0)
                book.receive(book.sell(d, leg.j, leg.amount, everything=leg.everything))
                if leg.everything:
                    self.emptying -= 1
                    if not self.emptying:
                        self._forgive(d)
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
            self._leg(i, Leg(int(j), True, float(-gap[j])))
        for j in np.flatnonzero(buys):
            if fits[j]:
                self._leg(i, Leg(int(j), False, float(budget[j])))
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
        """Money owed that no leg sells for yet: every holding sold in proportion to its value at instant i, each
        sale grossed up by its fee and tax so that it pays its part. When that is all there is, every unit is sold,
        and what the sales cannot raise is not taken (the money ran out)."""
        book = self.book
        need = book.owed - self.raising
        if need <= EPS or self.emptying:
            return
        held = self._holdings(i, d)[0]
        total = held.sum()
        sold = {}  # each leg's amount: its part of what is owed, before the sale's fee and tax come off
        for j in np.flatnonzero(held > 0):
            at = self.line.next_close[i, j]
            costs = book.sale_costs(int(self.line.inst_day[at]), int(j)) if at >= 0 else 0.0
            sold[int(j)] = (need * held[j] / total, need * held[j] / total / (1 - costs))
        everything = sum(gross for _, gross in sold.values()) >= total - EPS
        if everything and self.ran_out is None:
            self.ran_out = self.line.dates[d].date()
        for j, (pays, gross) in sold.items():
            self.raising += pays
            before = self.live_legs
            self._leg(i, Leg(j, True, gross, owed=True, everything=everything, pays=pays))
            self.emptying += everything and self.live_legs > before
        if everything and not self.emptying:
            self._forgive(d)

    def _forgive(self, d: int) -> None:
        """Everything is sold and money is still owed: a withdrawal takes what there is, so the rest is not taken
        (on this day's books, a flow back in)."""
        owed = self.book.owed
        if owed > EPS:
            self.book.owed = 0.0
            self.raising = 0.0
            self.forgiven[d] = self.forgiven.get(d, 0.0) + owed

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

    def pay_tax(self, d: int, year: int, settled_by: dt.date | None) -> bool:
        """The year's 양도소득세 at day d's end; False when there is none."""
        tax = self.book.year_tax(d, year, settled_by)
        if tax > 0:
            self.book.take(tax)
            self._owe(self.day_first[d + 1])
        return tax > 0


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
