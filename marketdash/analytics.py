"""Pure functions over DataFrames: rebasing, returns on common dates, correlations, overview figures.

Mixed calendars are the trap here: KRX, NYSE, COMEX and Bitcoin trade on different days. Nothing is forward-filled;
returns are taken between consecutive dates on which every selected asset traded, so no holiday becomes a fake
zero return, and normalization starts at the first date all series share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from marketdash.i18n import Msg, Name, msg

FREQUENCIES = {"daily": None, "weekly": "W-FRI", "monthly": "ME"}


def to_wide(bars: pd.DataFrame, order: list[str] | None = None, value: str = "close") -> pd.DataFrame:
    """Long bars -> dates x asset ids (NaN where an asset did not trade), columns in `order`."""
    if bars.empty:
        return pd.DataFrame(columns=order or [], index=pd.DatetimeIndex([], name="date"), dtype=float)
    wide = bars.pivot_table(index="date", columns="asset_id", values=value, aggfunc="last").sort_index()
    wide.index = pd.DatetimeIndex(wide.index, name="date")
    wide.columns.name = None
    if order is not None:
        wide = wide.reindex(columns=[a for a in order if a in wide.columns])
    return wide


def first_common_date(wide: pd.DataFrame) -> pd.Timestamp | None:
    complete = wide.dropna(how="any")
    return None if complete.empty else complete.index[0]


def rebase(wide: pd.DataFrame, base: float = 100.0) -> tuple[pd.DataFrame, pd.Timestamp | None]:
    """Each series divided by its close on the first common date, times `base`.

    When the series share no date at all, each is rebased at its own first close and the returned date is None.
    """
    anchor = first_common_date(wide)
    if anchor is not None:
        return wide / wide.loc[anchor] * base, anchor
    firsts = wide.apply(lambda s: s.dropna().iloc[0] if s.notna().any() else np.nan)
    return wide / firsts * base, None


def common_returns(wide: pd.DataFrame, frequency: str = "daily") -> pd.DataFrame:
    """Log returns between consecutive dates on which every column has a close (or period-end closes).

    Weekly uses each asset's last close of the week ending Friday, monthly its last close of the month; a period
    in which some asset never traded is dropped rather than filled.
    """
    if frequency not in FREQUENCIES:
        raise ValueError(f"frequency must be one of {list(FREQUENCIES)}, not {frequency!r}")
    rule = FREQUENCIES[frequency]
    closes = wide if rule is None else wide.resample(rule).last()
    common = closes.dropna(how="any")
    return np.log(common).diff().iloc[1:]


@dataclass(frozen=True)
class Correlation:
    matrix: pd.DataFrame
    observations: int
    method: str


METHODS = ("pearson", "spearman")


def _check(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be 'pearson' or 'spearman', not {method!r}")


def correlation(returns: pd.DataFrame, method: str = "pearson") -> Correlation:
    """Correlation of return columns over the rows all share (so every cell has the same observations)."""
    _check(method)
    rows = returns.dropna(how="any")
    return Correlation(rows.corr(method=method), len(rows), method)


def pair_correlation(x: pd.Series, y: pd.Series, method: str = "pearson") -> float:
    """Correlation of two series over the rows both have (NaN under 3). Spearman is Pearson of average ranks, as
    DataFrame.corr computes it: Series.corr hands Spearman to scipy, which this app does not depend on."""
    _check(method)
    pair = pd.concat([x, y], axis=1).dropna()
    if len(pair) < 3:
        return np.nan
    if method == "spearman":
        pair = pair.rank()
    return float(pair.iloc[:, 0].corr(pair.iloc[:, 1]))


def overview(bars: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Per asset over the loaded range: first and last date, last close, day change % and change over the range %."""
    cols = [
        "first_date",
        "last_date",
        "last_close",
        "day_change_pct",
        "range_change_pct",
    ]
    rows = {}
    for asset_id, group in bars.sort_values("date").groupby("asset_id"):
        close = group["close"].to_numpy()
        rows[asset_id] = {
            "first_date": group["date"].iloc[0],
            "last_date": group["date"].iloc[-1],
            "last_close": close[-1],
            "day_change_pct": (close[-1] / close[-2] - 1) * 100 if len(close) > 1 else np.nan,
            "range_change_pct": (close[-1] / close[0] - 1) * 100,
        }
    table = pd.DataFrame.from_dict(rows, orient="index", columns=cols).reindex(order)
    table.index.name = "asset_id"
    return table


# -- alignment ---------------------------------------------------------------------------------------------------
# How returns of assets on different calendars are paired; each is explained on the page (catalog `align.*`):
# common dates, a US/COMEX session D paired with the next KRX session (Bitcoin's UTC day with the KRX session it
# overlaps), week-on-week or month-on-month closes.
ALIGNMENTS = ("common", "kst", "weekly", "monthly")


def kst_session_keys(dates: pd.DatetimeIndex, calendar: str, krx_sessions: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The KRX session at which a Korean investor first trades on each bar's information.

    KRX bars: their own date. US/COMEX session D: the first KRX session after D (the US close is the next KST
    morning). Bitcoin's UTC day D (09:00 KST D to 09:00 KST D+1): the first KRX session on or after D.
    Dates past the last known KRX session map to NaT.
    """
    sessions = pd.DatetimeIndex(krx_sessions).sort_values()
    if calendar == "XKRX":
        return pd.DatetimeIndex(dates)
    side = "right" if calendar in ("XNYS", "CMES") else "left"
    pos = sessions.searchsorted(pd.DatetimeIndex(dates), side=side)
    keys = [sessions[p] if p < len(sessions) else pd.NaT for p in pos]
    return pd.DatetimeIndex(keys)


def align_kst(wide: pd.DataFrame, calendars: dict[str, str], krx_sessions: pd.DatetimeIndex) -> pd.DataFrame:
    """Closes re-dated to KRX sessions (the last close mapped to each session wins), one row per KRX session."""
    out = {}
    for asset_id in wide.columns:
        series = wide[asset_id].dropna()
        keys = kst_session_keys(series.index, calendars[asset_id], krx_sessions)
        mapped = pd.Series(series.to_numpy(), index=keys)
        mapped = mapped[mapped.index.notna()]
        out[asset_id] = mapped.groupby(level=0).last()
    aligned = pd.DataFrame(out).sort_index()
    aligned.index.name = "date"
    return aligned


def aligned_returns(
    wide: pd.DataFrame,
    mode: str = "common",
    *,
    calendars: dict[str, str] | None = None,
    krx_sessions: pd.DatetimeIndex | None = None,
    ffill_limit: int = 0,
) -> pd.DataFrame:
    """Log returns under one of ALIGNMENTS. `ffill_limit` > 0 carries a close over at most that many missing rows
    first (an explicit choice: every filled day is a zero return for that asset)."""
    if mode not in ALIGNMENTS:
        raise ValueError(f"alignment must be one of {list(ALIGNMENTS)}, not {mode!r}")
    if mode == "kst":
        if calendars is None or krx_sessions is None:
            raise ValueError("KST alignment needs each asset's calendar and the KRX sessions")
        wide = align_kst(wide, calendars, krx_sessions)
    if ffill_limit > 0:
        wide = wide.ffill(limit=ffill_limit)
    return common_returns(wide, mode if mode in ("weekly", "monthly") else "daily")


# -- correlation confidence --------------------------------------------------------------------------------------
MIN_OBSERVATIONS = 20


def fisher_interval(r: float, n: int, z_crit: float = 1.959963984540054) -> tuple[float, float]:
    """95% confidence interval of a correlation through Fisher's z; (nan, nan) when n <= 3."""
    if n <= 3 or not np.isfinite(r):
        return (np.nan, np.nan)
    z = np.arctanh(np.clip(r, -0.9999999, 0.9999999))
    half = z_crit / np.sqrt(n - 3)
    return (float(np.tanh(z - half)), float(np.tanh(z + half)))


def correlation_table(returns: pd.DataFrame, method: str = "pearson") -> pd.DataFrame:
    """Every pair once: correlation, overlapping observations, 95% interval, and whether n is too small to trust."""
    result = correlation(returns, method)
    rows = []
    cols = list(result.matrix.columns)
    for i, a in enumerate(cols):
        for b in cols[i + 1 :]:
            r = float(result.matrix.loc[a, b])
            lo, hi = fisher_interval(r, result.observations)
            rows.append(
                {"asset_a": a, "asset_b": b, "correlation": r, "observations": result.observations,
                 "ci95_low": lo, "ci95_high": hi, "too_few": result.observations < MIN_OBSERVATIONS}
            )  # fmt: skip
    return pd.DataFrame(rows, columns=["asset_a", "asset_b", "correlation", "observations", "ci95_low", "ci95_high",
                                       "too_few"])  # fmt: skip


# -- lead-lag and rolling ----------------------------------------------------------------------------------------
def lead_lag(returns: pd.DataFrame, a: str, b: str, max_lag: int = 5, method: str = "pearson") -> pd.DataFrame:
    """corr(a_t, b_{t+k}) for k in -max_lag..max_lag: a positive peak lag means `a` leads `b` by k periods."""
    pair = returns[[a, b]].dropna()
    rows = []
    for k in range(-max_lag, max_lag + 1):
        shifted = pd.concat([pair[a], pair[b].shift(-k)], axis=1).dropna()
        r = pair_correlation(shifted.iloc[:, 0], shifted.iloc[:, 1], method)
        rows.append({"lag": k, "correlation": r, "observations": len(shifted)})
    return pd.DataFrame(rows).set_index("lag")


def lead_lag_reading(table: pd.DataFrame, a: str, b: str, unit: str = "session") -> Msg:
    """One plain sentence about where the lead-lag correlation of assets `a` and `b` peaks (`unit`: session, week
    or month)."""
    corr = table["correlation"]
    if corr.isna().all():
        return msg("leadlag.too_few")
    peak = int(corr.abs().idxmax())
    same = f"{corr.loc[0]:.2f}"
    if peak == 0:
        return msg(f"leadlag.together.{unit}", a=Name(a), b=Name(b), r=same)
    leader, follower = (a, b) if peak > 0 else (b, a)
    key = f"leadlag.next.{unit}" if abs(peak) == 1 else f"leadlag.later.{unit}"
    return msg(key, leader=Name(leader), follower=Name(follower), lag=abs(peak), r=f"{corr.loc[peak]:.2f}", same=same)


def _window_ranks(windows: np.ndarray) -> np.ndarray:
    """Average ranks (1-based, ties share their mean rank) within each row of `windows`."""
    below = (windows[:, :, None] > windows[:, None, :]).sum(axis=2)
    equal = (windows[:, :, None] == windows[:, None, :]).sum(axis=2)
    return below + (equal + 1) / 2


def _rolling_spearman(x: pd.Series, y: pd.Series, window: int) -> pd.Series:
    """Spearman correlation over each trailing window: Pearson of the ranks within that window."""
    out = pd.Series(np.nan, index=x.index, dtype=float)
    if len(x) < window:
        return out
    view = np.lib.stride_tricks.sliding_window_view
    rx, ry = _window_ranks(view(x.to_numpy(float), window)), _window_ranks(view(y.to_numpy(float), window))
    rx, ry = rx - rx.mean(axis=1, keepdims=True), ry - ry.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (rx * ry).sum(axis=1) / np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    out.iloc[window - 1 :] = r
    return out


def rolling_correlation(
    returns: pd.DataFrame, a: str, others: list[str], window: int, exponential: bool = False, method: str = "pearson"
) -> pd.DataFrame:
    """Rolling (or exponentially weighted, span = window) correlation of `a` with each of `others`.

    Spearman ranks within each window; exponential weighting has no rank form, so it stays Pearson (the page
    says so)."""
    _check(method)
    out = {}
    for b in others:
        pair = returns[[a, b]].dropna()
        if exponential:
            out[b] = pair[a].ewm(span=window, min_periods=window).corr(pair[b])
        elif method == "spearman":
            out[b] = _rolling_spearman(pair[a], pair[b], window)
        else:
            out[b] = pair[a].rolling(window).corr(pair[b])
    frame = pd.DataFrame(out)
    frame.index.name = "date"
    return frame


# -- currencies --------------------------------------------------------------------------------------------------
FX_FIX_TIMES = {"kis": ("Asia/Seoul", "15:30"), "ecb": ("Europe/Berlin", "14:15")}


def local_instants(dates: pd.DatetimeIndex, timezone: str, clock: str) -> pd.DatetimeIndex:
    """Each date at a local wall-clock time (e.g. a market's close), as UTC instants."""
    offset = pd.Timedelta(clock if clock.count(":") == 2 else f"{clock}:00")
    local = (pd.DatetimeIndex(dates).normalize() + offset).tz_localize(timezone, nonexistent="shift_forward",
                                                                        ambiguous="NaT")  # fmt: skip
    return local.tz_convert("UTC")


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


# -- one asset's own bars ---------------------------------------------------------------------------------------
MOVING_AVERAGES = (5, 20, 60, 120)  # sessions, as Korean trading screens draw them


def moving_averages(closes: pd.Series, windows: tuple[int, ...] = MOVING_AVERAGES) -> pd.DataFrame:
    """Simple moving averages of the closes over each window of sessions (NaN until a window is full)."""
    return pd.DataFrame({f"ma{w}": closes.rolling(w).mean() for w in windows}, index=closes.index)


def week52_range(bars: pd.DataFrame, as_of: pd.Timestamp | None = None) -> dict[str, object]:
    """The highest high and lowest low (closes where a source sends no high/low) of the 52 weeks up to `as_of`
    (default: the last bar), with their dates."""
    if bars.empty:
        return {}
    frame = bars.set_index("date").sort_index()
    end = as_of if as_of is not None else frame.index.max()
    year = frame.loc[end - pd.Timedelta(weeks=52) : end]
    highs, lows = year["high"].fillna(year["close"]), year["low"].fillna(year["close"])
    return {"high": float(highs.max()), "high_date": highs.idxmax(),
            "low": float(lows.min()), "low_date": lows.idxmin()}  # fmt: skip


# -- risk statistics ---------------------------------------------------------------------------------------------
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
