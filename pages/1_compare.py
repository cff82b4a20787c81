"""Compare: prices rebased to 100 (or % change) at the first common date of the range, in a chosen currency."""

import pandas as pd
import streamlit as st

from marketdash import analytics, catalog, charts, fetching, live_view, ui

ui.setup_page("Compare")

st.title("Compare · 수익률 비교")
ids = ui.asset_picker()
start, end = ui.range_picker(default="1Y", today=True)
if ui.is_today():
    live_view.today_view(ids)
    st.stop()
c1, c2, c3 = st.columns([2, 2, 1])
view = c1.segmented_control(
    "Show", ["Rebased to 100", "% change"], default="Rebased to 100", key="view", bind="query-params", required=True
)
currency = ui.currency_picker(c2)
log_y = c3.toggle("Log scale", value=False, key="log", bind="query-params", disabled=view == "% change")
data, ids = fetching.page_data(ids, start, end)
native = analytics.to_wide(data.bars, ids)
wide = fetching.in_currency(native, currency, start, end)
rebased, anchor = analytics.rebase(wide)
when = f"{anchor:%Y-%m-%d}" if anchor is not None else "each series' first date (no date common to all)"
unit = f" · prices {ui.unit_label(currency)}"
if currency != "native":
    unit += " (USD/KRW as known at each market's close)"
if view == "% change":
    values, axis, ref, title = rebased - 100.0, "% change", 0.0, f"% change since {when}{unit}"
else:
    values, axis, ref, title = rebased, "index (100 = start)", 100.0, f"Rebased to 100 on {when}{unit}"
fig = charts.line_chart(
    values,
    title=title,
    yaxis_title=axis,
    labels=ui.trace_labels(data),
    note=ui.sample_note(data),
    log_y=bool(log_y) and view != "% change",
    reference=ref,
)
ui.chart(fig, values, "compare_" + ("pct_change" if view == "% change" else "rebased"))

usd_assets = [a for a in ids if catalog.get(a).currency == "USD"]
if currency == "KRW" and usd_assets:
    st.subheader("USD assets seen from KRW")
    st.caption("KRW return = (1 + return in USD) × (1 + USD/KRW change) − 1, over the chart's range.")
    split = {a: analytics.currency_decomposition(native[a], wide[a]) for a in usd_assets}
    decomposition = pd.DataFrame.from_dict(split, orient="index").rename_axis("asset_id")
    ui.show_table(decomposition)
    ui.download_csv(decomposition, "compare_currency_decomposition", "Download decomposition (CSV)")

ui.table_on_demand(wide, f"compare_closes_{currency.lower()}", f"closing prices ({ui.unit_label(currency)})")
