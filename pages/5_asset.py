"""One asset's own bars, as a broker's screen shows them: candles, moving averages 5/20/60/120, volume, the 52-week
high and low, its dividends with their yields, and the stored bars as a table with their CSV. `/asset?id=samsung`."""

import streamlit as st

from marketdash.analysis import timeseries
from marketdash.domain import catalog
from marketdash.web import charts, dividends_view, fetching, notices, ui, widgets

t = ui.setup_page("asset")

options = list(dict.fromkeys([*widgets.asset_options("id"), *catalog.ASSETS]))
asset_id = widgets.choice(t("asset.pick"), options, catalog.COMPARED[0], "id", t.name, widget="select")
st.title(t("asset.title", name=t.full_name(asset_id)))
start, end = widgets.range_picker()
data, _ = fetching.page_data([asset_id], None, end)  # the averages and the 52 weeks reach before the range
bars = data.bars[data.bars["asset_id"] == asset_id].sort_values("date")
averages = timeseries.moving_averages(bars.set_index("date")["close"])
shown = bars[bars["date"] >= str(start)] if start else bars
if shown.empty:  # e.g. USD/KRW offline: the ECB history stops before the range
    st.info(t("asset.none_in_range", day=bars["date"].max().date()))
    st.stop()
high_low = timeseries.week52_range(bars)
c1, c2, c3 = st.columns(3)
last = shown.iloc[-1]
c1.metric(t("asset.last_close", day=t.month_day(last["date"].date())), t.price(float(last["close"]), asset_id))
c2.metric(t("asset.high52"), t.price(high_low["high"], asset_id), t.date(high_low["high_date"].date()),
          delta_color="off", delta_arrow="off")  # fmt: skip
c3.metric(t("asset.low52"), t.price(high_low["low"], asset_id), t.date(high_low["low_date"].date()),
          delta_color="off", delta_arrow="off")  # fmt: skip
fig = charts.candles(shown, averages.loc[shown["date"].min() :], t,
                     title=t("asset.chart_title", name=t.name(asset_id)), note=notices.sample_note(data),
                     unit=t.unit(asset_id))  # fmt: skip
csv = shown.set_index("date")[["open", "high", "low", "close", "volume"]].join(averages)
notices.chart(fig, csv, f"asset_{asset_id}", t("asset.csv"))
dividends_view.asset_dividends(data, asset_id, bars)
st.subheader(t("asset.bars"))
table = shown.set_index("date").drop(columns=["asset_id"]).sort_index(ascending=False)
notices.show_bars(table, asset_id)
notices.download_csv(table, f"bars_{asset_id}", t("download.what", what=t("asset.bars")))
