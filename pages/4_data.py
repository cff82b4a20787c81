"""Data: what the local store holds per asset, its last fetch, the stored bars, and an update button."""

import streamlit as st

from marketdash import catalog, charts, fetching, ui

ui.setup_page("Data")

st.title("Data store · 데이터 저장소")
svc = ui.service()
settings = svc.settings
live = svc.collectors()

st.caption(f"Store: `{settings.market_db}` · sample data (never mixed into it): `{settings.sample_db.name}`")
problem = ui.store_problem()
if problem:
    st.error(problem, icon=":material/database_off:")
if settings.offline:
    st.info("Offline mode (DASHBOARD_OFFLINE=1): nothing is fetched; pages show what the store holds.")
elif not settings.has_kis:
    st.info(
        "**No KIS keys configured.** KOSPI 200, Samsung, SK hynix, SOXL, gold and silver show sample data. "
        "To use real prices, set `KIS_APP_KEY` and `KIS_APP_SECRET` as environment variables, or put them in "
        "`.streamlit/secrets.toml` under `[kis]` as `app_key` / `app_secret` (see `.streamlit/secrets.toml.example`), "
        "then reload. Bitcoin needs no key (Upbit); USD/KRW falls back to the ECB history shipped with the app."
    )

if st.button(
    "Update now",
    type="primary",
    disabled=not live or bool(problem),
    help="Fetch the missing days of every live series",
):
    fetching.refresh_live(list(catalog.ASSETS), force=True)

if not problem:
    st.subheader("Coverage")
    coverage = ui.load_coverage()
    ui.show_table(coverage.set_index("asset_id"))
    ui.download_csv(coverage.set_index("asset_id"), "store_coverage", "Download coverage (CSV)")
    ui.store_backup_button()

    st.subheader("Live quotes (snapshots)")
    st.caption(
        "Every live quote fetched is kept here, never among the daily bars; times in UTC. A failed poll keeps the "
        "last quote and is listed with its reason."
    )
    snapshots = ui.load_snapshot_coverage()
    ui.show_table(snapshots.set_index("asset_id"))
    ui.download_csv(snapshots.set_index("asset_id"), "snapshot_coverage", "Download snapshot coverage (CSV)")
    ui.download_csv(ui.load_recent_snapshots(), "snapshots_7d", "Download the last 7 days of quotes (CSV)")

    st.subheader("Integrity")
    if st.toggle("Check the store", key="check", help="Missing sessions, impossible prices, days from a worse source"):
        report = ui.load_integrity()
        if report.empty:
            st.success("No problems found: no missing sessions, bad prices or days a better source covers.")
        else:
            st.warning(f"{len(report)} problems found; each row lists its dates.")
            ui.show_table(report.set_index("asset_id"))
            ui.download_csv(report.set_index("asset_id"), "store_integrity", "Download integrity report (CSV)")

st.subheader("Stored bars")
asset_id = st.selectbox(
    "Asset",
    list(catalog.ASSETS),
    format_func=lambda a: catalog.get(a).label,
    key="asset",
    bind="query-params",
)
start, end = ui.range_picker(default="3M")
data = ui.load_prices((asset_id,), start, end)
ui.data_notice(data)
bars = data.bars.set_index("date").drop(columns=["asset_id"]).sort_index(ascending=False)
if bars.empty:
    st.info("No bars in this range.")
else:
    origin = "sample data" if data.sample_assets else "your store"
    st.caption(f"{len(bars)} bars from {origin}; the `source` column says where each day came from.")
    closes = bars[["close"]].rename(columns={"close": asset_id}).sort_index()
    fig = charts.line_chart(
        closes,
        title=f"{catalog.get(asset_id).label}: close ({catalog.get(asset_id).unit})",
        yaxis_title=catalog.get(asset_id).currency,
        labels=ui.trace_labels(data),
        note=ui.sample_note(data),
    )
    ui.chart(fig, closes, f"close_{asset_id}")
    ui.show_table(bars)
    ui.download_csv(bars, f"bars_{asset_id}", "Download bars (CSV)")
