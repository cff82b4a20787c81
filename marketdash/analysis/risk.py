"""Risk and return of each asset over its own closes: CAGR, volatility, Sharpe, drawdowns, best and worst day."""

from __future__ import annotations

import numpy as np
import pandas as pd


def drawdown(closes: pd.Series) -> pd.Series:
    """Fall from the running peak, as a fraction (0 at a new high)."""
    return closes / closes.cummax() - 1


def statistics(closes: pd.Series, periods_per_year: int, risk_free: float = 0.0) -> dict[str, object]:
    """Risk and return of one asset's own closes (its own trading days).

    Volatility: std of daily simple returns x sqrt(periods_per_year) (252 sessions; 365 days for Bitcoin).
    Sharpe: (mean daily simple return x periods_per_year - risk_free) / volatility. CAGR over calendar days.
    """
    s = closes.dropna()
    if len(s) < 2:
        return {"observations": len(s)}
    r = s.pct_change().dropna()
    years = (s.index[-1] - s.index[0]).days / 365.25
    vol = float(r.std(ddof=1) * np.sqrt(periods_per_year))
    dd = drawdown(s)
    trough = dd.idxmin()
    peak = s.loc[:trough][::-1].idxmax()  # the last date at the peak before the trough
    recovered = s.loc[trough:][s.loc[trough:] >= s.loc[peak]]
    return {
        "first_date": s.index[0],
        "last_date": s.index[-1],
        "observations": len(s),
        "total_return_pct": (s.iloc[-1] / s.iloc[0] - 1) * 100,
        "cagr_pct": ((s.iloc[-1] / s.iloc[0]) ** (1 / years) - 1) * 100 if years > 0 else np.nan,
        "volatility_pct": vol * 100,
        "sharpe": (r.mean() * periods_per_year - risk_free) / vol if vol > 0 else np.nan,
        "max_drawdown_pct": float(dd.min()) * 100,
        "drawdown_peak": peak,
        "drawdown_trough": trough,
        "drawdown_recovered": recovered.index[0] if len(recovered) else pd.NaT,
        "best_day_pct": float(r.max()) * 100,
        "best_day": r.idxmax(),
        "worst_day_pct": float(r.min()) * 100,
        "worst_day": r.idxmin(),
        "periods_per_year": periods_per_year,
    }


MIN_ANNUALISED = 60  # sessions: fewer, and CAGR, volatility and Sharpe say more about luck than about the asset
SPAN_SLACK = pd.Timedelta(days=7)  # a series starting or ending within a week of the range covers it (holidays)


def statistics_table(
    wide: pd.DataFrame, periods: dict[str, int], risk_free: float = 0.0, range_start: pd.Timestamp | None = None
) -> pd.DataFrame:
    """One row per asset, each over its own closes in the range, with the span and observations it was computed
    from. `shorter_than_range`: it starts after the range's start (default: the earliest first date) or ends
    before the others' last date, by more than a week. Under MIN_ANNUALISED observations the annualised figures
    are NaN: the total return stands alone."""
    table = pd.DataFrame.from_dict(
        {a: statistics(wide[a], periods[a], risk_free) for a in wide.columns}, orient="index"
    ).infer_objects()
    table.index.name = "asset_id"
    if "first_date" not in table:
        return table
    start = range_start if range_start is not None else table["first_date"].min()
    late = table["first_date"] > start + SPAN_SLACK
    early = table["last_date"] < table["last_date"].max() - SPAN_SLACK
    table["shorter_than_range"] = (late | early).fillna(False).astype(bool)
    few = table["observations"] < MIN_ANNUALISED
    table.loc[few, ["cagr_pct", "volatility_pct", "sharpe"]] = np.nan
    return table
