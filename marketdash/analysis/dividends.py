"""Cash dividends as the engine and the total-return lines use them (pure: frames in, frames out).

- The KRX ex-date by the T+2 rule (shared/kis-dividends.md §1.5): S is the last session on or before the record
  date, the ex-date the session before S. A record date on a closed Dec 31 is the trap: 2024-12-31 -> S = Dec 30
  -> ex-date Dec 27, not the "record date - 1 business day" of naive code.
- `resolve`: the usable dividends (fixed, an amount above 0), each KRX ex-date derived from the asset's own bars
  (SPEC.md "Portfolio" -> Dividends: the days the engine values on), the exchange calendar standing in only where
  the bars do not reach the record date; US ex-dates as the source gave them. Indices, coins and futures pay none.
- `total_return`: the usual total-return index, gross dividends reinvested at the close of the session before the
  ex-date: from the ex-date on the price is multiplied by (1 + D / P_prev).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd

from marketdash.domain import catalog
from marketdash.domain.records import DIVIDEND_COLUMNS, dividend_frame

RESOLVED_COLUMNS = ["asset_id", "ex_date", "record_date", "pay_date", "amount", "currency"]
TRAILING = pd.Timedelta(days=365)  # the trailing-12-month yield's window, ending at (and including) its date


def krx_ex_date(record: dt.date, sessions: pd.DatetimeIndex) -> dt.date:
    """The KRX ex-dividend date of a record date: the session before S, S the last session on or before the record
    date. Raises ValueError when `sessions` hold no two sessions up to the record date."""
    days = pd.DatetimeIndex(sessions).sort_values()
    at = int(days.searchsorted(pd.Timestamp(record), side="right")) - 1  # S
    if at < 1:
        raise ValueError(f"no session before the last one on or before {record}")
    return days[at - 1].date()


def resolve(
    dividends: pd.DataFrame,
    bars: pd.DataFrame,
    calendar_sessions: Callable[[str], pd.DatetimeIndex] | None = None,
) -> pd.DataFrame:
    """The dividends the engine and the total-return lines use: fixed rows with an amount above 0, of assets that
    pay dividends; KRX ex-dates re-derived from the asset's own bar dates in `bars` (long: asset_id, date, ...),
    the calendar (`calendar_sessions(code)`) where the bars do not reach the record date, else the stored ex-date;
    US rows keep the stored ex-date. Rows without an ex-date are left out. Sorted by asset and ex-date."""
    rows = dividend_frame(dividends) if len(dividends) else dividend_frame(pd.DataFrame(columns=DIVIDEND_COLUMNS))
    usable = rows["fixed"] & (rows["amount"] > 0) & np.isfinite(rows["amount"])
    payers = {a: catalog.find(str(a)) for a in rows["asset_id"].unique()}
    usable &= rows["asset_id"].map(lambda a: payers[a] is not None and payers[a].pays_dividends).astype(bool)
    rows = rows[usable].copy()
    wanted = bars["asset_id"].isin(rows["asset_id"].unique()) if len(bars) else []
    by_asset = {a: pd.DatetimeIndex(g["date"].dropna().unique()).sort_values()  # once per asset, not per row
                for a, g in bars.loc[wanted].groupby("asset_id")} if len(bars) else {}  # fmt: skip
    ex_dates = rows["ex_date"].to_numpy(dtype="datetime64[ns]").copy()
    for asset_id, group in rows.groupby("asset_id").groups.items():
        asset = payers[asset_id]
        if asset.kind != "domestic_stock":
            continue
        at = rows.index.get_indexer(group)
        records = rows["record_date"].to_numpy(dtype="datetime64[ns]")[at]
        days = by_asset.get(asset_id, pd.DatetimeIndex([])).to_numpy()
        s = np.searchsorted(days, records, side="right") - 1  # S: the last bar on or before each record date
        ok = (s >= 1) & (len(days) > 0) & (records <= (days[-1] if len(days) else np.datetime64("NaT")))
        ex_dates[at[ok]] = days[s[ok] - 1]
        for k, record in zip(at[~ok], records[~ok], strict=True) if calendar_sessions else ():
            # the bars do not reach the record date yet: the calendar stands in (where it does not reach back
            # either, the stored ex-date stays)
            with contextlib.suppress(ValueError):
                sessions = calendar_sessions(asset.calendar)
                ex_dates[k] = np.datetime64(krx_ex_date(pd.Timestamp(record).date(), sessions), "ns")
    rows["ex_date"] = pd.to_datetime(pd.Series(ex_dates, index=rows.index))
    rows = rows[rows["ex_date"].notna()]
    return rows[RESOLVED_COLUMNS].sort_values(["asset_id", "ex_date", "record_date"], ignore_index=True)


def _for(closes: pd.Series, dividends: pd.DataFrame) -> pd.DataFrame:
    """The rows of `dividends` that belong to the series: those of its asset (`closes.name`); all of them when the
    series is unnamed or the frame has no asset_id column (one asset's dividends)."""
    if "asset_id" in dividends and closes.name is not None:
        return dividends[dividends["asset_id"] == closes.name]
    return dividends


def reinvestment(closes: pd.Series, dividends: pd.DataFrame) -> pd.Series:
    """The cumulative reinvestment factor on `closes.index`: the product of (1 + D / P_prev) over the ex-dates on
    or before each date, P_prev the last close before the ex-date. A dividend with no close before its ex-date (it
    went ex before the series starts) does not count; closes may hold NaN (days the asset did not trade)."""
    known = closes.dropna().sort_index()
    factor = pd.Series(1.0, index=closes.index)
    mine = _for(closes, dividends)
    if known.empty or mine.empty:
        return factor
    ex = pd.DatetimeIndex(mine["ex_date"])
    prev_at = known.index.searchsorted(ex, side="left") - 1  # the last close strictly before the ex-date
    ok = prev_at >= 0
    if not ok.any():
        return factor
    step = 1.0 + mine["amount"].to_numpy(float)[ok] / known.to_numpy(float)[prev_at[ok]]
    jumps = pd.Series(step, index=ex[ok]).groupby(level=0).prod().sort_index()
    cumulative = jumps.cumprod()
    at = cumulative.index.searchsorted(pd.DatetimeIndex(closes.index), side="right") - 1
    values = np.where(at >= 0, cumulative.to_numpy()[np.maximum(at, 0)], 1.0)
    return pd.Series(values, index=closes.index)


def total_return(closes: pd.Series, dividends: pd.DataFrame) -> pd.Series:
    """The total-return index of one asset, on the same index as `closes`: each close times the reinvestment
    factor of the dividends gone ex by then (gross, reinvested at the close before each ex-date)."""
    return closes * reinvestment(closes, dividends)


def total_return_frame(
    native: pd.DataFrame, dividends: pd.DataFrame, converted: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Total-return lines of a dates x assets frame: each column's factor computed on its closes in the asset's own
    currency (`native`, the currency the dividends are paid in) and applied to `converted` (the same closes in a
    currency view) or to `native` itself."""
    target = native if converted is None else converted
    factors = {a: reinvestment(native[a].rename(a), dividends).reindex(target.index).ffill().fillna(1.0)
               for a in target.columns if a in native}  # fmt: skip
    return target * pd.DataFrame(factors, index=target.index).reindex(columns=target.columns).fillna(1.0)


def history(resolved: pd.DataFrame, closes: pd.Series) -> pd.DataFrame:
    """One asset's dividends with the close before each ex-date and the yield at it (%), newest first."""
    mine = _for(closes, resolved)
    known = closes.dropna().sort_index()
    prev_at = known.index.searchsorted(pd.DatetimeIndex(mine["ex_date"]), side="left") - 1
    prev = np.where(prev_at >= 0, known.to_numpy(float)[np.maximum(prev_at, 0)], np.nan) if len(known) else np.nan
    out = mine[["record_date", "ex_date", "pay_date", "amount", "currency"]].copy()
    out["close_before_ex"] = prev
    out["yield_pct"] = out["amount"] / out["close_before_ex"] * 100
    return out.sort_values("ex_date", ascending=False, ignore_index=True)


def trailing_yield(resolved: pd.DataFrame, closes: pd.Series, as_of: pd.Timestamp | None = None) -> float:
    """The trailing-12-month yield in %: the dividends gone ex in the year up to `as_of` (default: the last close)
    over the close on `as_of`. NaN without a close."""
    known = closes.dropna().sort_index()
    if known.empty:
        return float("nan")
    as_of = known.index[-1] if as_of is None else as_of
    price = known.loc[:as_of]
    if price.empty:
        return float("nan")
    mine = _for(closes, resolved)
    paid = mine.loc[(mine["ex_date"] > as_of - TRAILING) & (mine["ex_date"] <= as_of), "amount"].sum()
    return float(paid / price.iloc[-1] * 100)
