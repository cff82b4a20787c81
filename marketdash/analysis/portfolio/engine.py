"""The portfolio engine (SPEC.md, "Portfolio"): a plan run day by day over the daily bars of markets that keep
different calendars, in won or dollars, with the exchange rate of each day.

- Days: the union of the assets' session dates and the days money arrives, from the effective start (the first
  day every asset has a bar) to the end; each holding at its last close (carried forward, never interpolated).
- Money in: split by the target weights (or, rebalancing `cashflow`, spent on the assets furthest below their
  target, never selling); each part buys its asset at the close of that asset's first session on or after the due
  day; until then it is cash, counted in the value.
- Rebalancing: due on the first day of a month, quarter or year, or the day a band is left (weights of the
  holdings, cash aside, checked at every day's closes); it trades every leg at the closes of the first date on or
  after the due day on which every asset has a session, to the target weights of the whole value, cash included.
- Currencies: an asset in the other currency converts at USD/KRW as known at its bar's close, a trade at that rate
  moved by the spread (a buy pays more, a sell gets less); holdings are valued without the spread.
- Within a day: money arrives, then trades, then the bands are checked, then a year's tax is paid.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from marketdash.analysis.conversion import fx_known_at, rate_at_close
from marketdash.analysis.portfolio import taxes
from marketdash.analysis.portfolio.plan import Plan, PlanError, contribution_dates, rebalance_dates
from marketdash.domain import calendars, catalog
from marketdash.domain.i18n import Name, msg

TRADE_COLUMNS = ["date", "asset_id", "side", "units", "price", "currency", "fx", "amount", "fee", "tax"]
_VENUE = {"domestic_stock": "krx", "domestic_index": "krx", "overseas_stock": "us", "overseas_chart": "us",
          "crypto": "coin"}  # fmt: skip
_EPS = 1e-9


def venue(asset: catalog.Asset) -> str:
    """Whose fee a trade of the asset pays: KRX, an overseas broker (US stocks, COMEX, indices), a coin exchange."""
    return _VENUE[asset.kind]


def krx_stock(asset: catalog.Asset) -> bool:
    """A KRX-listed stock (증권거래세 on sales); ETFs, ETNs and indices are not."""
    return asset.kind == "domestic_stock" and asset.unit == "KRW per share"


def overseas_stock(asset: catalog.Asset) -> bool:
    """A US-listed stock or ETF (해외주식 양도소득세 on gains)."""
    return asset.kind == "overseas_stock"


def effective_start(bars: pd.DataFrame, asset_ids: list[str], start: dt.date | None, end: dt.date | None) -> dt.date:
    """The later of `start` and the first day by which every asset has a bar in the range; an asset with none in
    the range is named."""
    dates, owners = bars["date"].to_numpy(), bars["asset_id"].to_numpy()
    inside = np.ones(len(dates), dtype=bool)
    if start is not None:
        inside &= dates >= np.datetime64(start, "ns")
    if end is not None:
        inside &= dates <= np.datetime64(end, "ns")
    firsts = []
    for asset_id in asset_ids:
        mine = dates[inside & (owners == asset_id)]
        if not len(mine):
            raise PlanError(msg("pf.err_no_bars", asset=Name(asset_id)))
        firsts.append(mine.min())
    return pd.Timestamp(max(firsts)).date()


@dataclass(frozen=True)
class Grid:
    """Every valuation day's closes, sessions and rates, one column per asset (the plan's order)."""

    dates: pd.DatetimeIndex
    price: np.ndarray  # last close on or before the day
    session: np.ndarray  # the asset has a bar that day
    conv: np.ndarray  # portfolio currency per unit of the asset's currency, at its last close
    krw: np.ndarray  # won per unit of the asset's currency, at its last close (taxes are in won)
    krw_per_unit: np.ndarray  # won per unit of the portfolio's currency at each day's end (paying a tax)


def build_grid(plan: Plan, bars: pd.DataFrame, fx: pd.DataFrame, start: dt.date, end: dt.date,
               extra_days: list[dt.date]) -> Grid:  # fmt: skip
    """The valuation days and, on each, every asset's last close and its conversion to the portfolio's currency."""
    ids = plan.assets
    rows = bars.loc[bars["asset_id"].isin(ids) & (bars["date"] <= pd.Timestamp(end)), ["date", "asset_id", "close"]]
    rows = rows.drop_duplicates(["date", "asset_id"], keep="last")
    wide = rows.pivot(index="date", columns="asset_id", values="close").reindex(columns=ids)
    index = wide.index.union(pd.DatetimeIndex([pd.Timestamp(d) for d in extra_days]))
    closes = wide.reindex(index).to_numpy()
    traded = ~np.isnan(closes)
    by_instant = fx_known_at(fx) if fx is not None and not fx.empty else pd.Series(dtype=float)
    rates = np.full(closes.shape, np.nan)  # won per dollar as known at each of an asset's closes, where needed
    first = index.searchsorted(pd.Timestamp(start))
    for j, asset_id in enumerate(ids):
        asset = catalog.get(asset_id)
        if asset.currency == plan.currency == "KRW":
            continue
        at = np.flatnonzero(traded[:, j])
        rate = rate_at_close(index[at], asset.timezone, asset.close_time.strftime("%H:%M:%S"), by_instant).to_numpy()
        late = np.isnan(rate) & (at >= first)
        if late.any():
            raise PlanError(msg("pf.err_no_fx", asset=Name(asset_id), day=index[at[late][0]].date()))
        rates[at, j] = rate
    keep = slice(first, None)
    days = index[keep]
    price, rates = _carry(closes, traded)[keep], _carry(rates, ~np.isnan(rates))[keep]
    session = traded[keep]
    usd = np.array([catalog.get(a).currency == "USD" for a in ids])
    krw = np.where(usd, rates, 1.0)
    if plan.currency == "KRW":
        return Grid(days, price, session, krw, krw, np.ones(len(days)))
    conv = np.where(usd, 1.0, 1.0 / rates)
    per_unit = rate_at_close(days, "Asia/Seoul", "23:59:59", by_instant).ffill().bfill().to_numpy()
    if np.isnan(per_unit).any():
        raise PlanError(msg("pf.err_no_fx_at_all"))
    return Grid(days, price, session, conv, krw, per_unit)


def _carry(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Each column's last known value carried forward over the rows that have none (NaN before the first)."""
    rows = np.where(known, np.arange(len(values))[:, None], 0)
    np.maximum.accumulate(rows, axis=0, out=rows)
    carried = values[rows, np.arange(values.shape[1])]
    carried[~np.maximum.accumulate(known, axis=0)] = np.nan
    return carried


@dataclass(frozen=True)
class Backtest:
    """A plan's run: per valuation day the money put in, cash, value and each holding's value (`values`, the
    columns of values.csv), every trade, the money that arrived (`flows`), and what the attribution needs."""

    plan: Plan
    start: dt.date
    values: pd.DataFrame
    trades: pd.DataFrame
    flows: pd.Series
    units: pd.DataFrame
    prices: pd.DataFrame
    conv: pd.DataFrame
    taxes_paid: float


def _next_true(mask: np.ndarray) -> np.ndarray:
    """For each row, the first row at or after it where `mask` holds (-1: none), column by column."""
    n = len(mask)
    rows = np.where(mask, np.arange(n).reshape((n,) + (1,) * (mask.ndim - 1)), n)
    after = np.minimum.accumulate(rows[::-1], axis=0)[::-1]
    return np.where(after == n, -1, after)


class _Run:
    """The simulation's state while the days go by (one instance per run)."""

    def __init__(self, plan: Plan, grid: Grid) -> None:
        self.plan, self.grid = plan, grid
        assets = [catalog.get(a) for a in plan.assets]
        n = len(assets)
        self.ids = plan.assets
        self.targets = plan.targets()
        costs = plan.costs
        self.fee = np.array([costs.fees.get(venue(a), 0.0) / 100 for a in assets])
        self.cross = np.array([a.currency != plan.currency for a in assets])
        self.spread = costs.spread
        self.krx_tax = np.array([costs.tax and krx_stock(a) for a in assets])
        self.lots = {i: taxes.Lots() for i, a in enumerate(assets) if costs.tax and overseas_stock(a)}
        self.currency = [a.currency for a in assets]
        self.units = np.zeros(n)
        self.cash = 0.0
        self.pending: dict[int, float] = {}  # asset -> money waiting for its next session
        self.trades: list[list] = []
        self.gains: list[tuple[int, float]] = []  # this year's realised overseas gains: (trade row, won)
        self.taxes_paid = 0.0
        self._settle: dict[int, dt.date] = {}

    # -- trades ----------------------------------------------------------------------------------------------------
    def _rate(self, d: int, i: int, side: int) -> float:
        """The applied rate: the conversion at the close, moved by the spread when currencies differ."""
        conv = self.grid.conv[d, i]
        return conv * (1 + side * self.spread) if self.cross[i] else conv

    def buy(self, d: int, i: int, budget: float = math.nan, units: float = math.nan) -> None:
        """Buy with `budget` (fees included) or buy `units`."""
        price = self.grid.price[d, i]
        rate = self._rate(d, i, +1)
        if math.isnan(units):
            units = budget / (price * rate * (1 + self.fee[i]))
            if self.plan.whole_shares:
                units = math.floor(units + _EPS)
        if units <= _EPS:
            return
        amount = units * price * rate
        fee = amount * self.fee[i]
        self.cash -= amount + fee
        self.units[i] += units
        if i in self.lots:
            won = self.grid.krw[d, i] / self.grid.conv[d, i]  # won per unit of the portfolio's currency
            self.lots[i].buy(units, units * price * self.grid.krw[d, i] + fee * won)
        self.trades.append([d, i, "buy", units, price, rate, amount, fee, 0.0])

    def sell(self, d: int, i: int, units: float) -> None:
        if units <= _EPS:
            return
        units = min(units, self.units[i])
        price = self.grid.price[d, i]
        rate = self._rate(d, i, -1)
        amount = units * price * rate
        fee = amount * self.fee[i]
        tax = amount * taxes.krx_sale_tax(self._settlement(d)) if self.krx_tax[i] else 0.0
        self.cash += amount - fee - tax
        self.units[i] = max(self.units[i] - units, 0.0)
        self.trades.append([d, i, "sell", units, price, rate, amount, fee, tax])
        if i in self.lots:
            won = self.grid.krw[d, i] / self.grid.conv[d, i]
            gain = self.lots[i].sell(units, units * price * self.grid.krw[d, i] - fee * won)
            self.gains.append((len(self.trades) - 1, gain))

    def _settlement(self, d: int) -> dt.date:
        """T+2 on KRX: the day the shares change hands, which decides the 증권거래세 rate."""
        if d not in self._settle:
            day = self.grid.dates[d].date()
            self._settle[d] = calendars.sessions("XKRX", day + dt.timedelta(days=1), day + dt.timedelta(days=20))[
                1
            ].date()
        return self._settle[d]

    # -- the rules ------------------------------------------------------------------------------------------------
    def holdings(self, d: int) -> np.ndarray:
        return self.units * self.grid.price[d] * self.grid.conv[d]

    def allocate(self, d: int, money: float) -> np.ndarray:
        """How new money is split: by the target weights, or (cashflow) to the assets furthest below target."""
        if self.plan.rebalance != "cashflow":
            return money * self.targets
        held = self.holdings(d) + np.array([self.pending.get(i, 0.0) for i in range(len(self.ids))])
        goal = self.targets * (held.sum() + money)
        return water_fill(held, goal, money)

    def rebalance(self, d: int) -> None:
        """Every leg to its target weight of the whole value (cash and money waiting for a session included):
        sells first, then buys with what there is."""
        self.pending.clear()
        price, conv = self.grid.price[d], self.grid.conv[d]
        total = self.cash + float(self.holdings(d).sum())
        goal = self.targets * total / (price * conv)
        if self.plan.whole_shares:
            goal = np.floor(goal + _EPS)
        for i in np.flatnonzero(self.units > goal + _EPS):
            self.sell(d, i, self.units[i] - goal[i])
        need = np.maximum(goal - self.units, 0.0)
        cost = need * price * np.where(self.cross, conv * (1 + self.spread), conv) * (1 + self.fee)
        scale = min(1.0, self.cash / cost.sum()) if cost.sum() > 0 else 0.0
        for i in np.flatnonzero(need > _EPS):
            units = need[i] * scale
            if self.plan.whole_shares:
                units = math.floor(units + _EPS)
            self.buy(d, i, units=units)

    def breached(self, d: int) -> bool:
        """A holding's weight (of the holdings, cash aside) left its band: absolute %p or relative %."""
        held = self.holdings(d)
        total = held.sum()
        if total <= 0 or self.pending:
            return False
        gap = np.abs(held / total - self.targets)
        absolute, relative = self.plan.bands
        return bool((gap > absolute / 100 + _EPS).any() or (gap > relative / 100 * self.targets + _EPS).any())

    def pay_year_tax(self, d: int) -> None:
        """The year's 해외주식 양도소득세, in won, paid from cash and spread over the year's gaining sales."""
        if not self.gains:
            return
        tax_krw = taxes.overseas_tax(sum(g for _, g in self.gains))
        positive = sum(g for _, g in self.gains if g > 0)
        if tax_krw > 0 and positive > 0:
            tax = tax_krw / self.grid.krw_per_unit[d]
            self.cash -= tax
            self.taxes_paid += tax
            for row, gain in self.gains:
                if gain > 0:
                    self.trades[row][8] += tax * gain / positive
        self.gains = []


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


def run(plan: Plan, bars: pd.DataFrame, fx: pd.DataFrame | None = None) -> Backtest:
    """Run `plan` (already checked) over the long `bars` (asset_id, date, close) and USD/KRW fixings `fx` (date,
    close, source), from its effective start."""
    end_bar = bars.loc[bars["asset_id"].isin(plan.assets), "date"].max()
    end = min(plan.end or end_bar.date(), end_bar.date())
    start = effective_start(bars, plan.assets, plan.start, end)
    contributions = contribution_dates(plan, start, end)
    if plan.every != "none" and plan.amount > 0 and not contributions and plan.initial <= 0:
        raise PlanError(msg("pf.err_short", every=msg(f"pf.every_{plan.every}"), start=start, end=end))
    arrivals = dict.fromkeys(contributions, plan.amount)
    if plan.initial > 0:
        arrivals[start] = arrivals.get(start, 0.0) + plan.initial
    grid = build_grid(plan, bars, fx, start, end, list(arrivals))
    due = grid.dates.searchsorted(pd.DatetimeIndex([pd.Timestamp(d) for d in arrivals]))  # each is a grid day
    money = dict(zip(due.tolist(), arrivals.values(), strict=True))
    calendar_due = set(np.searchsorted(grid.dates, pd.DatetimeIndex(rebalance_dates(plan.rebalance, start, end))))
    next_session = _next_true(grid.session)
    next_all_open = _next_true(grid.session.all(axis=1))
    years = grid.dates.year.to_numpy()
    n = len(grid.dates)
    state = _Run(plan, grid)
    units = np.zeros((n, len(plan.assets)))
    cash = np.zeros(n)
    waiting: dict[int, int] = {}  # asset -> the day its waiting money buys
    rebalance_on = -1
    for d in range(n):
        if d in money:
            state.cash += money[d]
            for i, part in enumerate(state.allocate(d, money[d])):
                if part > 0 and next_session[d, i] >= 0:
                    state.pending[i] = state.pending.get(i, 0.0) + part
                    waiting[i] = next_session[d, i]
        if d in calendar_due and next_all_open[d] >= 0:
            rebalance_on = next_all_open[d] if rebalance_on < 0 else rebalance_on
        if rebalance_on == d:
            state.rebalance(d)
            waiting.clear()
            rebalance_on = -1
        for i in [i for i, day in waiting.items() if day == d]:
            state.buy(d, i, budget=state.pending.pop(i))
            del waiting[i]
        if plan.rebalance == "bands" and rebalance_on < 0 and state.breached(d):
            rebalance_on = next_all_open[d]
            if rebalance_on == d:
                state.rebalance(d)
                waiting.clear()
                rebalance_on = -1
        if state.lots and (d == n - 1 or years[d + 1] != years[d]):
            state.pay_year_tax(d)
        units[d], cash[d] = state.units, state.cash
    return _result(plan, start, grid, state, units, cash, money)


def _result(plan: Plan, start: dt.date, grid: Grid, state: _Run, units: np.ndarray, cash: np.ndarray,
            money: dict[int, float]) -> Backtest:  # fmt: skip
    ids = plan.assets
    held = units * grid.price * grid.conv
    arrived = np.zeros(len(grid.dates))
    arrived[list(money)] = list(money.values())
    flows = pd.Series(arrived, index=grid.dates)
    values = pd.DataFrame(held, index=grid.dates, columns=ids)
    values.insert(0, "value", cash + held.sum(axis=1))
    values.insert(0, "cash", cash)
    values.insert(0, "invested", flows.cumsum().to_numpy())
    values.index.name = "date"
    columns = list(zip(*state.trades, strict=True)) if state.trades else [[]] * 9
    day, asset = np.asarray(columns[0], dtype=int), np.asarray(columns[1], dtype=int)
    trades = pd.DataFrame({
        "date": grid.dates[day], "asset_id": np.asarray(ids, dtype=object)[asset], "side": columns[2],
        "units": columns[3], "price": columns[4], "currency": np.asarray(state.currency, dtype=object)[asset],
        "fx": columns[5], "amount": columns[6], "fee": columns[7], "tax": columns[8],
    }, columns=TRADE_COLUMNS).astype({c: float for c in ("units", "price", "fx", "amount", "fee", "tax")})  # fmt: skip
    frame = lambda a: pd.DataFrame(a, index=grid.dates, columns=ids)  # noqa: E731
    return Backtest(plan, start, values, trades, flows[flows != 0], frame(units), frame(grid.price),
                    frame(grid.conv), state.taxes_paid)  # fmt: skip
