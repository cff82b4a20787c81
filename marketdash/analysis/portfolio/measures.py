"""What a backtest's numbers mean to an investor (SPEC.md, "Portfolio", Returns): time- and money-weighted returns,
risk of the time-weighted index, drawdowns and calendar returns.

- TWR chains r_d = (V_d - F_d) / V_(d-1) - 1 from the first day that holds money (money invested at a day's close
  earns nothing that day; money out is a negative F); annualised over calendar days / 365.25, so CAGR, the growth
  of one won invested at the start, is the same figure (Portfolio Visualizer and ffn compute it so).
- MWR is the XIRR of the dated flows (each arrival negative, each withdrawal and the last value positive), ACT/365.
- Volatility, Sharpe and Sortino are of the TWR index's returns, annualised by the valuation days per year the
  portfolio actually has (about 250 for KRX alone, 365 with a coin); Sharpe and Sortino less the risk-free rate of
  the Risk page. Annualised figures need MIN_DAYS valuation days, as on the Risk page: a year's rate from a few
  days says nothing (1,468 % "a year" from one day).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from marketdash.analysis.portfolio.engine import Backtest

MIN_DAYS = 60  # valuation days an annualised figure needs (the Risk page's rule)
WHOLE_SLACK = pd.Timedelta(days=7)  # a year or month counts whole when the run covers all but its edge week
STAT_KEYS = (
    "invested", "withdrawn", "final_value", "profit", "simple_return_pct", "twr_pct", "twr_annual_pct",
    "mwr_annual_pct", "cagr_pct", "volatility_pct", "sharpe", "sortino", "max_drawdown_pct", "max_drawdown_peak",
    "max_drawdown_trough", "max_drawdown_recovery", "longest_underwater_days", "best_year_pct", "worst_year_pct",
    "best_month_pct", "worst_month_pct", "dividends", "dividend_tax", "fees", "taxes",
)  # fmt: skip
ANNUAL_KEYS = ("twr_annual_pct", "mwr_annual_pct", "cagr_pct", "volatility_pct", "sharpe", "sortino")


def twr_index(values: pd.Series, flows: pd.Series) -> pd.Series:
    """The time-weighted growth of one unit, from the first day that holds money (1.0 there). A day that starts
    from nothing (all money gone) adds no return."""
    flow = flows.reindex(values.index, fill_value=0.0)
    held = values.to_numpy()
    first = int(np.argmax(held > 0)) if (held > 0).any() else len(held)
    prev = np.roll(held, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(prev > 0, (held - flow.to_numpy()) / prev - 1, 0.0)
    r[: first + 1] = 0.0
    growth = np.cumprod(1 + r)
    return pd.Series(growth, index=values.index).iloc[first:]


def years_between(first: pd.Timestamp, last: pd.Timestamp) -> float:
    return (last - first).days / 365.25


XIRR_GRID = (-0.999999, -0.99, -0.9, -0.5, 0.0, 0.5, 1.0, 3.0, 10.0, 100.0, 1e4, 1e6)


def xirr(dates: pd.DatetimeIndex, amounts: np.ndarray) -> float:
    """The annual rate at which the flows' present value is zero (ACT/365): the first sign change of the present
    value along a grid of rates from -99.9999 % up, narrowed by bisection. Flows that change sign more than once
    (money that ran out and came back) can have several such rates: this takes the lowest. NaN when there is
    none (flows that never change sign)."""
    amounts = np.asarray(amounts, dtype=float)
    if not ((amounts > 0).any() and (amounts < 0).any()):
        return math.nan
    t = np.asarray((pd.DatetimeIndex(dates) - pd.DatetimeIndex(dates).min()).days, dtype=float) / 365.0

    def npv(rate: float) -> float:
        return float((amounts / (1 + rate) ** t).sum())

    values = [npv(r) for r in XIRR_GRID]
    for (lo, f_lo), (hi, f_hi) in itertools.pairwise(zip(XIRR_GRID, values, strict=True)):
        if f_lo == 0:
            return lo
        if f_lo * f_hi < 0:
            for _ in range(200):
                mid = (lo + hi) / 2
                f_mid = npv(mid)
                if f_lo * f_mid <= 0:
                    hi = mid
                else:
                    lo, f_lo = mid, f_mid
                if hi - lo < 1e-15:
                    break
            return (lo + hi) / 2
    return math.nan


def mwr(backtest: Backtest) -> float:
    """The money-weighted annual return: XIRR of every arrival (negative), every withdrawal and the last value
    (positive)."""
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
    """Returns of the TWR index per calendar month ("ME") or year ("YE"), labelled by the period's last day; the
    first period runs from the start. (By the rows' year and month: resample cost a page rerun 2 ms a call.)"""
    stamps = index.index
    key = stamps.year.to_numpy() * 100 + (stamps.month.to_numpy() if rule == "ME" else 0)
    last = np.flatnonzero(np.r_[key[1:] != key[:-1], True])
    ends = index.to_numpy()[last]
    base = np.r_[index.iloc[0], ends[:-1]]
    offset = pd.offsets.MonthEnd(0) if rule == "ME" else pd.offsets.YearEnd(0)
    return pd.Series(ends / base - 1, index=(stamps[last] + offset).normalize())


def whole(periods: pd.Series, rule: str, first: pd.Timestamp, last: pd.Timestamp) -> pd.Series:
    """The periods (indexed by their end) the run covers but for their edge week: a run that starts on Jan 20 has
    no "year" in January's 11 days (SPEC.md: best and worst year count whole calendar years only)."""
    begins = periods.index.to_period("Y" if rule == "YE" else "M").start_time
    ends = periods.index.normalize()
    keep = (first <= begins + WHOLE_SLACK) & (last >= ends - WHOLE_SLACK)
    return periods[keep]


def summary(backtest: Backtest, rf_pct: float = 0.0) -> dict[str, object]:
    """Every statistic of stats.csv (percentages as percents, dates as dates, None or NaN when unknown);
    `rf_pct` is the yearly risk-free rate Sharpe and Sortino subtract."""
    values = backtest.values["value"]
    invested = float(backtest.values["invested"].iloc[-1])
    withdrawn = float(backtest.values["withdrawn"].iloc[-1])
    final = float(values.iloc[-1])
    index = twr_index(values, backtest.flows)
    years = years_between(index.index[0], index.index[-1])
    total = float(index.iloc[-1] - 1)
    r = index.pct_change().dropna()
    per_year = len(r) / years if years > 0 else math.nan
    rf = rf_pct / 100
    vol = float(r.std(ddof=1) * math.sqrt(per_year)) if len(r) > 1 and years > 0 else math.nan
    excess = r.to_numpy() - (rf / per_year if per_year > 0 else 0.0)
    downside = float(np.sqrt(np.mean(np.minimum(excess, 0.0) ** 2)) * math.sqrt(per_year)) if len(r) else 0.0
    annual = (1 + total) ** (1 / years) - 1 if years > 0 else math.nan
    first, last = index.index[0], index.index[-1]
    yearly = whole(period_returns(index, "YE"), "YE", first, last)
    monthly = whole(period_returns(index, "ME"), "ME", first, last)
    trades = backtest.trades
    paid = trades[trades["side"] == "dividend"]
    costs = trades[trades["side"] != "dividend"]
    profit = final + withdrawn - invested
    stats: dict[str, object] = {
        "invested": invested,
        "withdrawn": withdrawn,
        "final_value": final,
        "profit": profit,
        "simple_return_pct": profit / invested * 100 if invested else math.nan,
        "twr_pct": total * 100,
        "twr_annual_pct": annual * 100,
        "mwr_annual_pct": mwr(backtest) * 100,
        "cagr_pct": annual * 100,
        "volatility_pct": vol * 100,
        "sharpe": float((r.mean() * per_year - rf) / vol) if vol > 0 else math.nan,
        "sortino": float((r.mean() * per_year - rf) / downside) if downside > 0 else math.nan,
        **_max_drawdown(index),
        "best_year_pct": float(yearly.max()) * 100 if len(yearly) else math.nan,
        "worst_year_pct": float(yearly.min()) * 100 if len(yearly) else math.nan,
        "best_month_pct": float(monthly.max()) * 100 if len(monthly) else math.nan,
        "worst_month_pct": float(monthly.min()) * 100 if len(monthly) else math.nan,
        "dividends": float((paid["amount"] - paid["tax"]).sum()),
        "dividend_tax": float(paid["tax"].sum()),
        "fees": float(costs["fee"].sum()),
        "taxes": float(costs["tax"].sum()),
    }
    if len(values) < MIN_DAYS:
        stats.update(dict.fromkeys(ANNUAL_KEYS, math.nan))
    return {k: stats[k] for k in STAT_KEYS}


def growth(backtest: Backtest) -> pd.Series:
    """The TWR index rebased to 100 at the first day that holds money (charts)."""
    return twr_index(backtest.values["value"], backtest.flows) * 100
