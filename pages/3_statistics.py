"""Risk and return per asset over the selected range: CAGR, volatility, Sharpe, drawdowns, best and worst day."""

import streamlit as st

from marketdash import analytics, catalog, charts, fetching, ui

ui.setup_page("Risk & return")

st.title("Risk & return · 위험과 수익")
ids = ui.asset_picker()
start, end = ui.range_picker(default="5Y")
c1, c2 = st.columns([3, 1])
currency = ui.currency_picker(c1)
risk_free = c2.number_input(
    "Risk-free rate (% a year)", min_value=0.0, max_value=20.0, value=0.0, step=0.25, key="rf", bind="query-params"
)
data, ids = fetching.page_data(ids, start, end)
wide = fetching.in_currency(analytics.to_wide(data.bars, ids), currency, start, end)
periods = {a: catalog.get(a).periods_per_year for a in ids}
table = analytics.statistics_table(wide, periods, risk_free / 100)
st.caption(
    "Each asset on its own trading days. Volatility: standard deviation of daily returns × √252 (√365 for Bitcoin, "
    f"which trades every day). Sharpe: (mean daily return × periods a year − {risk_free:g}%) ÷ volatility. "
    f"CAGR over calendar days. Prices {ui.unit_label(currency)}."
)
ui.show_table(table)
ui.download_csv(table, "statistics", "Download statistics (CSV)")

drawdowns = wide.apply(lambda s: analytics.drawdown(s.dropna())) * 100
fig = charts.line_chart(
    drawdowns,
    title="Drawdown from the running peak (%)",
    yaxis_title="% below peak",
    labels=ui.trace_labels(data),
    note=ui.sample_note(data),
    reference=0.0,
)
ui.chart(fig, drawdowns, "drawdowns")
