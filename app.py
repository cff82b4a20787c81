"""Seven-Asset Market Dashboard, `streamlit run app.py`: the Overview page, a card per asset and the normalized chart.

The other pages live in `pages/` (Streamlit's multipage folder), so a bookmarked `/compare?...` opens that page
directly, even as a fresh server's first request; every page draws the same sidebar through `ui.setup_page`.
"""

import streamlit as st

from marketdash import analytics, catalog, charts, fetching, live_view, ui

ui.setup_page("Overview")

st.title("Seven-asset overview · 7개 자산 한눈에 보기")
ids = list(catalog.COMPARED)
start, end = ui.range_picker(default="1Y")
data, ids = fetching.page_data(ids, start, end)
live_view.now_strip(list(catalog.COMPARED))
st.markdown("**Daily closes**")

table = analytics.overview(data.bars, ids)
for row_ids in (ids[:4], ids[4:]):
    for col, asset_id in zip(st.columns(4), row_ids, strict=False):
        asset, row, fresh = catalog.get(asset_id), table.loc[asset_id], data.freshness[asset_id]
        col.metric(
            asset.label + (" · sample" if asset_id in data.sample_assets else ""),
            ui.format_price(row["last_close"], asset),
            f"{row['day_change_pct']:+.2f}% day",
            help=f"{asset.name_en} ({asset.unit}), {row['range_change_pct']:+.1f}% over the range.",
        )
        col.caption(("⚠️ " if fresh.stale else "") + f"Range {row['range_change_pct']:+.1f}% · {fresh.note()}")
table["stale"] = [data.freshness[a].stale for a in table.index]

wide = analytics.to_wide(data.bars, ids)
rebased, anchor = analytics.rebase(wide)
based = (
    f"100 = close on {anchor:%Y-%m-%d}, the first date all traded" if anchor is not None else "100 = each first close"
)
fig = charts.line_chart(
    rebased,
    title=f"Normalized prices ({based})",
    yaxis_title="index",
    labels=ui.trace_labels(data),
    note=ui.sample_note(data),
    reference=100.0,
)
ui.chart(fig, rebased, "overview_normalized")
st.subheader("Summary")
ui.show_table(table)
ui.download_csv(table, "overview_summary", "Download summary (CSV)")
