"""Currency views: each close converted with USD/KRW as known at that close (never a later fixing), what cannot be
converted, how far a rate lags the prices, and a USD asset's KRW return split into its asset and currency parts."""

from __future__ import annotations

import numpy as np
import pandas as pd

FX_FIX_TIMES = {"kis": ("Asia/Seoul", "15:30"), "ecb": ("Europe/Berlin", "14:15")}


def local_instants(dates: pd.DatetimeIndex, timezone: str, clock: str) -> pd.DatetimeIndex:
    """Each date at a local wall-clock time (e.g. a market's close), as UTC instants."""
    offset = pd.Timedelta(clock if clock.count(":") == 2 else f"{clock}:00")
    local = (pd.DatetimeIndex(dates).normalize() + offset).tz_localize(timezone, nonexistent="shift_forward",
                                                                        ambiguous="NaT")  # fmt: skip
    return local.tz_convert("UTC")


def in_force(fx: pd.DataFrame) -> pd.DataFrame:
    """The fixings that count: the store's (KIS) over its whole span, the ECB's reference rates only on the days
    before or after it. Which rate a past day gets never depends on where a window ends (a window ending on a KRX
    holiday once took that day from the ECB and priced 2024-12-31 differently)."""
    ecb = (fx["source"] == "ecb").to_numpy()
    if ecb.all() or not ecb.any():
        return fx
    own = fx.loc[~ecb, "date"]
    outside = (fx["date"] < own.min()) | (fx["date"] > own.max())
    return fx.loc[~ecb | outside.to_numpy()]


def fx_known_at(fx: pd.DataFrame) -> pd.Series:
    """USD/KRW rates indexed by the UTC instant each was fixed (KIS: 15:30 KST, ECB: 14:15 CET)."""
    parts = []
    for source, group in fx.groupby("source"):
        tz, clock = FX_FIX_TIMES.get(str(source), FX_FIX_TIMES["ecb"])
        parts.append(pd.Series(group["close"].to_numpy(), index=local_instants(group["date"], tz, clock)))
    return pd.concat(parts).sort_index() if parts else pd.Series(dtype=float)


def rate_at_close(dates: pd.DatetimeIndex, timezone: str, close_time: str, fx_by_instant: pd.Series) -> pd.Series:
    """For each bar, the latest USD/KRW fixed at or before that bar's close: never a rate from after it."""
    pos = fx_by_instant.index.searchsorted(local_instants(dates, timezone, close_time), side="right") - 1
    values = np.where(pos >= 0, fx_by_instant.to_numpy()[np.maximum(pos, 0)], np.nan)
    return pd.Series(values, index=dates)


CONVERTIBLE = ("KRW", "USD")


def unconvertible(currencies: dict[str, str]) -> list[str]:
    """The assets a KRW or USD view leaves in their own unit (neither KRW nor USD: no rate to convert with)."""
    return [a for a, c in currencies.items() if c not in CONVERTIBLE]


def convert(
    wide: pd.DataFrame,
    currencies: dict[str, str],
    closes: dict[str, tuple[str, str]],
    fx: pd.DataFrame,
    target: str,
) -> pd.DataFrame:
    """Closes in `target` ("KRW" or "USD"); `closes` maps asset id -> (time zone, close time "HH:MM"). Only KRW and
    USD prices convert: an index in yen or a rate in % stays in its own unit (see `unconvertible`)."""
    fx_by_instant = fx_known_at(fx)
    out = wide.copy()
    for asset_id in wide.columns:
        currency = currencies[asset_id]
        if currency == target or currency not in CONVERTIBLE:
            continue
        series = wide[asset_id].dropna()
        rate = rate_at_close(series.index, *closes[asset_id], fx_by_instant)
        converted = series * rate if target == "KRW" else series / rate
        out[asset_id] = converted.reindex(wide.index)
    return out


def business_days_between(earlier: pd.Timestamp, later: pd.Timestamp) -> int:
    """Weekdays after `earlier` up to and including `later` (0 when later is not after it): how many sessions a
    rate lags the prices it converts (FX fixes on weekdays)."""
    if later <= earlier:
        return 0
    return int(np.busday_count((earlier + pd.Timedelta(days=1)).date(), (later + pd.Timedelta(days=1)).date()))


def business_day_after(day: pd.Timestamp, n: int) -> pd.Timestamp:
    """The n-th weekday after `day`."""
    return pd.Timestamp(np.busday_offset(day.date(), n, roll="forward")) if n else day


def currency_decomposition(
    native: pd.Series, in_krw: pd.Series, stale_from: pd.Timestamp | None = None
) -> dict[str, float]:
    """Total return of a USD asset seen from KRW, split: (1 + KRW) = (1 + asset in USD) x (1 + USD/KRW).

    When the last close was converted with a stale rate (`stale_from` on), the currency part and the KRW return
    are unknown: NaN, never a 0.00 that says the won did not move."""
    pair = pd.concat([native, in_krw], axis=1).dropna()
    if len(pair) < 2:
        return {"asset_return_pct": np.nan, "fx_return_pct": np.nan, "krw_return_pct": np.nan}
    asset = pair.iloc[-1, 0] / pair.iloc[0, 0] - 1
    if stale_from is not None and pair.index[-1] >= stale_from:
        return {"asset_return_pct": asset * 100, "fx_return_pct": np.nan, "krw_return_pct": np.nan}
    krw = pair.iloc[-1, 1] / pair.iloc[0, 1] - 1
    fx = (1 + krw) / (1 + asset) - 1
    return {"asset_return_pct": asset * 100, "fx_return_pct": fx * 100, "krw_return_pct": krw * 100}
