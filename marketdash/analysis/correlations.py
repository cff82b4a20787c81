"""Correlations of returns across markets that keep different calendars: the alignment modes, Pearson and Spearman
with their 95 % intervals, lead-lag and rolling correlation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from marketdash.analysis.timeseries import common_returns
from marketdash.domain.i18n import Msg, Name, msg


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
    cols = np.asarray(result.matrix.columns, dtype=object)
    upper_a, upper_b = np.triu_indices(len(cols), k=1)  # every pair once, in the matrix's order
    r = result.matrix.to_numpy(float)[upper_a, upper_b]
    n = result.observations
    bounds = [fisher_interval(float(v), n) for v in r]
    return pd.DataFrame({
        "asset_a": cols[upper_a], "asset_b": cols[upper_b], "correlation": r, "observations": n,
        "ci95_low": [lo for lo, _ in bounds], "ci95_high": [hi for _, hi in bounds], "too_few": n < MIN_OBSERVATIONS,
    }, index=pd.RangeIndex(len(r)))  # fmt: skip


# -- lead-lag and rolling ----------------------------------------------------------------------------------------
def lead_lag(returns: pd.DataFrame, a: str, b: str, max_lag: int = 5, method: str = "pearson") -> pd.DataFrame:
    """corr(a_t, b_{t+k}) for k in -max_lag..max_lag: a positive peak lag means `a` leads `b` by k periods."""
    _check(method)
    pair = returns[[a, b]].dropna().to_numpy(float)
    x, y, n = pair[:, 0], pair[:, 1], len(pair)
    rows = []
    for k in range(-max_lag, max_lag + 1):  # a's row t beside b's row t + k, over the rows both exist
        m = max(n - abs(k), 0)
        xs, ys = (x[:m], y[k : k + m]) if k >= 0 else (x[-k : -k + m], y[:m])
        rows.append({"lag": k, "correlation": _correlation(xs, ys, method), "observations": len(xs)})
    return pd.DataFrame(rows).set_index("lag")


def _correlation(x: np.ndarray, y: np.ndarray, method: str) -> float:
    """pair_correlation of two gapless arrays, without building frames (lead_lag asks for eleven a rerun)."""
    if len(x) < 3:
        return np.nan
    if method == "spearman":
        x, y = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    x, y = x - x.mean(), y - y.mean()
    denominator = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / denominator) if denominator > 0 else np.nan


def stands_out(r: float, n: int) -> bool:
    """A correlation a reader may call a finding: enough observations (MIN_OBSERVATIONS), and its 95 % interval
    excludes 0 (noise between independent series stays inside ±1.96 / sqrt(n - 3))."""
    if n < MIN_OBSERVATIONS or not np.isfinite(r):
        return False
    lo, hi = fisher_interval(r, n)
    return lo > 0 or hi < 0


def lead_lag_reading(table: pd.DataFrame, a: str, b: str, unit: str = "session") -> Msg:
    """One plain sentence about the lead-lag correlation of assets `a` and `b` (`unit`: session, week or month):
    the strongest lag that stands out (its 95 % interval excludes 0, with enough observations), said with its
    direction (a negative r moves the other way); or that none stands out."""
    corr = table["correlation"]
    if corr.isna().all():
        return msg("leadlag.too_few")
    found = [k for k in table.index if stands_out(corr.loc[k], int(table.loc[k, "observations"]))]
    same = f"{round(corr.loc[0], 2) + 0.0:.2f}"  # + 0.0: -0.001 reads 0.00, never -0.00
    if not found:
        return msg(f"leadlag.none.{unit}", a=Name(a), b=Name(b), r=same)
    peak = int(max(found, key=lambda k: abs(corr.loc[k])))
    way = msg("leadlag.same_way" if corr.loc[peak] > 0 else "leadlag.other_way")
    if peak == 0:
        return msg(f"leadlag.together.{unit}", a=Name(a), b=Name(b), r=same, way=way)
    leader, follower = (a, b) if peak > 0 else (b, a)
    key = f"leadlag.next.{unit}" if abs(peak) == 1 else f"leadlag.later.{unit}"
    r = f"{round(corr.loc[peak], 2) + 0.0:.2f}"
    return msg(key, leader=Name(leader), follower=Name(follower), lag=abs(peak), r=r, same=same, way=way)


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
