"""A page's closes in its own currency and in the currency the reader chose, computed once per process and view
(issue 32), and what the page says about the USD/KRW rates behind them.

Converting every close with the rate known at its market's close (conversion.convert) was a fifth of a Compare
rerun in won over the Max range, and turning the bars into one column per asset another 2 ms of every rerun: the
same numbers on every rerun of a view, so they are shared reads (caching.shared) on the bars load_prices cached,
dropped with them when a fetch stores bars (ui.clear_caches).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from marketdash.analysis import conversion, timeseries
from marketdash.domain import catalog
from marketdash.domain.i18n import Name, msg
from marketdash.domain.records import SOURCE_RANK
from marketdash.web import caching, ui

FX_STALE_AFTER = 3  # sessions a rate may lag the prices it converts before the page warns and blanks the unknown


@dataclass(frozen=True)
class Converted:
    """Closes in a currency view, and from which date on they were converted with a stale USD/KRW (None: none)."""

    wide: pd.DataFrame
    stale_from: pd.Timestamp | None = None


@dataclass(frozen=True)
class _Rates:
    """A conversion and what the page says of its rates."""

    converted: Converted
    sources: tuple[str, ...]  # fx.source_* codes, the best first
    last_fx: pd.Timestamp
    behind: int  # sessions the last rate lags the last close
    own_unit: tuple[str, ...]  # assets whose unit has no currency (an index's points)


@caching.shared(ttl=600, max_entries=64)
def native_closes(ids: tuple[str, ...], start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
    """The range's closes, one column per asset (in `ids`' order), each in its own currency."""
    return timeseries.to_wide(ui.cached_prices(ids, start, end).bars, list(ids))


@caching.shared(ttl=600, max_entries=64)
def _rates(ids: tuple[str, ...], start: dt.date | None, end: dt.date | None, currency: str) -> _Rates | None:
    """native_closes converted with USD/KRW as known at each bar's close (None: no rate at all)."""
    wide = native_closes(ids, start, end)
    fx = ui.cached_fx(start - dt.timedelta(days=14) if start else None, end)
    if fx.empty:
        return None
    assets = [catalog.get(a) for a in wide.columns]
    converted = conversion.convert(wide, {a.id: a.currency for a in assets},
                                   {a.id: (a.timezone, a.close_time.strftime("%H:%M:%S")) for a in assets}, fx,
                                   currency)  # fmt: skip
    last_fx = fx["date"].max()
    behind = conversion.business_days_between(last_fx, wide.index.max())
    stale_from = conversion.business_day_after(last_fx, FX_STALE_AFTER) if behind > FX_STALE_AFTER else None
    sources = tuple(sorted(fx["source"].unique(), key=lambda s: SOURCE_RANK.get(s, 99)))
    own_unit = tuple(conversion.unconvertible({a.id: a.currency for a in assets}))
    return _Rates(Converted(converted, stale_from), sources, last_fx, behind, own_unit)


def in_currency(ids: list[str], start: dt.date | None, end: dt.date | None, currency: str) -> Converted:
    """The range's closes of `ids` (the assets page_data left) in `currency` ('native': each its own), converted
    with USD/KRW as known at each bar's close: the store's fixings, the ECB reference rates outside their span.
    Says where the rates come from, and warns when the last rate is older than the prices."""
    with ui.store_errors_in_plain_words():
        native = native_closes(tuple(ids), start, end)
        if currency == "native" or native.empty:
            return Converted(native)
        rates = _rates(tuple(ids), start, end, currency)
    t = ui.tr()
    if rates is None:
        st.warning(t("fx.none"))
        return Converted(native)
    sources = [msg(f"fx.source_{s}") for s in rates.sources]
    st.caption(t("fx.caption", sources=sources, fresh=msg("fresh.through", day=rates.last_fx.date())))
    if rates.own_unit:
        st.caption(t("fx.own_unit", names=[Name(a) for a in rates.own_unit]))
    if rates.converted.stale_from is not None:
        st.warning(t("fx.stale", day=rates.last_fx.date(), n=rates.behind), icon=":material/currency_exchange:")
    return rates.converted
