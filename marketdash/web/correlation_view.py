"""The Correlations page's numbers for one view, computed once per process and view (issue 32).

A view is the page's choices (assets, range, alignment, method, carried-over days, and the lead-lag and rolling
pairs): on the same stored bars it always gives the same numbers, so a rerun of it (another reader's, or this
reader's after a click elsewhere on the page) only draws. Weekly or monthly alignment resamples every pair's
closes (7 ms each): the page's analytics were 8 to 20 ms of a 35 to 50 ms rerun. The bars are the page's own
(`ui.cached_prices`, the cache `load_prices` filled); a fetch that stores bars clears both (ui.clear_caches).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

import pandas as pd

from marketdash.analysis import correlations, timeseries
from marketdash.domain import calendars, catalog
from marketdash.domain.i18n import Msg
from marketdash.web import caching, ui


@dataclass(frozen=True)
class View:
    """What the range's bars give the page: the assets it draws and how their returns are aligned."""

    ids: tuple[str, ...]
    start: dt.date | None
    end: dt.date | None
    mode: str
    method: str
    ffill: int


class Matrix(NamedTuple):
    returns: pd.DataFrame
    result: correlations.Correlation
    pairs: pd.DataFrame


@caching.shared(ttl=600, max_entries=256)
def _returns(view: View, columns: tuple[str, ...]) -> pd.DataFrame:
    """Returns of `columns` aligned as the view says (each pair on its own: a pair keeps the days both traded)."""
    wide = timeseries.to_wide(ui.cached_prices(view.ids, view.start, view.end).bars, list(view.ids))
    krx = None
    if view.mode == "kst" and len(wide):
        first, last = wide.index.min().date(), wide.index.max().date()
        krx = calendars.sessions("XKRX", first, last + dt.timedelta(days=14))
    own = {a: catalog.get(a).calendar for a in columns}
    return correlations.aligned_returns(wide[list(columns)], view.mode, calendars=own, krx_sessions=krx,
                                        ffill_limit=view.ffill)  # fmt: skip


@caching.shared(ttl=600, max_entries=64)
def matrix(view: View) -> Matrix:
    """Every asset's returns, their correlation matrix and the table of pairs."""
    returns = _returns(view, view.ids)
    return Matrix(returns, correlations.correlation(returns, view.method),
                  correlations.correlation_table(returns, view.method))  # fmt: skip


@caching.shared(ttl=600, max_entries=64)
def lead_lag(view: View, lead: str, lag: str, unit: str) -> tuple[pd.DataFrame, Msg]:
    """The lead-lag table of one pair and what it says."""
    lags = correlations.lead_lag(_returns(view, (lead, lag)), lead, lag, method=view.method)
    return lags, correlations.lead_lag_reading(lags, lead, lag, unit)


@dataclass(frozen=True)
class Rolling:
    frame: pd.DataFrame  # one column per asset compared with the base
    full: dict[str, float]  # each pair's correlation over the whole range
    longest: int  # the most returns any pair has (what a window longer than that cannot use)


@caching.shared(ttl=600, max_entries=64)
def rolling(view: View, base: str, targets: tuple[str, ...], window: int, exponential: bool) -> Rolling:
    paired = {b: _returns(view, (base, b)) for b in targets}
    frames = {b: correlations.rolling_correlation(paired[b], base, [b], window, exponential, view.method)[b]
              for b in targets}  # fmt: skip
    full = {b: correlations.pair_correlation(paired[b][base], paired[b][b], view.method) for b in targets}
    return Rolling(pd.DataFrame(frames), full, max(len(paired[b].dropna()) for b in targets))
