"""An independent re-implementation of SPEC.md "Portfolio", written from the SPEC text alone, as a test oracle.

It never reads the engine: the point is that two readings of one contract agree. It is a plain loop over close
instants (clarity over speed). Where the SPEC is silent or ambiguous the reading chosen is marked `CHOICE:` with the
SPEC words it reads; `tests/test_portfolio_oracle.py` compares the engine with it.

Only these project modules are used: the catalog (currency, kind, unit, time zone, close time, calendar of each
asset), the calendars' session lists, and the two rate tables of law in `taxes.py`.
"""

from __future__ import annotations

import bisect
import calendar as _cal
import datetime as dt
import math
from collections import deque
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pandas as pd

from marketdash.analysis.portfolio.taxes import krx_sale_tax, overseas_tax
from marketdash.domain import calendars, catalog

UTC = dt.UTC
TINY = 1e-9  # money below this (in the portfolio's currency) is float noise, not a trade


class OracleError(ValueError):
    """A plan the oracle cannot run (the engine raises plan.PlanError for the same plans)."""


@dataclass(frozen=True)
class OCosts:
    fees: dict = field(default_factory=dict)  # venue -> % of each trade
    fx_spread: float = 0.0  # %
    fx_discount: float = 0.0  # % of the spread waived
    tax: bool = False


@dataclass(frozen=True)
class OPlan:
    """The engine's Plan, field for field (the test builds both from one set of keyword arguments)."""

    weights: dict
    start: dt.date | None = None
    end: dt.date | None = None
    initial: float = 10_000_000.0
    every: str = "none"
    day: int = 1
    weekday: int = 0
    amount: float = 0.0
    rebalance: str = "none"
    bands: tuple = (5.0, 25.0)
    currency: str = "KRW"
    costs: OCosts = field(default_factory=OCosts)
    whole_shares: bool = False
    dividends: str = "reinvest"
    withdraw: float = 0.0
    withdraw_every: str = "none"
    withdraw_from: dt.date | None = None
    flows: tuple = ()


VALUE_COLUMNS = ["invested", "withdrawn", "cash", "receivable", "owed", "dividends", "value"]
TRADE_COLUMNS = ["date", "asset_id", "side", "units", "price", "currency", "fx", "amount", "fee", "tax"]
VENUE = {"domestic_stock": "krx", "domestic_index": "krx", "overseas_stock": "us", "overseas_chart": "us",
         "crypto": "coin"}  # fmt: skip


# -- small date helpers ---------------------------------------------------------------------------------------------
def _day(value) -> dt.date:
    return pd.Timestamp(value).date()


def _clamp(year: int, month: int, day: int) -> dt.date:
    """Day N of a month; "a day the month lacks is its last day"."""
    return dt.date(year, month, min(day, _cal.monthrange(year, month)[1]))


def _months(start: dt.date, end: dt.date):
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        yield y, m
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)


def _close_instant(asset: catalog.Asset, day: dt.date) -> dt.datetime:
    """SPEC "Close instants": the bar's date at its market's close time in the market's time zone."""
    return dt.datetime.combine(day, asset.close_time, tzinfo=ZoneInfo(asset.timezone)).astimezone(UTC)


# -- USD/KRW ----------------------------------------------------------------------------------------------------------
class Fx:
    """USD/KRW fixings, each known from its own instant (KIS 15:30 Seoul, ECB 14:15 Berlin, on its date)."""

    def __init__(self, fx: pd.DataFrame | None):
        rows = [] if fx is None else zip(pd.to_datetime(fx["date"]).dt.date, fx["close"], fx["source"], strict=True)
        rows = [(d, float(c), src) for d, c, src in rows]
        kis = sorted(d for d, _, src in rows if src == "kis")
        lo, hi = (kis[0], kis[-1]) if kis else (None, None)
        fixings = []
        for d, close, source in rows:
            if source == "kis":
                t = dt.datetime.combine(d, dt.time(15, 30), tzinfo=ZoneInfo("Asia/Seoul"))
            elif lo is None or d < lo or d > hi:
                # "The store's USD/KRW serves its whole span; the ECB reference rates fill only the days before or
                # after it". CHOICE: an ECB day inside the span where KIS has no row stays unused (not a filler).
                t = dt.datetime.combine(d, dt.time(14, 15), tzinfo=ZoneInfo("Europe/Berlin"))
            else:
                continue
            fixings.append((t.astimezone(UTC), close))
        fixings.sort()
        self.instants = [t for t, _ in fixings]
        self.rates = [r for _, r in fixings]

    def known(self, t: dt.datetime) -> float:
        """The latest fixing at or before instant t."""
        i = bisect.bisect_right(self.instants, t)
        if i == 0:
            raise OracleError(f"no USD/KRW fixing known at {t:%Y-%m-%d %H:%M} UTC")
        return self.rates[i - 1]


# -- one asset's bars and sessions --------------------------------------------------------------------------------
class Series:
    """One chosen asset: its bars (sessions are the dates of its bars), close instants, and calendar fallback."""

    def __init__(self, asset_id: str, frame: pd.DataFrame):
        self.id = asset_id
        self.asset = catalog.get(asset_id)
        frame = frame.sort_values("date")
        self.dates = pd.to_datetime(frame["date"]).dt.date.tolist()
        self.closes = [float(c) for c in frame["close"]]
        self.close_on = dict(zip(self.dates, self.closes, strict=True))
        self.instants = [_close_instant(self.asset, d) for d in self.dates]
        self.instant_on = dict(zip(self.dates, self.instants, strict=True))
        kind, unit = self.asset.kind, self.asset.unit
        self.venue = VENUE[kind]
        self.whole = kind in ("domestic_stock", "overseas_stock")
        self.krx_stock = kind == "domestic_stock" and unit == "KRW per share"  # 증권거래세; ETFs/ETNs say "per unit"
        self.us_stock = kind == "overseas_stock"  # 양도소득세 and 15 % withholding
        self.pays = kind in ("domestic_stock", "overseas_stock")  # an index, a coin or a future pays nothing

    def instant(self, day: dt.date) -> dt.datetime:
        found = self.instant_on.get(day)
        return found if found is not None else _close_instant(self.asset, day)

    def known_close(self, t: dt.datetime) -> float | None:
        """The latest close at or before instant t."""
        i = bisect.bisect_right(self.instants, t)
        return self.closes[i - 1] if i else None

    def last_close(self, day: dt.date) -> tuple[dt.date, float] | None:
        i = bisect.bisect_right(self.dates, day)
        return (self.dates[i - 1], self.closes[i - 1]) if i else None

    def first_session(self, day: dt.date, end: dt.date) -> dt.date | None:
        """The first bar date on or after `day`, within the run (up to `end`)."""
        i = bisect.bisect_left(self.dates, day)
        return self.dates[i] if i < len(self.dates) and self.dates[i] <= end else None

    def first_close_at_or_after(self, t: dt.datetime, end: dt.date) -> dt.date | None:
        i = bisect.bisect_left(self.instants, t)
        return self.dates[i] if i < len(self.dates) and self.dates[i] <= end else None

    def session_list(self) -> list[dt.date]:
        """Its bars, with the exchange calendar standing in where no bars exist (before the first, after the last)."""
        if not hasattr(self, "_sessions"):
            first, last = self.dates[0], self.dates[-1]
            cal = self.asset.calendar
            before = [d.date() for d in calendars.sessions(cal, first - dt.timedelta(days=60), first)]
            before = [d for d in before if d < first]
            after = [d.date() for d in calendars.sessions(cal, last + dt.timedelta(days=1), last + dt.timedelta(400))]
            self._sessions = before + self.dates + after
        return self._sessions

    def shift_sessions(self, day: dt.date, n: int) -> dt.date:
        """The n-th session of the exchange's calendar after `day` (SPEC "Taxes": settlement is T+2 KRX sessions,
        T+1 or T+2 NYSE sessions: the exchange's, whatever the bars hold)."""
        return calendars.sessions(self.asset.calendar, day + dt.timedelta(days=1), day + dt.timedelta(days=20))[
            n - 1
        ].date()

    def data_up_to(self) -> dt.date:
        """SPEC: "has data up to D when no session of its market's calendar lies after its last bar and on or
        before D"."""
        last = self.dates[-1]
        later = calendars.sessions(self.asset.calendar, last + dt.timedelta(days=1), last + dt.timedelta(days=400))
        return later[0].date() - dt.timedelta(days=1) if len(later) else dt.date.max


# -- the state of the portfolio -----------------------------------------------------------------------------------
@dataclass
class Leg:
    asset: str
    side: str  # "buy" or "sell"
    amount: float  # sell: amount sold; buy: budget spent (fees included)
    day: dt.date  # the date of its own first close at or after the decision
    decision: int
    raise_all: bool = False  # a "ran out" raise: sell every unit
    pays: float = 0.0  # a raise leg: the part of what is owed its proceeds pay


@dataclass
class Receivable:
    asset: str
    units: float
    gross: float  # per unit, asset currency
    withheld: float  # fraction
    ex_date: dt.date
    pay_day: dt.date | None  # first session on or after the pay date (None: not within the run)


@dataclass
class Decision:
    kind: str  # "raise", "rebalance", "bands", "cashflow"
    ran_out: bool = False
    open_legs: int = 0


class Oracle:
    def __init__(self, plan, bars: pd.DataFrame, fx: pd.DataFrame | None, dividends: pd.DataFrame | None):
        self.plan = plan
        self.fx = Fx(fx)
        self.ccy = plan.currency
        if self.ccy not in ("KRW", "USD"):
            raise OracleError(f"unknown currency {self.ccy}")
        self._weights()
        self._series(bars)
        self._window()
        self._costs()
        self._schedule()
        self._dividends(dividends)
        self.notes: list[str] = []

    # ---- plan ------------------------------------------------------------------------------------------------
    def _weights(self) -> None:
        """SPEC "Plan": an asset weighted 0 is dropped before anything is computed, the rest scaled to 100 %."""
        w = {}
        for a, x in dict(self.plan.weights).items():
            a = catalog.get(a).id
            w[a] = w.get(a, 0.0) + float(x)
        if any(x < 0 for x in w.values()):
            raise OracleError("negative weight")
        w = {a: x for a, x in w.items() if x > 0}
        if not w:
            raise OracleError("no weight")
        total = sum(w.values())
        self.w = {a: x / total for a, x in w.items()}
        self.ids = list(self.w)

    def _series(self, bars: pd.DataFrame) -> None:
        self.s: dict[str, Series] = {}
        for a in self.ids:
            frame = bars[bars["asset_id"] == a]
            frame = frame[frame["close"].notna() & (frame["close"] > 0)]
            if frame.empty:
                raise OracleError(f"no bars for {a}")
            self.s[a] = Series(a, frame)

    def _window(self) -> None:
        """SPEC "Days": the effective start and the run's end (moved back to what every asset has data up to)."""
        start = self.plan.start or dt.date.min
        firsts = {}
        for a, s in self.s.items():
            i = bisect.bisect_left(s.dates, start)
            if i == len(s.dates):
                raise OracleError(f"no bars for {a} in the range")
            firsts[a] = s.dates[i]
        self.start = max(firsts.values())
        chosen_end = self.plan.end or max(s.dates[-1] for s in self.s.values())
        up_to = {a: s.data_up_to() for a, s in self.s.items()}
        self.end = min([chosen_end, *up_to.values()])
        self.moved = [(a, self.s[a].dates[-1]) for a, d in up_to.items() if d < chosen_end]
        if self.end < self.start:
            raise OracleError("the end is before the start")

    def _costs(self) -> None:
        c = self.plan.costs
        self.fee = {a: float(dict(c.fees).get(s.venue, 0.0)) / 100 for a, s in self.s.items()}
        self.spread = float(c.fx_spread) / 100 * (1 - float(c.fx_discount) / 100)
        self.taxes = bool(c.tax)

    def _schedule(self) -> None:
        """Every amount due, by day: arrivals (+) and withdrawals (−)."""
        p, lo, hi = self.plan, self.start, self.end
        self.arrivals: dict[dt.date, float] = {}
        self.outs: dict[dt.date, float] = {}
        withdraw_dates = []
        if p.withdraw > 0 and p.withdraw_every in ("monthly", "yearly"):  # CHOICE: "none" takes nothing out
            # CHOICE: withdrawals are "set" when an amount and a period are given; without `withdraw_from` the
            # first is due on the effective start (SPEC names F but gives it no default).
            f = p.withdraw_from or lo
            if p.withdraw_every == "monthly":
                withdraw_dates = [_clamp(y, m, f.day) for y, m in _months(f, hi)]
            else:
                withdraw_dates = [_clamp(y, f.month, f.day) for y in range(f.year, hi.year + 1)]
            # CHOICE: dues before the effective start are not part of the run (nothing is held yet).
            withdraw_dates = [d for d in withdraw_dates if f <= d and lo <= d <= hi]
        first_out = min([p.withdraw_from or lo] if withdraw_dates else [dt.date.max])
        contrib = []
        if p.amount > 0 and p.every == "monthly":
            contrib = [_clamp(y, m, p.day) for y, m in _months(lo, hi)]
        elif p.amount > 0 and p.every == "weekly":
            d = lo + dt.timedelta(days=1)
            contrib = [d + dt.timedelta(days=k) for k in range((hi - d).days + 1)]
            contrib = [d for d in contrib if d.weekday() == p.weekday]
        # "after the effective start and up to the end (and, when withdrawals are set, before their first day)"
        contrib = [d for d in contrib if lo < d <= hi and d < first_out]
        if p.initial > 0:
            self.arrivals[lo] = float(p.initial)
        for d in contrib:
            self.arrivals[d] = self.arrivals.get(d, 0.0) + float(p.amount)
        for d in withdraw_dates:
            self.outs[d] = self.outs.get(d, 0.0) + float(p.withdraw)
        for d, amount in p.flows:
            d = _day(d)
            # CHOICE: a dated one-off outside [effective start, end] is ignored (the SPEC bounds only the
            # periodic ones); one on the effective start adds to the initial amount.
            if not lo <= d <= hi or amount == 0:
                continue
            book = self.arrivals if amount > 0 else self.outs
            book[d] = book.get(d, 0.0) + abs(float(amount))
        if not self.arrivals:
            raise OracleError("no money in")

    def _dividends(self, frame: pd.DataFrame | None) -> None:
        """SPEC "Dividends": only fixed rows with amount > 0; KRX ex-date by the T+2 rule from the asset's sessions."""
        self.divs: dict[str, list[tuple[dt.date, dt.date, dt.date, float]]] = {a: [] for a in self.ids}
        if frame is None or frame.empty or self.plan.dividends == "none":
            return
        for r in frame.itertuples(index=False):
            if r.asset_id not in self.s or not bool(r.fixed) or not float(r.amount) > 0:
                continue
            s = self.s[r.asset_id]
            if not s.pays:
                continue
            sessions = s.session_list()
            if s.asset.kind == "domestic_stock":
                # kis-dividends.md §1.5: S = last session <= record date; ex-date = the session before S.
                i = bisect.bisect_right(sessions, _day(r.record_date)) - 1
                if i < 1:
                    continue
                ex = sessions[i - 1]
            elif pd.isna(r.ex_date):
                continue  # a US dividend without its ex-date cannot be placed
            else:
                ex = _day(r.ex_date)
            # "belongs to the units held at the close of the asset's last session before the ex-date"
            i = bisect.bisect_left(sessions, ex)
            if i < 1:
                continue
            cum = sessions[i - 1]
            # "first session on or after the pay date counts the same way"; CHOICE: never before the ex-date.
            j = bisect.bisect_left(sessions, max(_day(r.pay_date), ex))
            pay = sessions[j] if j < len(sessions) else None
            self.divs[r.asset_id].append((cum, ex, pay, float(r.amount)))

    # ---- money and rates -------------------------------------------------------------------------------------
    def conv(self, asset: str, t: dt.datetime) -> float:
        """Portfolio currency per unit of the asset's currency at USD/KRW as known at instant t, without spread."""
        ccy = self.s[asset].asset.currency
        if ccy == self.ccy:
            return 1.0
        if (ccy, self.ccy) == ("USD", "KRW"):
            return self.fx.known(t)
        if (ccy, self.ccy) == ("KRW", "USD"):
            return 1.0 / self.fx.known(t)
        raise OracleError(f"no conversion from {ccy}")

    def foreign(self, asset: str) -> bool:
        return self.s[asset].asset.currency != self.ccy

    def trade_fx(self, asset: str, t: dt.datetime, side: str) -> float:
        """SPEC "Currencies": the rate known at the close, times (1 ± spread × (1 − discount)) on a trade."""
        plain = self.conv(asset, t)
        if not self.foreign(asset):
            return 1.0
        return plain * (1 + self.spread) if side == "buy" else plain * (1 - self.spread)

    def holding_at(self, asset: str, t: dt.datetime) -> float:
        """A decision's view: units at the latest close at or before t, USD/KRW as known at t."""
        u = self.units[asset]
        if u == 0:
            return 0.0
        return u * self.s[asset].known_close(t) * self.conv(asset, t)

    def holding_on(self, asset: str, day: dt.date) -> float:
        """A valuation's view: its last close on or before the day, converted at the rate of that close."""
        u = self.units[asset]
        if u == 0:
            return 0.0
        d, c = self.s[asset].last_close(day)
        return u * c * self.conv(asset, self.s[asset].instant(d))

    def take_in(self, money: float) -> None:
        """ "any money that comes into cash (an arrival, a sale, a dividend) pays [what is owed] first"."""
        paid = min(self.owed, money) if money > 0 else 0.0
        self.owed -= paid
        self.free += money - paid

    # ---- the run ----------------------------------------------------------------------------------------------
    def run(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        self.units = {a: 0.0 for a in self.ids}
        self.free = 0.0  # cash not waiting for a session (sale surpluses, cash dividends, leftovers)
        self.waiting = {a: 0.0 for a in self.ids}  # money split to an asset, waiting for its session
        self.remainder = {a: 0.0 for a in self.ids}  # whole shares: what a buy could not spend
        self.unsplit: list[tuple[dt.datetime, float]] = []  # cashflow money waiting for its decision
        self.owed = 0.0
        self.legs: list[Leg] = []
        self.decisions: dict[int, Decision] = {}
        self.raises: list[tuple[dt.datetime, dt.date]] = []  # (decision instant, due day)
        self.receivables: list[Receivable] = []
        self.lots = {a: deque() for a in self.ids}
        self.invested = self.withdrawn = self.div_net = 0.0
        # (settlement date, realised gain in won, its trade row) of US stock sales
        self.settled: list[tuple[dt.date, float, int]] = []
        self.trades: list[dict] = []
        rows = []
        days = self._valuation_days()
        self.last_day = days[-1]
        last_of_year = {}
        for d in days:
            last_of_year[d.year] = d
        rebalance_days = self._rebalance_days()
        for d in days:
            self._day_start(d)
            instants = sorted({self.s[a].instant(d) for a in self.ids if d in self.s[a].close_on})
            for t in instants:
                closing = [a for a in self.ids if d in self.s[a].close_on and self.s[a].instant(d) == t]
                self._instant(d, t, closing, rebalance_day=d in rebalance_days and t == instants[0])
            if last_of_year.get(d.year) == d and self.taxes:
                self._pay_year_tax(d, instants[-1] if instants else dt.datetime.combine(d, dt.time(23, 59, 59), UTC))
            rows.append(self._row(d))
        values = pd.DataFrame(rows).set_index("date")
        values.index = pd.DatetimeIndex(values.index, name="date")
        values = values[VALUE_COLUMNS + self.ids]
        trades = pd.DataFrame(self.trades, columns=TRADE_COLUMNS)
        trades["date"] = pd.to_datetime(trades["date"])
        for a, last in self.moved:
            self.notes.append(f"end moved back: {a} last bar {last}")
        values.attrs["notes"] = list(self.notes)
        values.attrs["start"], values.attrs["end"] = self.start, self.end
        return values, trades

    def _valuation_days(self) -> list[dt.date]:
        """SPEC: "every date in [effective start, end] on which any chosen asset has a bar or money is due"."""
        days = set(self.arrivals) | set(self.outs)
        for s in self.s.values():
            days |= {d for d in s.dates if self.start <= d <= self.end}
        return sorted(days)

    def _rebalance_days(self) -> set[dt.date]:
        """SPEC "Rebalancing": due on the first day of each month / quarter / half / year after the effective start,
        decided on the first date on or after it on which every chosen asset has a bar."""
        months = {"monthly": range(1, 13), "quarterly": (1, 4, 7, 10), "semiannual": (1, 7), "yearly": (1,)}
        if self.plan.rebalance not in months:
            return set()
        common = sorted(set.intersection(*(set(s.dates) for s in self.s.values())))
        common = [d for d in common if self.start <= d <= self.end]
        out = set()
        for y, m in _months(self.start, self.end):
            due = dt.date(y, m, 1)
            if m not in months[self.plan.rebalance] or not due > self.start:
                continue
            i = bisect.bisect_left(common, due)
            if i < len(common):
                out.add(common[i])
        return out

    def _decision_instant(self, day: dt.date, strictly_after: bool = False) -> dt.datetime | None:
        """ "the earliest close instant among each asset's first session on or after D"."""
        found = []
        for s in self.s.values():
            first = s.first_session(day + dt.timedelta(days=1) if strictly_after else day, self.end)
            if first is not None:
                found.append(s.instant(first))
        return min(found) if found else None

    def _day_start(self, d: dt.date) -> None:
        """Money due on day d. CHOICE: it arrives before the first close instant of d (so every decision made at
        a close of d sees it); arrivals before withdrawals of the same day."""
        money = self.arrivals.get(d, 0.0)
        if money > 0:
            self.invested += money
            before = self.owed
            self.take_in(money)
            money -= before - self.owed  # what paid what was owed is not split
            self.free -= money
            if self.plan.rebalance == "cashflow":
                t = self._decision_instant(d)
                self.unsplit.append((t, money))  # t None: no session left; it stays cash
            else:
                for a in self.ids:
                    self.waiting[a] += money * self.w[a]
        out = self.outs.get(d, 0.0)
        if out > 0 and not any(u > TINY for u in self.units.values()):
            # SPEC "Money out": with nothing held, a withdrawal takes only the cash there is (nothing to sell).
            out = min(out, max(self.free + sum(self.remainder.values()), 0.0))
        if out > 0:
            self.withdrawn += out
            self._take_out(out, d, self._decision_instant(d))

    def _take_out(self, amount: float, d: dt.date, t: dt.datetime | None) -> None:
        """SPEC "Money out": "first from cash not waiting for a session (remainders included, which start anew),
        the rest owed", raised by sales decided at t."""
        self.free += sum(self.remainder.values())
        self.remainder = {a: 0.0 for a in self.ids}
        take = min(amount, max(self.free, 0.0))
        self.free -= take
        self.owed += amount - take
        if amount - take > TINY and t is not None:
            self.raises.append((t, d))

    def _instant(self, d: dt.date, t: dt.datetime, closing: list[str], rebalance_day: bool) -> None:
        """ "At one instant: money arrives, then dividends are paid, then trades, then the bands are checked"."""
        for a in closing:
            self._pay_dividends(a, d, t)
        # CHOICE: decisions of this instant (raises, cash-flow splits, a calendar rebalance) come before its trades,
        # so that their legs of this close trade with the others.
        for td, due in [r for r in self.raises if r[0] == t]:
            self.raises.remove((td, due))
            self._decide_raise(t, d, due)
        for tu, money in [u for u in self.unsplit if u[0] == t]:
            self.unsplit.remove((tu, money))
            self._decide_cashflow(t, d, money)
        if rebalance_day:
            self._decide_rebalance(t, d, "rebalance", None)
        self._trade(d, t, closing)
        if self.plan.rebalance == "bands" and not self.legs:
            breach = self._breach(t)
            if breach:
                self._decide_rebalance(t, d, "bands", breach)
                self._trade(d, t, closing)
        for a in closing:
            self._entitle(a, d)

    # ---- trades --------------------------------------------------------------------------------------------
    def _trade(self, d: dt.date, t: dt.datetime, closing: list[str]) -> None:
        """Every leg due at this close, sells first; then the money waiting for these assets buys."""
        due = [leg for leg in self.legs if leg.day == d and leg.asset in closing]
        for leg in [x for x in due if x.side == "sell"] + [x for x in due if x.side == "buy"]:
            self.legs.remove(leg)
            if leg.side == "sell":
                self._sell(leg.asset, d, t, leg.amount, everything=leg.raise_all)
            else:
                self.free -= leg.amount
                self.remainder[leg.asset] += leg.amount
                self._buy(leg.asset, d, t, self.remainder[leg.asset])
            dec = self.decisions[leg.decision]
            dec.open_legs -= 1
            if dec.ran_out and dec.open_legs == 0 and self.owed > TINY:
                # CHOICE: when the money ran out, what the sales could not pay is not taken: the withdrawal
                # "takes what there is", so `withdrawn` falls by it on the day of the last sale.
                self.withdrawn -= self.owed
                self.owed = 0.0
        for a in closing:
            if self.waiting[a] > TINY:
                # CHOICE: all money waiting for this session buys in one trade (one row), remainder added.
                self.remainder[a] += self.waiting[a]
                self.waiting[a] = 0.0
                self._buy(a, d, t, self.remainder[a])

    def _buy(self, a: str, d: dt.date, t: dt.datetime, budget: float, plain: bool = False) -> None:
        """Spend `budget` (in the portfolio's currency) held as a's remainder; fees on top of the amount.
        SPEC "Units": floor(B / (price × rate × (1 + fee))) whole units; what is left is a's remainder."""
        s, fee = self.s[a], self.fee[a]
        price = s.close_on[d]
        fx = self.conv(a, t) if plain else self.trade_fx(a, t, "buy")
        if self.plan.whole_shares and s.whole:
            units = math.floor(budget / (price * fx * (1 + fee)) + 1e-9)
        else:
            units = budget / (price * fx * (1 + fee))
        if units <= 0:
            return
        amount = units * price * fx
        cost = amount * (1 + fee)
        if not (self.plan.whole_shares and s.whole):
            cost = budget  # fractional: every bit spent (the same number, without rounding noise)
        self.remainder[a] -= cost
        if abs(self.remainder[a]) < TINY:
            self.remainder[a] = 0.0
        self.units[a] += units
        self.trades.append(self._trade_row(d, a, "buy", units, price, fx, amount, amount * fee, 0.0))
        if s.us_stock:
            self.lots[a].append([units, (units * price * self.fx.known(t) + self._won(t, amount * fee)) / units])

    def _sell(self, a: str, d: dt.date, t: dt.datetime, amount: float, everything: bool = False) -> None:
        """SPEC "Units": a sell of amount A takes A / (price × rate) units (ceil for whole shares), at most those
        held; fees and 증권거래세 come off the proceeds."""
        s, fee = self.s[a], self.fee[a]
        price = s.close_on[d]
        fx = self.trade_fx(a, t, "sell")
        held = self.units[a]
        if everything:
            units = held
        elif self.plan.whole_shares and s.whole:
            units = min(math.ceil(amount / (price * fx) - 1e-9), held)
        else:
            units = min(amount / (price * fx), held)
            if held - units < 1e-12 * max(held, 1):
                units = held
        if units <= 0:
            return
        self.units[a] = held - units if units < held else 0.0
        value = units * price * fx
        tax = value * self._sale_tax_rate(a, d) if self.taxes and s.krx_stock else 0.0
        self.trades.append(self._trade_row(d, a, "sell", units, price, fx, value, value * fee, tax))
        self.take_in(value - value * fee - tax)
        if s.us_stock:
            self._realise(a, d, t, units, units * price * self.fx.known(t) - self._won(t, value * fee))

    def _sale_tax_rate(self, a: str, d: dt.date) -> float:
        """증권거래세 at the rate of the settlement date, T+2 KRX sessions."""
        return krx_sale_tax(self.s[a].shift_sessions(d, 2))

    def _won(self, t: dt.datetime, money: float) -> float:
        """Money of the portfolio's currency in won at the fixing known at instant t (SPEC "Taxes": every amount
        in won at the fixing known at its trade's close, no spread; fees deducted)."""
        return money if self.ccy == "KRW" else money * self.fx.known(t)

    def _realise(self, a: str, d: dt.date, t: dt.datetime, units: float, proceeds: float) -> None:
        """FIFO lots; the gain belongs to the tax year of the settlement date (T+1 NYSE from 2024-05-28, T+2 before)."""
        cost, left, lots = 0.0, units, self.lots[a]
        while left > 1e-12 and lots:
            take = min(lots[0][0], left)
            cost += take * lots[0][1]
            lots[0][0] -= take
            left -= take
            if lots[0][0] <= 1e-12:
                lots.popleft()
        settle = self.s[a].shift_sessions(d, 1 if d >= dt.date(2024, 5, 28) else 2)
        self.settled.append((settle, proceeds - cost, len(self.trades) - 1))

    def _trade_row(self, d, a, side, units, price, fx, amount, fee, tax) -> dict:
        return {"date": pd.Timestamp(d), "asset_id": a, "side": side, "units": units, "price": price,
                "currency": self.s[a].asset.currency, "fx": fx, "amount": amount, "fee": fee, "tax": tax}  # fmt: skip

    # ---- decisions ---------------------------------------------------------------------------------------------
    def _new_decision(self, kind: str) -> int:
        k = len(self.decisions)
        self.decisions[k] = Decision(kind)
        return k

    def _leg_day(self, a: str, t: dt.datetime) -> dt.date | None:
        """ "each leg then trades at its own first close at or after the decision"."""
        return self.s[a].first_close_at_or_after(t, self.end)

    def _decide_raise(self, t: dt.datetime, d: dt.date, due: dt.date) -> None:
        """SPEC "Money out": what is owed is raised by selling every holding in proportion to its value at the
        decision; SPEC: each leg sells its part grossed up by the sale's fee and tax (part / (1 − fee − tax)), so
        that its proceeds pay that part. What pending raise legs will pay is not raised twice."""
        pending = [leg for leg in self.legs if self.decisions[leg.decision].kind == "raise"]
        if any(leg.raise_all for leg in pending):
            return
        owed = self.owed - sum(leg.pays for leg in pending)
        if owed <= TINY:
            return
        h = {a: self.holding_at(a, t) for a in self.ids}
        total = sum(h.values())
        k = self._new_decision("raise")
        dec = self.decisions[k]
        gross = {}
        for a in self.ids:
            day = self._leg_day(a, t) if h[a] > 0 else None
            if day is not None:
                rate = self._sale_tax_rate(a, day) if self.taxes and self.s[a].krx_stock else 0.0
                gross[a] = owed * h[a] / total / (1 - self.fee[a] - rate)
        if sum(gross.values()) >= total - TINY:
            # "A withdrawal larger than the value then takes what there is". CHOICE: judged at the decision, against
            # the holdings as known then (the receivables and waiting money aside): every holding is sold whole.
            dec.ran_out = True
            self.notes.append(f"money ran out on {due}")
        for a, amount in gross.items():
            self.legs.append(Leg(a, "sell", amount, self._leg_day(a, t), k, raise_all=dec.ran_out,
                                 pays=owed * h[a] / total))  # fmt: skip
            dec.open_legs += 1
        if dec.ran_out and dec.open_legs == 0:
            self.withdrawn -= self.owed
            self.owed = 0.0

    def _decide_cashflow(self, t: dt.datetime, d: dt.date, money: float) -> None:
        """SPEC "Money in" for `cashflow`: the money goes to the assets furthest below their target weight, never
        selling, counting each asset's holding plus the money already waiting for it.

        SPEC: the assets whose holding is the smallest fraction of its target come up first, every asset bought
        ending at the same fraction f of its target: parts a_i = max(0, f·w_i·T − h_i) adding up to the money (T =
        holdings + waiting + remainders + the new money). Remainders count as money waiting for their asset."""
        have = {a: self.holding_at(a, t) + self.waiting[a] + self.remainder[a] for a in self.ids}
        total = sum(have.values()) + money
        goal = {a: self.w[a] * total for a in self.ids}
        order = sorted(self.ids, key=lambda a: have[a] / goal[a])
        f = 0.0
        for k in range(1, len(order) + 1):
            chosen = order[:k]
            f = (money + sum(have[a] for a in chosen)) / sum(goal[a] for a in chosen)
            nxt = have[order[k]] / goal[order[k]] if k < len(order) else math.inf
            if f <= nxt:
                break
        for a in self.ids:
            self.waiting[a] += max(0.0, f * goal[a] - have[a])

    def _breach(self, t: dt.datetime) -> list[str]:
        """SPEC "Rebalancing", bands: a holding's weight among the holdings (money waiting for an asset and its
        whole-share remainder count as that asset's; other cash aside) more than the absolute %p or the relative %
        away from its target."""
        h = {a: self.holding_at(a, t) + self.waiting[a] + self.remainder[a] for a in self.ids}
        total = sum(h.values())
        if total <= TINY:
            return []
        absolute, relative = self.plan.bands
        out = []
        for a in self.ids:
            gap = abs(h[a] / total - self.w[a])
            if gap * 100 > absolute + 1e-12 or gap / self.w[a] * 100 > relative + 1e-12:
                out.append(a)
        return out

    def _decide_rebalance(self, t: dt.datetime, d: dt.date, kind: str, breaching: list[str] | None) -> None:
        """SPEC "Rebalancing": V = cash (waiting money and every remainder included) + holdings − owed;
        A_i = w_i·V − h_i; sells sell |A_i|, buys spend s·A_i with
        s = min(1, (cash − owed + Σ_sells |A_j|(1 − fee_j − tax_j)) / Σ_buys A_i).

        CHOICE: the decision takes over all cash: money waiting for a session no longer buys on its own (the legs
        spend it), and legs of earlier decisions not yet traded are replaced (V already nets what is owed)."""
        h = {a: self.holding_at(a, t) for a in self.ids}
        cash = self.free + sum(self.waiting.values()) + sum(self.remainder.values())
        value = cash + sum(h.values()) - self.owed
        whole = self.plan.whole_shares
        legs, dropped = {}, {}
        for a in self.ids:
            amount = self.w[a] * value - h[a]
            day = self._leg_day(a, t)
            if abs(amount) <= TINY * max(value, 1.0) or day is None:
                continue
            if whole and self.s[a].whole and amount < 0:
                unit = self.s[a].known_close(t) * self.conv(a, t)  # CHOICE: half a unit at the plain rate
                if -amount < unit / 2:  # "a sell under half a unit" is dropped
                    dropped[a] = 0.0
                    continue
            legs[a] = (amount, day)
        sells = {a: -x for a, (x, _) in legs.items() if x < 0}
        buys = {a: x for a, (x, _) in legs.items() if x > 0}
        raised = sum(
            x * (1 - self.fee[a] - (self._sale_tax_rate(a, legs[a][1]) if self.taxes and self.s[a].krx_stock else 0))
            for a, x in sells.items()
        )
        s = min(1.0, (cash - self.owed + raised) / sum(buys.values())) if buys else 1.0
        budgets = {a: s * x for a, x in buys.items()}
        if whole:
            # CHOICE: buys are dropped after s is set, against one unit at the price and buy rate known at t,
            # fee included; s is not computed again.
            # CHOICE: an asset with no close known yet at t (its first bar comes later that day) is not judged.
            for a in list(budgets):
                price = self.s[a].known_close(t)
                if not self.s[a].whole or price is None:
                    continue
                unit = price * self._decision_buy_rate(a, t) * (1 + self.fee[a])
                if budgets[a] < unit:
                    dropped[a] = budgets.pop(a)
        if kind == "bands" and breaching and all(a in dropped for a in breaching):
            return  # "a band breach all of whose breaching legs are dropped trades nothing"
        if kind == "bands" and breaching and not sells and not budgets:
            return
        k = self._new_decision(kind)
        dec = self.decisions[k]
        for leg in list(self.legs):  # earlier legs are replaced
            self.legs.remove(leg)
        self.free = cash
        self.waiting = {a: 0.0 for a in self.ids}
        self.remainder = {a: 0.0 for a in self.ids}
        for a, budget in dropped.items():
            if budget > 0:  # "its budget becomes the asset's remainder"
                self.free -= budget
                self.remainder[a] = budget
        for a, x in sells.items():
            self.legs.append(Leg(a, "sell", x, legs[a][1], k))
            dec.open_legs += 1
        for a, x in budgets.items():
            self.legs.append(Leg(a, "buy", x, legs[a][1], k))
            dec.open_legs += 1

    def _decision_buy_rate(self, a: str, t: dt.datetime) -> float:
        plain = self.conv(a, t)
        return plain * (1 + self.spread) if self.foreign(a) else 1.0

    # ---- dividends ----------------------------------------------------------------------------------------------
    def _entitle(self, a: str, d: dt.date) -> None:
        """At the close of the asset's last session before the ex-date, its units then are entitled."""
        for cum, ex, pay, gross in self.divs[a]:
            if cum == d and self.units[a] > 0 and cum >= self.start:
                rate = 0.0
                if self.taxes:
                    rate = 0.154 if self.s[a].asset.kind == "domestic_stock" else 0.15
                self.receivables.append(Receivable(a, self.units[a], gross, rate, ex, pay))

    def _pay_dividends(self, a: str, d: dt.date, t: dt.datetime) -> None:
        for r in [r for r in self.receivables if r.asset == a and r.pay_day == d]:
            self.receivables.remove(r)
            plain = self.conv(a, t)
            gross = r.units * r.gross  # asset currency
            net = gross * (1 - r.withheld)
            fx = plain if self.plan.dividends == "reinvest" else plain * (1 - self.spread) if self.foreign(a) else 1.0
            self.trades.append(self._trade_row(d, a, "dividend", r.units, r.gross, fx, gross * fx, 0.0,
                                               gross * r.withheld * fx))  # fmt: skip
            self.div_net += net * fx
            if self.plan.dividends == "reinvest":
                # "buys the paying asset at the close of its first session on or after the pay date (in the
                # asset's currency: no conversion, no spread; fees as any buy)"; SPEC "Owed": any money that comes
                # into cash ("a dividend") pays what is owed first; the asset's remainder is added to the rest.
                paid = min(self.owed, net * fx)
                self.owed -= paid
                self.remainder[a] += net * fx - paid
                self._buy(a, d, t, self.remainder[a], plain=True)
            else:
                # "keeps it as cash for the next buy". CHOICE: free cash, spent by the next rebalance decision.
                self.take_in(net * fx)

    # ---- taxes -------------------------------------------------------------------------------------------------
    def _pay_year_tax(self, d: dt.date, t: dt.datetime) -> None:
        """ "A year's tax is paid on the last valuation day of that year (the run's last year: on its last day, on
        the sales settled by then), from cash, the rest owed". CHOICE: "from cash" is read as the withdrawal's
        "cash not waiting for a session (remainders included)"; the rest is raised like a withdrawal, decided at
        the earliest close among each asset's first session after that day. In a USD portfolio the won tax
        converts at the fixing known at the day's last close."""
        last = d == self.last_day
        mine = [(g, row) for settle, g, row in self.settled if settle.year == d.year and (settle <= d or not last)]
        tax_krw = overseas_tax(sum(g for g, _ in mine))
        if tax_krw <= 0:
            return
        tax = tax_krw if self.ccy == "KRW" else tax_krw / self.fx.known(t)
        # SPEC "Files": a sale's `tax` is its share of the year's 양도소득세, in proportion to its gain among the
        # year's gaining sales.
        positive = sum(g for g, _ in mine if g > 0)
        for g, row in mine:
            if g > 0:
                self.trades[row]["tax"] += tax * g / positive
        self._take_out(tax, d, self._decision_instant(d, strictly_after=True))

    # ---- a row of values.csv -----------------------------------------------------------------------------------
    def _row(self, d: dt.date) -> dict:
        holdings = {a: self.holding_on(a, d) for a in self.ids}
        receivable = 0.0
        for r in self.receivables:
            if r.ex_date <= d:
                last = self.s[r.asset].last_close(d)[0]
                conv = self.conv(r.asset, self.s[r.asset].instant(last))
                receivable += r.units * r.gross * (1 - r.withheld) * conv
        cash = self.free + sum(self.waiting.values()) + sum(self.remainder.values()) + sum(m for _, m in self.unsplit)
        value = cash + receivable - self.owed + sum(holdings.values())
        return {"date": pd.Timestamp(d), "invested": self.invested, "withdrawn": self.withdrawn, "cash": cash,
                "receivable": receivable, "owed": self.owed, "dividends": self.div_net, "value": value,
                **holdings}  # fmt: skip


def simulate(plan, bars: pd.DataFrame, fx: pd.DataFrame | None, dividends: pd.DataFrame | None = None):
    """The SPEC's portfolio, step by step: (values, trades) shaped like values.csv and trades.csv."""
    return Oracle(plan, bars, fx, dividends).run()


# -- statistics ------------------------------------------------------------------------------------------------------
MIN_DAYS = 60  # "Annualised figures ... are blank when the run has fewer than 60 valuation days"


def flows_of(values: pd.DataFrame) -> pd.Series:
    """F_d: money that arrived on day d, negative for money out (from the running totals of values.csv)."""
    net = values["invested"] - values["withdrawn"]
    return net.diff().fillna(net.iloc[0])


def xirr(dates: list[dt.date], amounts: list[float]) -> float | None:
    """The annual rate r with Σ amount_i / (1 + r)^(days_i / 365) = 0 (ACT/365), by bisection."""
    d0 = min(dates)
    t = [(d - d0).days / 365 for d in dates]

    def npv(r: float) -> float:
        return sum(a / (1 + r) ** ti for a, ti in zip(amounts, t, strict=False))

    grid = [-0.999999, -0.99, -0.9, -0.5, 0.0, 0.5, 1, 3, 10, 100, 1e4, 1e6]
    vals = [npv(r) for r in grid]
    for (lo, flo), (hi, fhi) in zip(zip(grid, vals, strict=False), zip(grid[1:], vals[1:], strict=False), strict=False):
        if flo == 0:
            return lo
        if flo * fhi < 0:
            for _ in range(300):
                mid = (lo + hi) / 2
                fm = npv(mid)
                if flo * fm <= 0:
                    hi = mid
                else:
                    lo, flo = mid, fm
            return (lo + hi) / 2
    return None


def twr_index(values: pd.DataFrame, flows: pd.Series) -> pd.Series:
    """SPEC "Returns": r_d = (V_d − F_d) / V_(d−1) − 1 chained from the first day that holds money (index 1).

    CHOICE: a day after a zero value (the money ran out) has return 0."""
    v = values["value"].tolist()
    f = flows.reindex(values.index).fillna(0.0).tolist()
    first = next((i for i, x in enumerate(v) if x > TINY), None)
    if first is None:
        return pd.Series(dtype=float)
    out = [1.0]
    for i in range(first + 1, len(v)):
        r = (v[i] - f[i]) / v[i - 1] - 1 if v[i - 1] > TINY else 0.0
        out.append(out[-1] * (1 + r))
    return pd.Series(out, index=values.index[first:])


def _period_returns(index: pd.Series, end: dt.date, periods: list[tuple[dt.date, dt.date]]) -> list[float]:
    """Returns of the whole periods (first day, last day) inside [index start, end]: from the index on the last
    valuation day before the period (1 at the start when none) to the one on its last valuation day.

    SPEC "Returns": a period counts when the run (from its first day holding money) covers it but for its edge
    week: a first valuation day on or before its 8th day, a last on or after 7 days before its end."""
    days, level = [d.date() for d in index.index], index.tolist()
    out = []
    for lo, hi in periods:
        if not (days[0] <= lo + dt.timedelta(days=7) and hi - dt.timedelta(days=7) <= min(end, days[-1])):
            continue
        i = bisect.bisect_left(days, lo)
        base = level[i - 1] if i else 1.0
        out.append((level[bisect.bisect_right(days, hi) - 1] / base - 1) * 100)
    return out


def _drawdown(index: pd.Series) -> tuple[float, dt.date | None, dt.date | None, dt.date | None]:
    """The deepest fall of the TWR index from a running peak: (percent, peak, trough, recovery); the peak is the
    last day at that high before the trough, the recovery the first day back at it (None: not yet)."""
    days, level = [d.date() for d in index.index], index.tolist()
    worst, trough, top = 0.0, None, level[0]
    for i, x in enumerate(level):
        top = max(top, x)
        if x / top - 1 < worst:
            worst, trough = x / top - 1, i
    if trough is None:
        return 0.0, None, None, None
    high = max(level[: trough + 1])
    peak = max(i for i in range(trough + 1) if level[i] == high)
    back = next((days[i] for i in range(trough, len(level)) if level[i] >= high), None)
    return worst * 100, days[peak], days[trough], back


def stats(values: pd.DataFrame, flows: pd.Series | None = None, rf_pct: float = 0.0, trades=None) -> dict:
    """stats.csv's keys, from the SPEC's definitions (percentages as percents, dates as dates, None when blank)."""
    flows = flows_of(values) if flows is None else flows
    v = values["value"]
    invested, withdrawn, final = values["invested"].iloc[-1], values["withdrawn"].iloc[-1], v.iloc[-1]
    profit = final + withdrawn - invested
    out = {"invested": invested, "withdrawn": withdrawn, "final_value": final, "profit": profit,
           "simple_return_pct": profit / invested * 100 if invested else None}  # fmt: skip
    index = twr_index(values, flows)
    enough = len(values) >= MIN_DAYS
    blank = dict.fromkeys(["twr_annual_pct", "mwr_annual_pct", "volatility_pct", "sharpe", "sortino"])
    out.update(twr_pct=(index.iloc[-1] - 1) * 100, **blank)
    days = (index.index[-1] - index.index[0]).days
    rets = index.pct_change().dropna().tolist()
    if enough and days > 0 and len(rets) > 1:
        years = days / 365.25
        out["twr_annual_pct"] = (index.iloc[-1] ** (1 / years) - 1) * 100
        # CHOICE: "annualised by the valuation days a year the portfolio has": daily returns per year of the run.
        ppy = len(rets) / years
        mean = sum(rets) / len(rets)
        std = math.sqrt(sum((r - mean) ** 2 for r in rets) / (len(rets) - 1))
        out["volatility_pct"] = std * math.sqrt(ppy) * 100
        rf_day = rf_pct / 100 / ppy  # "a yearly % spread evenly over the valuation days"
        excess = [r - rf_day for r in rets]
        ex_mean = sum(excess) / len(excess)
        out["sharpe"] = ex_mean * ppy / (std * math.sqrt(ppy)) if std > 0 else None
        # CHOICE: downside deviation = root mean square of the negative excess returns over all days.
        down = math.sqrt(sum(min(x, 0.0) ** 2 for x in excess) / len(excess)) * math.sqrt(ppy)
        out["sortino"] = ex_mean * ppy / down if down > 0 else None
        cash = {}
        for d, f in flows.items():
            if abs(f) > TINY:
                cash[d.date()] = cash.get(d.date(), 0.0) - f
        last = values.index[-1].date()
        cash[last] = cash.get(last, 0.0) + final
        out["mwr_annual_pct"] = None if (r := xirr(list(cash), list(cash.values()))) is None else r * 100
    pct, peak, trough, back = _drawdown(index)
    # CHOICE: the drawdown is negative (as on the Risk page); its dates are blank when the index never fell.
    out.update(max_drawdown_pct=pct, max_drawdown_peak=peak, max_drawdown_trough=trough, max_drawdown_recovery=back)
    end = values.attrs.get("end") or values.index[-1].date()
    years = [(dt.date(y, 1, 1), dt.date(y, 12, 31)) for y in range(index.index[0].year, end.year + 1)]
    months = [(dt.date(y, m, 1), _clamp(y, m, 31)) for y, m in _months(index.index[0].date(), end)]
    yearly, monthly = _period_returns(index, end, years), _period_returns(index, end, months)
    out.update(best_year_pct=max(yearly, default=None), worst_year_pct=min(yearly, default=None),
               best_month_pct=max(monthly, default=None), worst_month_pct=min(monthly, default=None))  # fmt: skip
    out["dividends"] = values["dividends"].iloc[-1]
    tax = 0.0
    if trades is not None and len(trades):
        tax = float(trades.loc[trades["side"] == "dividend", "tax"].sum())
    out["dividend_tax"] = tax
    return out
