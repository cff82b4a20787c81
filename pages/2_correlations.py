"""Correlations, lead-lag and rolling correlation of returns, under an explicit calendar alignment."""

import streamlit as st

from marketdash.analysis import correlations
from marketdash.web import charts, correlation_view, fetching, notices, ui, widgets

t = ui.setup_page("correlations")

UNIT = {"common": "session", "kst": "session", "weekly": "week", "monthly": "month"}

st.title(t("corr.title"))
ids = widgets.asset_picker()
start, end = widgets.range_picker()
c1, c2, c3 = st.columns([2, 1, 1])
mode = widgets.choice(t("corr.alignment"), list(correlations.ALIGNMENTS), "common", "align", lambda m: t(f"align.{m}"),
                      where=c1)  # fmt: skip
method = widgets.choice(t("corr.method"), ["pearson", "spearman"], "pearson", "method", lambda m: t(f"method.{m}"),
                        where=c2)  # fmt: skip
ffill = int(widgets.number(c3, t("corr.ffill"), "ffill", 0, 0, 5, 1, "%.0f", help=t("corr.ffill_help")))
st.caption(t(f"align.{mode}_caption") + (" " + t("corr.ffill_on", n=ffill) if ffill else ""))
data, ids = fetching.page_data(ids, start, end, min_assets=2)
view = correlation_view.View(tuple(ids), start, end, mode, method, ffill)
returns, result, pairs = correlation_view.matrix(view)
if result.observations < 3:
    st.warning(t("corr.too_few", n=result.observations))
    st.stop()
sample = notices.sample_note(data)
unit = UNIT[mode]
st.metric(t("corr.observations"), f"{result.observations:,}", help=t(f"corr.observations_help.{unit}"))
if result.observations < correlations.MIN_OBSERVATIONS:
    st.warning(t("corr.greyed", n=correlations.MIN_OBSERVATIONS))
fig = charts.heatmap(
    result.matrix,
    t,
    title=t("corr.heatmap_title", method=t(f"method.{method}"), unit=t(f"unit_of_time.{unit}"),
            mode=t(f"align.{mode}")),
    observations=result.observations,
    min_observations=correlations.MIN_OBSERVATIONS,
    note=t("corr.heatmap_note", n=f"{result.observations:,}", unit=t(f"unit_of_time.{unit}")) + (
        f" {sample}" if sample else ""),
)  # fmt: skip
notices.chart(fig, result.matrix.rename_axis("asset_id"), "correlation_matrix", t("corr.matrix"))
# In the page's full width, not an expander: the expander's padding left the table 9 px narrower than its columns at
# 1440 px, and its last column scrolled out of sight.
st.subheader(t("corr.pairs_title"))
notices.show_table(pairs)
notices.download_csv(pairs, "correlation_pairs", t("download.what", what=t("corr.pairs")))
notices.table_on_demand(returns, "correlation_returns", t("corr.returns_used"))

st.subheader(t("corr.leadlag"))
c1, c2 = st.columns(2)
lead = widgets.choice(t("corr.a"), ids, "soxl", "lead", t.name, widget="select", where=c1)
others = [a for a in ids if a != lead]
lag = widgets.choice(t("corr.b"), others, "skhynix", "lag", t.name, widget="select", where=c2)
lags, reading = correlation_view.lead_lag(view, lead, lag, unit)
fig = charts.lag_bars(lags, t, title=t("corr.lag_title", a=t.name(lead), b=t.name(lag)), unit=unit, note=sample)
notices.chart(fig, lags, "lead_lag", t("corr.leadlag"))
st.info(t.text(reading))

st.subheader(t("corr.rolling"))
c1, c2, c3, c4 = st.columns([2, 2, 2, 1])
base = widgets.choice(t("corr.asset"), ids, "soxl", "roll", t.name, widget="select", where=c1)
versus = widgets.choice(
    t("corr.against"), ["all", *[a for a in ids if a != base]], "skhynix" if base != "skhynix" else "all", "vs",
    lambda a: t("corr.all_others") if a == "all" else t.name(a), widget="select", where=c2,
)  # fmt: skip
window = c3.segmented_control(t(f"corr.window.{unit}"), [20, 60, 120], default=60, key="window", bind="query-params",
                              required=True)  # fmt: skip
exponential = c4.toggle(t("corr.exponential"), value=False, key="ewm", bind="query-params",
                        help=t("corr.exponential_help"))  # fmt: skip
targets = tuple(a for a in ids if a != base) if versus == "all" else (versus,)
rolled = correlation_view.rolling(view, base, targets, int(window), exponential)
rolling, full = rolled.frame, rolled.full
if exponential and method == "spearman":
    st.caption(t("corr.ew_is_pearson"))
if not rolling.notna().any().any():  # the window is longer than the returns the range holds
    st.info(t("corr.rolling_too_short", window=window, n=rolled.longest, unit=t(f"unit_of_time.{unit}")))
    st.stop()
kind = "corr.rolling_ew_title" if exponential else "corr.rolling_title"
fig = charts.line_chart(
    rolling,
    t,
    title=t(kind, window=window, unit=t(f"unit_count.{unit}"), name=t.name(base)),
    yaxis_title=t("chart.correlation"),
    labels=notices.trace_labels(data),
    note=t("corr.rolling_note") + (f" {sample}" if sample else ""),
    hover_value="%{y:.3f}",
)
for b, value in full.items():
    fig.add_hline(y=value, line={"dash": "dot", "width": 1, "color": charts.color(b, list(rolling.columns))})
notices.chart(fig, rolling, "rolling_correlation", t("corr.rolling"))
