"""Correlations of log returns between consecutive dates on which every selected asset traded."""

import streamlit as st

from marketdash import analytics, charts, ui

st.title("Correlations · 상관관계")
ids = ui.asset_picker()
start, end = ui.range_picker(default="3Y")
c1, c2 = st.columns(2)
method = c1.segmented_control(
    "Method",
    ["pearson", "spearman"],
    default="pearson",
    key="method",
    bind="query-params",
    required=True,
    format_func=str.title,
)
freq = c2.segmented_control(
    "Returns",
    list(analytics.FREQUENCIES),
    default="daily",
    key="freq",
    bind="query-params",
    required=True,
    format_func=str.title,
)
st.caption(
    "Daily: returns between consecutive dates on which every selected asset traded (no filled holidays). "
    "Weekly/monthly: each asset's last close of the week (Fri) or month."
)
if len(ids) < 2:
    st.info("Choose at least two assets.")
    st.stop()

ui.refresh_live(ids)
data = ui.load_prices(tuple(ids), start, end)
ui.data_notice(data)
ui.timing_notes(ids)
ids = ui.missing_notice(data, ids)
returns = analytics.common_returns(analytics.to_wide(data.bars, ids), freq)
result = analytics.correlation(returns, method)
if result.observations < 3:
    st.warning(f"Only {result.observations} common {freq} returns in this range: choose a longer range.")
    st.stop()
note = f"{result.observations} {freq} returns on common dates"
sample = ui.sample_note(data)
fig = charts.heatmap(
    result.matrix,
    title=f"{method.title()} correlation of {freq} log returns",
    note=f"{note}. {sample or ''}",
)
st.metric("Observations", result.observations)
ui.chart(fig, result.matrix.rename_axis("asset_id"), "correlation_matrix")
with st.expander("Returns used"):
    ui.show_table(returns)
    ui.download_csv(returns, "correlation_returns", "Download returns (CSV)")
