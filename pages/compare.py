"""Compare: prices rebased to 100 (or % change) at the first common date of the range."""

import streamlit as st

from marketdash import analytics, charts, ui

st.title("Compare · 수익률 비교")
ids = ui.asset_picker()
start, end = ui.range_picker(default="1Y")
c1, c2 = st.columns(2)
view = c1.segmented_control(
    "Show",
    ["Rebased to 100", "% change"],
    default="Rebased to 100",
    key="view",
    bind="query-params",
    required=True,
)
log_y = c2.toggle(
    "Log scale",
    value=False,
    key="log",
    bind="query-params",
    disabled=view == "% change",
)
if not ids:
    st.info("Choose at least one asset.")
    st.stop()

ui.refresh_live(ids)
data = ui.load_prices(tuple(ids), start, end)
ui.data_notice(data)
ui.timing_notes(ids)
ids = ui.missing_notice(data, ids)
if not ids:
    st.stop()
wide = analytics.to_wide(data.bars, ids)
rebased, anchor = analytics.rebase(wide)
when = f"{anchor:%Y-%m-%d}" if anchor is not None else "each series' first date (no date common to all)"
if view == "% change":
    values, axis, ref = rebased - 100.0, "% change", 0.0
    title = f"% change since {when}"
else:
    values, axis, ref = rebased, "index (100 = start)", 100.0
    title = f"Rebased to 100 on {when}"
fig = charts.line_chart(
    values,
    title=title,
    yaxis_title=axis,
    sample_assets=frozenset(data.sample_assets),
    note=ui.sample_note(data),
    log_y=bool(log_y) and view != "% change",
    reference=ref,
)
ui.chart(fig, values, "compare_" + ("pct_change" if view == "% change" else "rebased"))
with st.expander("Closing prices (native currency)"):
    ui.show_table(wide)
    ui.download_csv(wide, "compare_closes", "Download closes (CSV)")
