"""Data: what the local store holds per asset, its last fetch, the stored bars, and an update button."""

import streamlit as st

from marketdash.analysis.integrity import EMPTY
from marketdash.domain import catalog, config
from marketdash.domain.i18n import Name
from marketdash.web import access, charts, dividends_view, fetching, notices, ui, widgets

t = ui.setup_page("data")

st.title(t("data.title"))
svc = ui.service()
settings = svc.settings
live = svc.sources.collectors()

owner = access.can_write()  # viewers read: no update, backup or list download (issue 31)
if owner:  # where the owner's files are and how to add keys are the owner's business
    st.caption(t("data.where", store=str(settings.market_db), sample=settings.sample_db.name))
problem = ui.store_problem()
if problem:
    st.error(t.text(problem), icon=":material/database_off:")
if settings.offline:
    st.info(t("data.offline"))
elif not settings.has_kis and owner:
    st.info(t("data.no_keys"))

if not owner:
    st.caption(f":material/visibility: {t('auth.read_only')}")
elif open_files := config.too_open(config.secret_files(settings)):
    st.warning(t("auth.exposed", files=[f"{path} ({mode:04o})" for path, mode in open_files]), icon=":material/key:")
if owner and st.button(t("data.update_now"), type="primary", disabled=not live or bool(problem),
                       help=t("data.update_help")):  # fmt: skip
    fetching.refresh_live(list(dict.fromkeys([*catalog.ASSETS, *widgets.default_assets()])), force=True)

if not problem:
    st.subheader(t("data.coverage"))
    coverage = ui.load_coverage().set_index("asset_id")
    notices.show_table(coverage)
    notices.download_csv(coverage, "store_coverage", t("download.what", what=t("data.coverage")))
    if owner:
        notices.store_backup_button()
    dividends_view.data_section(list(dict.fromkeys([*catalog.ASSETS, *widgets.default_assets()])))

    st.subheader(t("data.snapshots"))
    st.caption(t("data.snapshots_caption"))
    snapshots = ui.load_snapshot_coverage().set_index("asset_id")
    notices.show_table(snapshots)
    notices.download_csv(snapshots, "snapshot_coverage", t("download.what", what=t("data.snapshot_coverage")))
    notices.download_csv(ui.load_recent_snapshots(), "snapshots_7d", t("data.snapshots_7d"))

    st.subheader(t("data.lists"))
    st.caption(t("data.lists_caption"))
    lists = ui.load_symbol_lists()
    notices.show_table(lists)
    if owner and st.button(t("data.lists_refresh"), disabled=settings.offline):
        with st.spinner(t("sym.downloading")):
            ui.service().universe.refresh(force=True)
        ui.clear_caches()
        st.rerun()

    st.subheader(t("data.integrity"))
    if st.toggle(t("data.check"), key="check", help=t("data.check_help")):
        report = ui.load_integrity().set_index("asset_id")
        if report.empty:
            st.success(t("data.check_ok"))
        elif (report["problem"] == EMPTY).all():  # nothing fetched yet: one sentence, the advice that applies
            names = [Name(a) for a in report.index]
            st.info(t("data.check_empty_offline" if settings.offline else "data.check_empty", names=names))
        else:
            st.warning(t("data.check_found", n=len(report)))
            notices.integrity_report(report, settings.offline)
            if not settings.offline:
                st.caption(t("data.check_cli", ids=",".join(dict.fromkeys(report.index))))
            notices.download_csv(report.drop(columns=["detail_key"]), "store_integrity",
                                 t("download.what", what=t("data.integrity_report")))  # fmt: skip

st.subheader(t("data.bars"))
options = list(dict.fromkeys([*widgets.asset_options("asset"), *catalog.ASSETS]))
asset_id = widgets.choice(t("data.asset"), options, catalog.COMPARED[0], "asset", t.name, widget="select")
start, end = widgets.range_picker()
data = ui.load_prices((asset_id,), start, end)
notices.data_notice(data)
bars = data.bars.set_index("date").drop(columns=["asset_id"]).sort_index(ascending=False)
if bars.empty:
    st.info(t("data.no_bars"))
else:
    origin = t("data.from_sample") if data.sample_assets else t("data.from_store")
    st.caption(t("data.bars_caption", n=f"{len(bars):,}", origin=origin))
    closes = bars[["close"]].rename(columns={"close": asset_id}).sort_index()
    fig = charts.line_chart(
        closes,
        t,
        title=t("data.close_title", name=t.name(asset_id), unit=t.unit(asset_id)),
        yaxis_title=t.unit(asset_id),
        labels=notices.trace_labels(data),
        note=notices.sample_note(data),
    )
    notices.chart(fig, closes, f"close_{asset_id}", t("data.close_csv"))
    notices.show_bars(bars, asset_id)
    notices.download_csv(bars, f"bars_{asset_id}", t("download.what", what=t("data.bars")))
