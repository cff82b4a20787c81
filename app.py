"""Seven-Asset Market Dashboard, `streamlit run app.py`: the Overview page, one card per asset (its one price) and
the normalized chart.

The other pages live in `pages/` (Streamlit's multipage folder), so a bookmarked `/compare?...` opens that page
directly, even as a fresh server's first request; every page draws the same sidebar through `ui.setup_page`.

`streamlit run app.py` serves this file as an `st.App` (found by its name, `app`): its start hook begins the work
that waits for no reader (marketdash/web/warmup.py). A reader's run executes the file as `__main__` and draws.
"""

import streamlit as st

if __name__ != "__main__":  # imported by `streamlit run` to be served: the server, warmed as it starts
    from marketdash.web.warmup import lifespan

    app = st.App(__file__, lifespan=lifespan)
else:
    from marketdash.analysis import timeseries
    from marketdash.web import charts, fetching, live_view, notices, ui, widgets

    t = ui.setup_page("overview")

    st.title(t("overview.title"))
    ids = widgets.default_assets()
    c1, c2 = st.columns([5, 2])
    with c1:
        start, end = widgets.range_picker()
    axis = widgets.axis_picker(c2)
    data, ids = fetching.page_data(ids, start, end, first_screen=True)
    wide = timeseries.to_wide(data.bars, ids)
    rebased, anchor = timeseries.rebase(wide)
    table = timeseries.overview(data.bars, ids, anchor)  # the range's change from the chart's own base day
    table["stale"] = [data.freshness[a].stale for a in table.index]
    live_view.asset_cards(widgets.default_assets(), table, data.sample_assets)

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
    notices.timing_notes(ids)
    st.subheader(t("overview.summary"))
    summary = table.drop(columns=["range_base"])
    notices.show_table(summary)
    notices.download_csv(summary, "overview_summary", t("download.what", what=t("overview.summary")))
