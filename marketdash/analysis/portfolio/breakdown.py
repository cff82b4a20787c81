"""A backtest taken apart for its tables and charts: returns by month and year, the year-by-year money, where the
profit came from (each asset's price, the exchange rate, dividends, costs), weights over time, rolling returns and
the largest drawdowns. Everything the page and the command line show of a run is computed once here (`measure`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from marketdash.analysis.portfolio.engine import Backtest
from marketdash.analysis.portfolio.measures import drawdowns, growth, period_returns, summary, twr_index

ROLLING_YEARS = (1, 3, 5)
DRAWDOWNS_SHOWN = 5


def monthly_table(index: pd.Series) -> pd.DataFrame:
    """Years x months of TWR returns in %, with each year's total in a last column ("total")."""
    monthly = period_returns(index, "ME") * 100
    yearly = period_returns(index, "YE") * 100
    years = yearly.index.year
    grid = np.full((len(years), 12), np.nan)
    grid[years.get_indexer(monthly.index.year), monthly.index.month - 1] = monthly.to_numpy()
    table = pd.DataFrame(grid, index=pd.Index(years, name="year"), columns=range(1, 13))
    table["total"] = yearly.to_numpy()
    return table


def yearly_summary(backtest: Backtest) -> pd.DataFrame:
    """Per calendar year: money put in and taken out, the value at the year's end (`complete` is False for a year
    the run has not finished: its value is the latest), profit over the year, TWR %, dividends, fees and taxes."""
    values = backtest.values
    year = values.index.year.to_numpy()
    last = np.flatnonzero(np.r_[year[1:] != year[:-1], True])  # each year's last valuation day
    years = pd.Index(year[last], name="year")
    value_end = values["value"].to_numpy()[last]
    contributed = np.diff(values["invested"].to_numpy()[last], prepend=0.0)
    withdrawn = np.diff(values["withdrawn"].to_numpy()[last], prepend=0.0)
    trades = backtest.trades
    sums = np.zeros((len(years), 3))  # dividends (net), fees, taxes
    if len(trades):
        rows = years.get_indexer(trades["date"].dt.year)
        dividend = (trades["side"] == "dividend").to_numpy()
        net = np.where(dividend, trades["amount"] - trades["tax"], 0.0)
        np.add.at(sums, rows, np.column_stack([net, np.where(dividend, 0.0, trades["fee"]),
                                               np.where(dividend, 0.0, trades["tax"])]))  # fmt: skip
    index = twr_index(values["value"], backtest.flows)
    complete = values.index[last].month == 12
    complete &= values.index[last].day >= 24
    return pd.DataFrame({
        "contributed": contributed, "withdrawn": withdrawn, "value_end": value_end,
        "profit": value_end - np.r_[0.0, value_end[:-1]] - contributed + withdrawn,
        "twr_pct": (period_returns(index, "YE") * 100).to_numpy(), "dividends": sums[:, 0], "fees": sums[:, 1],
        "taxes": sums[:, 2], "complete": complete,
    }, index=years)  # fmt: skip


def contributions(backtest: Backtest) -> pd.DataFrame:
    """Each asset's profit in the portfolio's currency: its value at the end and its dividends still due, plus
    what its sales and dividends brought, less what its buys cost (fees and taxes included); and the parts: its
    own price, the exchange rate, its dividends (net), and trading costs (the spread among them); the share of the
    total profit in %."""
    units, prices, conv = (f.to_numpy() for f in (backtest.units, backtest.prices, backtest.conv))
    prices = np.nan_to_num(prices)
    held = np.vstack([np.zeros((1, units.shape[1])), units[:-1]])
    before = np.vstack([conv[:1], conv[:-1]])
    asset_part = np.nansum(held * np.diff(prices, axis=0, prepend=prices[:1]) * before, axis=0)
    fx_part = np.nansum(held * prices * np.diff(conv, axis=0, prepend=conv[:1]), axis=0)
    ids = list(backtest.units.columns)
    trades = backtest.trades
    col = pd.Index(ids).get_indexer(trades["asset_id"])
    row = backtest.units.index.get_indexer(trades["date"])
    side = trades["side"].to_numpy()
    sign = np.select([side == "buy", side == "sell"], [-1.0, 1.0], 0.0)
    dividend = side == "dividend"
    sums = np.zeros((len(ids), 4))  # cash from trades, fees and taxes, the same trades at the plain rate, dividends
    plain = sign * trades["units"].to_numpy() * trades["price"].to_numpy() * conv[row, col]
    paid = np.where(dividend, 0.0, (trades["fee"] + trades["tax"]).to_numpy())
    net = np.where(dividend, (trades["amount"] - trades["tax"]).to_numpy(), 0.0)
    np.add.at(sums, col, np.column_stack([sign * trades["amount"].to_numpy(), paid, plain, net]))
    due = backtest.receivables.iloc[-1].to_numpy()
    final = backtest.values[ids].iloc[-1].to_numpy()
    spread = sums[:, 0] - sums[:, 2]  # trading at the applied rate against valuing at the plain one: a cost too
    table = pd.DataFrame({"profit": final + sums[:, 0] - sums[:, 1] + sums[:, 3] + due, "asset_part": asset_part,
                          "fx_part": fx_part, "dividend_part": sums[:, 3] + due, "costs": sums[:, 1] - spread},
                         index=pd.Index(ids, name="asset_id"))  # fmt: skip
    total = float(table["profit"].sum())
    table["share_pct"] = table["profit"] / total * 100 if total else math.nan
    return table


def weights(backtest: Backtest) -> pd.DataFrame:
    """Each holding's and the cash's share of the value, in %, every valuation day."""
    values = backtest.values
    parts = values[[*backtest.plan.assets, "cash"]]
    total = values["value"].where(values["value"] != 0)
    return parts.div(total, axis=0) * 100


def rolling_returns(index: pd.Series, years: tuple[int, ...] = ROLLING_YEARS) -> pd.DataFrame:
    """The annualised time-weighted return over every window of 1, 3 and 5 years ending on each valuation day
    (from the first day a whole window fits), in %; a column per window the run is long enough for."""
    out = {}
    for n in years:
        back = index.index - pd.DateOffset(years=n)
        at = index.index.searchsorted(back, side="right") - 1
        ok = (at >= 0) & (back >= index.index[0])
        if not ok.any():
            continue
        start = index.to_numpy()[np.maximum(at, 0)]
        span = (index.index - index.index[np.maximum(at, 0)]).days.to_numpy() / 365.25
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(ok, (index.to_numpy() / start) ** (1 / span) - 1, np.nan)
        out[f"{n}y"] = rate * 100
    return pd.DataFrame(out, index=index.index).dropna(how="all")


def drawdown_table(index: pd.Series, count: int = DRAWDOWNS_SHOWN) -> pd.DataFrame:
    """The deepest drawdowns, one row each (a drawdown runs from a peak to the day the peak is regained): peak,
    trough, recovery (NaT while under water), depth in %, and calendar days from peak to recovery (or to the
    last day)."""
    dd = drawdowns(index).to_numpy()
    days = index.index
    under = dd < -1e-12
    edges = np.diff(np.r_[0, under.astype(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)  # each spell: [start, end)
    columns = ["peak", "trough", "recovery", "depth_pct", "days"]
    if not len(starts):
        return pd.DataFrame(columns=columns)
    depth = np.minimum.reduceat(dd, starts)
    order = np.argsort(depth, kind="stable")[:count]
    trough = np.array([s + int(np.argmin(dd[s:e])) for s, e in zip(starts[order], ends[order], strict=True)])
    peak = days[np.maximum(starts[order] - 1, 0)]
    back = ends[order] < len(dd)
    recovery = pd.DatetimeIndex(np.where(back, days[np.minimum(ends[order], len(dd) - 1)], pd.NaT))
    until = np.where(back, days[np.minimum(ends[order], len(dd) - 1)], days[-1])
    return pd.DataFrame({"peak": peak, "trough": days[trough], "recovery": recovery, "depth_pct": depth[order] * 100,
                         "days": (pd.DatetimeIndex(until) - peak).days}, columns=columns)  # fmt: skip


@dataclass(frozen=True)
class Measured:
    """A backtest with every figure the page and the command line show of it, computed once."""

    backtest: Backtest
    summary: dict[str, object]
    growth: pd.Series
    monthly: pd.DataFrame
    yearly: pd.DataFrame
    parts: pd.DataFrame
    weights: pd.DataFrame
    rolling: pd.DataFrame
    drawdowns: pd.DataFrame


def measure(backtest: Backtest, rf_pct: float = 0.0) -> Measured:
    index = growth(backtest)
    return Measured(backtest, summary(backtest, rf_pct), index, monthly_table(index), yearly_summary(backtest),
                    contributions(backtest), weights(backtest), rolling_returns(index / 100),
                    drawdown_table(index / 100))  # fmt: skip
