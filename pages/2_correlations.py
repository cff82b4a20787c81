"""Correlations, lead-lag and rolling correlation of returns, under an explicit calendar alignment."""

import datetime as dt

import pandas as pd
import streamlit as st

from marketdash import analytics, calendars, catalog, charts, fetching, ui

ui.setup_page("Correlations")

MODES = {"common": "Common dates", "kst": "KST session alignment", "weekly": "Weekly", "monthly": "Monthly"}
UNIT = {"common": "session", "kst": "session", "weekly": "week", "monthly": "month"}

st.title("Correlations · 상관관계")
ids = ui.asset_picker()
start, end = ui.range_picker(default="3Y")
c1, c2, c3 = st.columns([2, 1, 1])
mode = ui.choice("Alignment", list(MODES), "common", "align", MODES.get, where=c1)
method = ui.choice("Method", ["pearson", "spearman"], "pearson", "method", str.title, where=c2)
ffill = c3.number_input(
    "Forward-fill up to", min_value=0, max_value=5, value=0, step=1, key="ffill", bind="query-params",
    help="0 = never fill (recommended). Otherwise a missing close is carried over at most this many rows, "
    "and each filled day counts as a zero return for that asset.",
)  # fmt: skip
st.caption(analytics.ALIGNMENTS[mode] + (f" Forward-fill is on: up to {ffill} rows." if ffill else ""))
data, ids = fetching.page_data(ids, start, end, min_assets=2)
wide = analytics.to_wide(data.bars, ids)
span = (wide.index.min().date(), wide.index.max().date()) if len(wide) else None
krx = calendars.sessions("XKRX", span[0], span[1] + dt.timedelta(days=14)) if span and mode == "kst" else None
asset_calendars = {a: catalog.get(a).calendar for a in ids}


def returns_of(columns: list[str]) -> pd.DataFrame:
    return analytics.aligned_returns(
        wide[columns], mode, calendars=asset_calendars, krx_sessions=krx, ffill_limit=int(ffill)
    )


returns = returns_of(ids)
result = analytics.correlation(returns, method)
if result.observations < 3:
    st.warning(f"Only {result.observations} common returns in this range: choose a longer range or fewer assets.")
    st.stop()
sample = ui.sample_note(data)
unit = UNIT[mode]
st.metric("Observations", result.observations, help=f"{unit.title()} returns on which every selected asset traded")
if result.observations < analytics.MIN_OBSERVATIONS:
    st.warning(f"Fewer than {analytics.MIN_OBSERVATIONS} observations: the cells are greyed out, not precise.")
fig = charts.heatmap(
    result.matrix,
    title=f"{method.title()} correlation of {unit} log returns ({MODES[mode].lower()})",
    observations=result.observations,
    min_observations=analytics.MIN_OBSERVATIONS,
    note=f"{result.observations} {unit} returns; hover for the 95% interval. {sample or ''}",
)
ui.chart(fig, result.matrix.rename_axis("asset_id"), "correlation_matrix")
pairs = analytics.correlation_table(returns, method)
with st.expander("Every pair with its 95% confidence interval"):
    ui.show_table(pairs)
    ui.download_csv(pairs, "correlation_pairs", "Download pairs (CSV)")
ui.table_on_demand(returns, "correlation_returns", "returns used")

st.subheader("Lead-lag")
label = {a: catalog.get(a).label for a in ids}
c1, c2 = st.columns(2)
lead = ui.choice("A", ids, "soxl", "lead", label.get, widget="select", where=c1)
others = [a for a in ids if a != lead]
lag = ui.choice("B", others, "skhynix", "lag", label.get, widget="select", where=c2)
lags = analytics.lead_lag(returns_of([lead, lag]), lead, lag, method=method)
reading = analytics.lead_lag_reading(lags, catalog.get(lead).short, catalog.get(lag).short, unit)
fig = charts.lag_bars(
    lags, title=f"{catalog.get(lead).short} vs {catalog.get(lag).short}: correlation by lag", note=sample
)
ui.chart(fig, lags, "lead_lag")
st.info(reading)

st.subheader("Rolling correlation")
c1, c2, c3, c4 = st.columns([2, 2, 2, 1])
base = ui.choice("Asset", ids, "soxl", "roll", label.get, widget="select", where=c1)
versus = ui.choice(
    "Against", ["all", *[a for a in ids if a != base]], "skhynix" if base != "skhynix" else "all", "vs",
    lambda a: "all others" if a == "all" else label[a], widget="select", where=c2,
)  # fmt: skip
window = c3.segmented_control(
    f"Window ({unit}s)", [20, 60, 120], default=60, key="window", bind="query-params", required=True
)
exponential = c4.toggle("Exponential", value=False, key="ewm", bind="query-params", help="span = window")
targets = [a for a in ids if a != base] if versus == "all" else [versus]
frames = {
    b: analytics.rolling_correlation(returns_of([base, b]), base, [b], int(window), exponential)[b] for b in targets
}
rolling = pd.DataFrame(frames)
full = {b: returns_of([base, b]).corr(method=method).loc[base, b] for b in targets}
fig = charts.line_chart(
    rolling,
    title=f"{'Exponentially weighted' if exponential else 'Rolling'} {window}-{unit} correlation with "
    f"{catalog.get(base).short}",
    yaxis_title="correlation",
    labels=ui.trace_labels(data),
    note="Dotted lines: each pair's full-period correlation. " + (sample or ""),
)
for b, value in full.items():
    fig.add_hline(y=value, line={"dash": "dot", "width": 1, "color": charts.color(b)})
ui.chart(fig, rolling, "rolling_correlation")
