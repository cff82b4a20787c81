"""Compare: prices rebased to 100 (or % change) at the first common date of the range, in a chosen currency."""

import pandas as pd
import streamlit as st

from marketdash.analysis import conversion, timeseries
from marketdash.domain import catalog
from marketdash.web import charts, currency_view, dividends_view, fetching, live_view, notices, ui, widgets

t = ui.setup_page("compare")

st.title(t("compare.title"))
ids = widgets.asset_picker()
start, end = widgets.range_picker(today=True)
if widgets.is_today():
    live_view.today_view(ids)
    st.stop()
c1, c2, c3, c4 = st.columns([2, 3, 3, 2])
view = widgets.choice(t("compare.show"), ["rebased", "pct"], "rebased", "view", lambda v: t(f"compare.view_{v}"),
                      where=c1)  # fmt: skip
currency = widgets.currency_picker(c2)
axis = widgets.axis_picker(c3, disabled=view == "pct")
total = widgets.returns_picker(c4) == "total"
data, ids = fetching.page_data(ids, start, end)
native = currency_view.native_closes(tuple(ids), start, end)
converted = currency_view.in_currency(ids, start, end, currency)
wide = converted.wide
if total:  # dividends reinvested: the lines, the currency split and their CSV (the closes table stays prices)
    native, wide = dividends_view.total_return(data, native, wide)
rebased, anchor = timeseries.rebase(wide)
when = t.date(anchor.date()) if anchor is not None else t("compare.each_first")
unit = t("compare.prices_in", unit=notices.unit_label(currency))
if currency != "native":
    unit += t("compare.fx_at_close")
if total:
    unit += t("div.total_in_title")
if view == "pct":
    values, y_title, ref = rebased - 100.0, t("compare.pct_axis"), 0.0
    title = t("compare.pct_title", when=when, unit=unit)
else:
    values, y_title, ref = rebased, t("compare.index_axis"), 100.0
    title = t("compare.rebased_title", when=when, unit=unit)
log_y = view != "pct" and charts.log_axis(axis, values)
fig = charts.line_chart(
    values,
    t,
    title=title,
    yaxis_title=y_title,
    labels=notices.trace_labels(data),
    note=notices.sample_note(data),
    log_y=log_y,
    reference=ref,
    end_labels=notices.end_labels(rebased - 100.0),
)
name = "compare_" + ("pct_change" if view == "pct" else "rebased") + ("_total_return" if total else "")
notices.chart(fig, values, name, t(f"compare.csv_{view}"))
if total:
    dividends_view.total_return_notes(data, ids)

usd_assets = [a for a in ids if catalog.get(a).currency == "USD"]
if currency == "KRW" and usd_assets:
    st.subheader(t("compare.usd_from_krw"))
    st.caption(t("compare.decomposition_caption"))
    split = {a: conversion.currency_decomposition(native[a], wide[a], converted.stale_from) for a in usd_assets}
    decomposition = pd.DataFrame.from_dict(split, orient="index").rename_axis("asset_id")
    notices.show_table(decomposition)
    notices.download_csv(decomposition, "compare_currency_decomposition",
                         t("download.what", what=t("compare.decomposition")))  # fmt: skip

notices.table_on_demand(converted.wide, f"compare_closes_{currency.lower()}",
                        t("compare.closes", unit=notices.unit_label(currency)))  # fmt: skip
