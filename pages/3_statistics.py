"""Risk and return per asset over the selected range: CAGR, volatility, Sharpe, drawdowns, best and worst day."""

import pandas as pd
import streamlit as st

from marketdash.analysis import risk
from marketdash.domain import catalog
from marketdash.web import charts, currency_view, dividends_view, fetching, notices, ui, widgets

t = ui.setup_page("statistics")
STATS_RETURNS = ["total_return_pct", "cagr_pct", "volatility_pct", "sharpe", "max_drawdown_pct", "first_date",
                 "last_date", "observations", "shorter_than_range"]  # fmt: skip
STATS_DAYS = ["drawdown_peak", "drawdown_trough", "drawdown_recovered", "best_day_pct", "best_day", "worst_day_pct",
              "worst_day", "periods_per_year"]  # fmt: skip

st.title(t("stats.title"))
ids = widgets.asset_picker()
start, end = widgets.range_picker()
c1, c2, c3 = st.columns([3, 2, 1])
currency = widgets.currency_picker(c1)
total = widgets.returns_picker(c2) == "total"
risk_free = widgets.number(c3, t("stats.risk_free"), "rf", 0.0, 0.0, 20.0, 0.25, "%.2f")
data, ids = fetching.page_data(ids, start, end)
native = currency_view.native_closes(tuple(ids), start, end)
wide = currency_view.in_currency(ids, start, end, currency).wide
if total:  # every figure of the total-return lines: dividends reinvested at the close before each ex-date
    wide = dividends_view.total_return(data, native, wide)[1]
periods = {a: catalog.get(a).periods_per_year for a in ids}
table = risk.statistics_table(wide, periods, risk_free / 100, pd.Timestamp(start) if start else None)
st.caption(t("stats.caption", rf=f"{risk_free:g}", unit=notices.unit_label(currency)))
if total:
    dividends_view.total_return_notes(data, ids)
notices.span_notes(table)
for columns in (STATS_RETURNS, STATS_DAYS):  # two tables that fit the page at 1440 px; the CSV holds every column
    notices.show_table(table[[c for c in columns if c in table]])
notices.download_csv(table, "statistics_total_return" if total else "statistics",
                     t("download.what", what=t("stats.table")))  # fmt: skip

drawdowns = wide.apply(lambda s: risk.drawdown(s.dropna())) * 100
fig = charts.line_chart(
    drawdowns,
    t,
    title=t("stats.drawdown_title"),
    yaxis_title=t("stats.drawdown_axis"),
    labels=notices.trace_labels(data),
    note=notices.sample_note(data),
    reference=0.0,
)
notices.chart(fig, drawdowns, "drawdowns_total_return" if total else "drawdowns", t("stats.drawdowns"))
