"""Dividends on the pages: the total-return lines of Compare and Risk (가격 / 총수익, `?ret=`), what they say
under the chart, and the asset page's list of dividends with their yields. The numbers come from
analysis.dividends; the dividends from PriceData (the store's, or the sample's): a page view asks no source."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from marketdash.analysis import dividends
from marketdash.domain import calendars, catalog
from marketdash.domain.i18n import Name
from marketdash.services.market import PriceData
from marketdash.web import notices
from marketdash.web.ui import service, store_errors_in_plain_words, tr


def resolved(data: PriceData) -> pd.DataFrame:
    """The usable dividends of the loaded assets, KRX ex-dates from the loaded bars (the calendar beyond them)."""
    return dividends.resolve(data.dividends, data.bars, calendars.all_sessions)


def total_return(data: PriceData, native: pd.DataFrame, shown: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The closes in the asset's own currency and in the view's currency as total-return lines: each dividend,
    gross, reinvested at the close before its ex-date (the factor taken in the currency it is paid in)."""
    paid = resolved(data)
    return dividends.total_return_frame(native, paid), dividends.total_return_frame(native, paid, shown)


def total_return_notes(data: PriceData, asset_ids: Sequence[str]) -> None:
    """What a total-return view is, said under its chart: the rule; price indices (KOSPI 200 is not its TR index);
    assets that pay nothing; payers with no dividend records yet (their line is the price line); sample ones."""
    t = tr()
    lines = [t("div.total_rule")]
    assets = [catalog.get(a) for a in asset_ids]
    indices = [a.id for a in assets if not a.pays_dividends and a.unit == "index points"]
    if indices:
        lines.append(t("div.price_index", names=[Name(a) for a in indices]))
    others = [a.id for a in assets if not a.pays_dividends and a.id not in indices]
    if others:
        lines.append(t("div.pays_none", names=[Name(a) for a in others]))
    held = set(data.dividends["asset_id"])
    unknown = [a.id for a in assets if a.pays_dividends and a.id not in held and a.id not in data.unavailable]
    if unknown:
        lines.append(t("div.no_records", names=[Name(a) for a in unknown]))
    sample = sorted(set(data.dividends.loc[data.dividends["source"] == "sample", "asset_id"]) & set(asset_ids))
    if sample:
        lines.append(t("div.sample", names=[Name(a) for a in sample]))
    st.caption(" ".join(lines))


def asset_dividends(data: PriceData, asset_id: str, bars: pd.DataFrame) -> None:
    """One paying asset's dividends, newest first: record, ex and pay dates, the amount, the close before the
    ex-date and the yield at it, with the trailing-12-month yield and the CSV. Nothing for an asset that pays none."""
    if not catalog.get(asset_id).pays_dividends:
        return
    t = tr()
    st.subheader(t("div.title"))
    closes = bars.set_index("date")["close"].rename(asset_id)
    mine = resolved(data)
    table = dividends.history(mine[mine["asset_id"] == asset_id], closes)
    stored = data.dividends[data.dividends["asset_id"] == asset_id]
    if table.empty:
        st.caption(t("div.none_stored" if stored.empty else "div.none_fixed"))
        return
    ttm = dividends.trailing_yield(mine[mine["asset_id"] == asset_id], closes)
    last = closes.dropna().index.max()
    st.metric(t("div.ttm", day=t.date(last.date())), t.number(ttm) + "%" if pd.notna(ttm) else "—")
    notes = [t("div.list_rule")]
    unfixed = int((~stored["fixed"]).sum())
    if unfixed:
        notes.append(t("div.unfixed", n=unfixed))
    if (stored["source"] == "sample").any():
        notes.append(t("div.sample", names=[Name(asset_id)]))
    st.caption(" ".join(notes))
    shown = table.rename(columns={"amount": "dividend"}).set_index("record_date")
    notices.show_table(shown.drop(columns=["currency"]), asset_id)
    notices.download_csv(shown, f"dividends_{asset_id}", t("download.what", what=t("div.title")))


def data_section(asset_ids: Sequence[str]) -> None:
    """The Data page's dividends: per paying asset what is stored and the last fetch, all of them as CSV, and,
    with a paper key, once, that KIS serves them to real accounts only (prices go on without them)."""
    t, svc = tr(), service()
    st.subheader(t("div.title"))
    refused = svc.dividends.refused()
    if refused:
        st.info(t.text(refused), icon=":material/info:")
    else:
        st.caption(t("div.data_caption"))
    with store_errors_in_plain_words():
        coverage, stored = svc.dividends.coverage(asset_ids).set_index("asset_id"), svc.store.read_dividends()
    notices.show_table(coverage)
    notices.download_csv(stored, "dividends", t("download.what", what=t("div.title")))
