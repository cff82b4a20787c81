"""Seven-Asset Market Dashboard, `streamlit run app.py`: the Overview page, a card per asset and the normalized chart.

The other pages live in `pages/` (Streamlit's multipage folder), so a bookmarked `/compare?...` opens that page
directly, even as a fresh server's first request; every page draws the same sidebar through `ui.setup_page`.
"""

import streamlit as st

from marketdash import analytics, catalog, charts, fetching, live_view, notices, ui, widgets

t = ui.setup_page("overview")

st.title(t("overview.title"))
ids = list(catalog.COMPARED)
start, end = widgets.range_picker(default="1Y")
axis = widgets.axis_picker()
data, ids = fetching.page_data(ids, start, end)
live_view.now_strip(list(catalog.COMPARED))
st.markdown(f"**{t('overview.daily')}**")

table = analytics.overview(data.bars, ids)
for row_ids in (ids[:4], ids[4:]):
    for col, asset_id in zip(st.columns(4), row_ids, strict=False):
        row, fresh = table.loc[asset_id], data.freshness[asset_id]
        name = t.name(asset_id)
        col.metric(
            t("overview.card_sample", name=name) if asset_id in data.sample_assets else name,
            t.price(row["last_close"], asset_id),
            t("overview.day_change", pct=t.pct(row["day_change_pct"])),
            delta_color=t.delta_color(row["day_change_pct"]),
            help=t("overview.card_help", name=t.full_name(asset_id), unit=t(f"unit.{asset_id}"),
                   pct=t.pct(row["range_change_pct"], 1)),
        )  # fmt: skip
        caption = t("overview.card_caption", pct=t.pct(row["range_change_pct"], 1), fresh=fresh.note())
        col.caption(("⚠️ " if fresh.stale else "") + caption)
table["stale"] = [data.freshness[a].stale for a in table.index]

wide = analytics.to_wide(data.bars, ids)
rebased, anchor = analytics.rebase(wide)
based = t("overview.based_on", day=anchor.date()) if anchor is not None else t("overview.based_each")
fig = charts.line_chart(
    rebased,
    t,
    title=t("overview.chart_title", based=based),
    yaxis_title=t("chart.index_axis"),
    labels=notices.trace_labels(data),
    note=notices.sample_note(data),
    reference=100.0,
    log_y=charts.log_axis(axis, rebased),
    end_labels=notices.end_labels(rebased - 100.0),
)
notices.chart(fig, rebased, "overview_normalized", t("overview.chart_csv"))
st.subheader(t("overview.summary"))
notices.show_table(table)
notices.download_csv(table, "overview_summary", t("download.what", what=t("overview.summary")))
