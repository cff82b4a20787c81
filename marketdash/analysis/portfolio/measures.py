"""What a backtest's numbers mean to an investor (SPEC.md, "Portfolio", Returns): time- and money-weighted returns,
risk of the time-weighted index, drawdowns, calendar returns, and where the profit came from.

- TWR chains r_d = (V_d - F_d) / V_(d-1) - 1 from the first day that holds money (money invested at a day's close
  earns nothing that day); annualised over calendar days / 365.25 (so CAGR, the growth of one won invested at the
  start, is the same figure, as Portfolio Visualizer and ffn compute it).
- MWR is the XIRR of the dated flows (each arrival negative, the last value positive), ACT/365.
- Volatility, Sharpe and Sortino are of the TWR index's returns, annualised by the valuation days per year the
  portfolio actually has (about 250 for KRX alone, 365 with a coin), with no risk-free rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from marketdash.analysis.portfolio.engine import Backtest

STAT_KEYS = (
    "invested", "final_value", "profit", "simple_return_pct", "twr_pct", "twr_annual_pct", "mwr_annual_pct",
    "cagr_pct", "volatility_pct", "sharpe", "sortino", "max_drawdown_pct", "max_drawdown_peak",
    "max_drawdown_trough", "max_drawdown_recovery", "longest_underwater_days", "best_year_pct", "worst_year_pct",
    "best_month_pct", "worst_month_pct", "fees", "taxes",
)  # fmt: skip


def twr_index(values: pd.Series, flows: pd.Series) -> pd.Series:
    """The time-weighted growth of one unit, from the first day that holds money (1.0 there)."""
    flow = flows.reindex(values.index, fill_value=0.0)
    held = values.to_numpy()
    first = int(np.argmax(held > 0)) if (held > 0).any() else len(held)
    prev = np.roll(held, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (held - flow.to_numpy()) / prev - 1
    r[: first + 1] = 0.0
    growth = np.cumprod(1 + r)
    return pd.Series(growth, index=values.index).iloc[first:]


def years_between(first: pd.Timestamp, last: pd.Timestamp) -> float:
    return (last - first).days / 365.25


def xirr(dates: pd.DatetimeIndex, amounts: np.ndarray, guess: float = 0.1) -> float:
    """The annual rate at which the flows' present value is zero (ACT/365): Newton's method, bisection where it
    strays. NaN when the flows do not change sign."""
    amounts = np.asarray(amounts, dtype=float)
    if not ((amounts > 0).any() and (amounts < 0).any()):
        return math.nan
    t = np.asarray((pd.DatetimeIndex(dates) - pd.DatetimeIndex(dates)[0]).days, dtype=float) / 365.0

    def npv(rate: float) -> float:
        return float((amounts / (1 + rate) ** t).sum())

    def slope(rate: float) -> float:
        return float((-t * amounts / (1 + rate) ** (t + 1)).sum())

    rate = guess
    for _ in range(100):
        value, d = npv(rate), slope(rate)
        if d == 0 or not math.isfinite(d):
            break
        step = value / d
        nxt = rate - step
        if nxt <= -1 or not math.isfinite(nxt):
            break
        rate = nxt
        if abs(step) < 1e-12 * max(1.0, abs(rate)):
            return rate
    lo, hi = -0.999999999, 1.0
    while npv(hi) > 0 and hi < 1e6:
        hi *= 2
    if npv(lo) * npv(hi) > 0:
        return math.nan
    for _ in range(300):
        mid = (lo + hi) / 2
        if npv(lo) * npv(mid) <= 0:
            hi = mid
        else:
            lo = mid
        if hi - lo < 1e-14:
            break
    return (lo + hi) / 2


def mwr(backtest: Backtest) -> float:
    """The money-weighted annual return: XIRR of every arrival (negative) and the last value (positive)."""
    values = backtest.values["value"]
    flows = backtest.flows
    dates = pd.DatetimeIndex([*flows.index, values.index[-1]])
    amounts = np.array([*(-flows.to_numpy()), values.iloc[-1]])
    order = np.argsort(dates, kind="stable")
    return xirr(dates[order], amounts[order])


def drawdowns(index: pd.Series) -> pd.Series:
    """The fall from the running peak, as a fraction (0 at a new high)."""
    return index / index.cummax() - 1


def _max_drawdown(index: pd.Series) -> dict[str, object]:
    dd = drawdowns(index)
    if dd.min() >= 0:
        return {"max_drawdown_pct": 0.0, "max_drawdown_peak": None, "max_drawdown_trough": None,
                "max_drawdown_recovery": None, "longest_underwater_days": 0}  # fmt: skip
    trough = dd.idxmin()
    peak = index.loc[:trough][::-1].idxmax()
    after = index.loc[trough:]
    recovered = after[after >= index.loc[peak]]
    # The longest time under water: from a peak to the day it is regained (or to the last day), calendar days.
    high = dd >= -1e-12
    last_high = pd.Series(index.index.where(high), index=index.index).ffill()
    below = (index.index - last_high)[~high]
    regained = high & ~high.shift(1, fill_value=True)
    back = (index.index - last_high.shift(1))[regained]
    underwater = int(max(below.max(), back.max(), pd.Timedelta(0)).days) if len(below) or len(back) else 0
    return {"max_drawdown_pct": float(dd.min()) * 100, "max_drawdown_peak": peak.date(),
            "max_drawdown_trough": trough.date(),
            "max_drawdown_recovery": recovered.index[0].date() if len(recovered) else None,
            "longest_underwater_days": underwater}  # fmt: skip


def period_returns(index: pd.Series, rule: str) -> pd.Series:
    """Returns of the TWR index per calendar month ("ME") or year ("YE"); the first period runs from the start."""
    ends = index.resample(rule).last().dropna()
    base = pd.concat([pd.Series([index.iloc[0]], index=[index.index[0]]), ends.iloc[:-1]])
    return pd.Series(ends.to_numpy() / base.to_numpy() - 1, index=ends.index)


def summary(backtest: Backtest) -> dict[str, object]:
    """Every statistic of stats.csv (percentages as percents, dates as dates, None when unknown)."""
    values = backtest.values["value"]
    invested = float(backtest.values["invested"].iloc[-1])
    final = float(values.iloc[-1])
    index = twr_index(values, backtest.flows)
    years = years_between(index.index[0], index.index[-1])
    total = float(index.iloc[-1] - 1)
    r = index.pct_change().dropna()
    per_year = len(r) / years if years > 0 else math.nan
    vol = float(r.std(ddof=1) * math.sqrt(per_year)) if len(r) > 1 and years > 0 else math.nan
    downside = float(np.sqrt(np.mean(np.minimum(r.to_numpy(), 0.0) ** 2)) * math.sqrt(per_year)) if len(r) else 0.0
    annual = (1 + total) ** (1 / years) - 1 if years > 0 else math.nan
    yearly, monthly = period_returns(index, "YE"), period_returns(index, "ME")
    trades = backtest.trades
    stats: dict[str, object] = {
        "invested": invested,
        "final_value": final,
        "profit": final - invested,
        "simple_return_pct": (final / invested - 1) * 100 if invested else math.nan,
        "twr_pct": total * 100,
        "twr_annual_pct": annual * 100,
        "mwr_annual_pct": mwr(backtest) * 100,
        "cagr_pct": annual * 100,
        "volatility_pct": vol * 100,
        "sharpe": float(r.mean() * per_year / vol) if vol > 0 else math.nan,
        "sortino": float(r.mean() * per_year / downside) if downside > 0 else math.nan,
        **_max_drawdown(index),
        "best_year_pct": float(yearly.max()) * 100,
        "worst_year_pct": float(yearly.min()) * 100,
        "best_month_pct": float(monthly.max()) * 100,
        "worst_month_pct": float(monthly.min()) * 100,
        "fees": float(trades["fee"].sum()) if len(trades) else 0.0,
        "taxes": float(trades["tax"].sum()) if len(trades) else 0.0,
    }
    return {k: stats[k] for k in STAT_KEYS}


def monthly_table(index: pd.Series) -> pd.DataFrame:
    """Years x months of TWR returns in %, with each year's total in a last column ("year")."""
    monthly = period_returns(index, "ME") * 100
    yearly = period_returns(index, "YE") * 100
    years = yearly.index.year
    grid = np.full((len(years), 12), np.nan)
    grid[years.get_indexer(monthly.index.year), monthly.index.month - 1] = monthly.to_numpy()
    table = pd.DataFrame(grid, index=pd.Index(years, name="year"), columns=range(1, 13))
    table["year"] = yearly.to_numpy()
    return table


def yearly_summary(backtest: Backtest) -> pd.DataFrame:
    """Per calendar year: money put in, value at the year's end, profit over the year, TWR %, fees and taxes."""
    values = backtest.values
    year = values.index.year.to_numpy()
    last = np.flatnonzero(np.r_[year[1:] != year[:-1], True])  # each year's last valuation day
    years = pd.Index(year[last], name="year")
    value_end = values["value"].to_numpy()[last]
    put_in = values["invested"].to_numpy()[last]
    contributed = np.diff(put_in, prepend=0.0)
    trades = backtest.trades
    costs = np.zeros((len(years), 2))
    if len(trades):
        rows = years.get_indexer(trades["date"].dt.year)
        np.add.at(costs, rows, trades[["fee", "tax"]].to_numpy())
    index = twr_index(values["value"], backtest.flows)
    return pd.DataFrame({
        "contributed": contributed, "value_end": value_end,
        "profit": value_end - np.r_[0.0, value_end[:-1]] - contributed,
        "twr_pct": (period_returns(index, "YE") * 100).to_numpy(), "fees": costs[:, 0], "taxes": costs[:, 1],
    }, index=years)  # fmt: skip


def contributions(backtest: Backtest) -> pd.DataFrame:
    """Each asset's profit in the portfolio's currency: its value at the end plus what its sales brought, less
    what its buys cost (fees and taxes included), and its share of the total profit in %. For an asset in the
    other currency, the part from its own price, the part from the exchange rate, and what trading cost."""
    units, prices, conv = (f.to_numpy() for f in (backtest.units, backtest.prices, backtest.conv))
    held = np.vstack([np.zeros((1, units.shape[1])), units[:-1]])
    before = np.vstack([conv[:1], conv[:-1]])
    asset_part = (held * np.diff(prices, axis=0, prepend=prices[:1]) * before).sum(axis=0)
    fx_part = (held * prices * np.diff(conv, axis=0, prepend=conv[:1])).sum(axis=0)
    ids = list(backtest.units.columns)
    trades = backtest.trades
    col = pd.Index(ids).get_indexer(trades["asset_id"])
    row = backtest.units.index.get_indexer(trades["date"])
    sign = np.where(trades["side"].to_numpy() == "buy", -1.0, 1.0)
    sums = np.zeros((len(ids), 3))  # cash from trades, fees and taxes, the same trades at the plain rate
    plain = sign * trades["units"].to_numpy() * trades["price"].to_numpy() * conv[row, col]
    paid = (trades["fee"] + trades["tax"]).to_numpy()
    np.add.at(sums, col, np.column_stack([sign * trades["amount"].to_numpy(), paid, plain]))
    final = backtest.values[ids].iloc[-1].to_numpy()
    spread = sums[:, 0] - sums[:, 2]  # trading at the applied rate against valuing at the plain one: a cost too
    table = pd.DataFrame({"profit": final + sums[:, 0] - sums[:, 1], "asset_part": asset_part, "fx_part": fx_part,
                          "costs": sums[:, 1] - spread}, index=pd.Index(ids, name="asset_id"))  # fmt: skip
    total = float(backtest.values["value"].iloc[-1] - backtest.values["invested"].iloc[-1])
    table["share_pct"] = table["profit"] / total * 100 if total else math.nan
    return table


def weights(backtest: Backtest) -> pd.DataFrame:
    """Each holding's and the cash's share of the value, in %, every valuation day."""
    values = backtest.values
    parts = values[[*backtest.plan.assets, "cash"]]
    total = values["value"].where(values["value"] != 0)
    return parts.div(total, axis=0) * 100


def growth(backtest: Backtest) -> pd.Series:
    """The TWR index rebased to 100 at the first day that holds money (charts)."""
    return twr_index(backtest.values["value"], backtest.flows) * 100


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


def measure(backtest: Backtest) -> Measured:
    index = growth(backtest)
    return Measured(backtest, summary(backtest), index, monthly_table(index), yearly_summary(backtest),
                    contributions(backtest), weights(backtest))  # fmt: skip
