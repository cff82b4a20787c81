"""What pages say beside their numbers: sample-data banners, how the markets' days line up, gaps in a range, and
the tables, charts and CSV buttons, all in the reader's language. CSV bytes never change with it."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from marketdash.analysis import risk
from marketdash.analysis.integrity import EMPTY
from marketdash.domain import catalog, clock
from marketdash.domain.csvfiles import csv_bytes
from marketdash.domain.i18n import Name
from marketdash.services.market import PriceData
from marketdash.web import tables
from marketdash.web.ui import get_service, tr


def trace_labels(data: PriceData) -> dict[str, str]:
    """Legend names: the asset's name, marked when the series is sample data or stale."""
    t, labels = tr(), {}
    for asset_id in data.origin:
        label = t.name(asset_id)
        if asset_id in data.sample_assets:
            label = t("legend.sample", name=label)
        fresh = data.freshness.get(asset_id)
        if fresh and fresh.stale:
            label = t("legend.stale", name=label, day=fresh.last_date)
        labels[asset_id] = label
    return labels


def end_labels(changes: pd.DataFrame) -> dict[str, str]:
    """Each line's end: its name and its change over the range (`changes` in %, one column per asset)."""
    t = tr()
    out = {}
    for asset_id in changes.columns:
        last = changes[asset_id].dropna()
        if len(last):
            out[asset_id] = f"{t.name(asset_id)} {t.pct(float(last.iloc[-1]), 1)}"
    return out


def sample_note(data: PriceData) -> str | None:
    """The line each chart carries when any of its series is sample data."""
    if not data.sample_assets:
        return None
    return tr()("chart.sample_note", names=[Name(a) for a in data.sample_assets])


QUIET_REASONS = {"live.no_keys", "live.offline", "sample.not_fetched", "sample.store_unusable"}


def data_notice(data: PriceData, keys_card: bool = False) -> None:
    """Sample data said once, in one line naming the assets; each failure that put an asset on sample data said
    once, in one sentence; and, where `keys_card` (the first screen), one card on what KIS keys unlock and how to
    add them. Reasons every sample asset shares (no keys, offline) are not repeated per asset."""
    t = tr()
    if data.store_problem:
        st.error(t.text(data.store_problem), icon=":material/database_off:")
    unavailable: dict[str, list[str]] = {}  # added symbols have no sample data: why there is nothing to show
    for asset_id in data.unavailable:
        unavailable.setdefault(t.text(data.notes[asset_id]), []).append(t.name(asset_id))
    for reason, names in unavailable.items():
        st.info(f"{t('list.joiner').join(names)}: {reason}", icon=":material/cloud_off:")
    if not data.sample_assets:
        return
    notes = {a: data.notes.get(a) for a in data.sample_assets}
    keys = {a: getattr(n, "key", "") for a, n in notes.items()}  # the catalog key of each asset's reason
    line = t("sample.line", names=[Name(a) for a in data.sample_assets])
    offline = " " + t("live.offline") if "live.offline" in keys.values() else ""
    st.warning(line + offline, icon=":material/science:")
    failures: dict[str, list[str]] = {}
    for asset_id, note in notes.items():
        if note is not None and keys[asset_id] not in QUIET_REASONS:
            failures.setdefault(t.text(note), []).append(t.name(asset_id))
    for reason, names in failures.items():
        st.caption(f":material/error: {t('list.joiner').join(names)}: {reason}")
    no_keys = [a for a, key in keys.items() if key == "live.no_keys"]
    if no_keys and keys_card:
        st.info(t("sample.keys_card", names=[Name(a) for a in no_keys]), icon=":material/key:")


def timing_notes(asset_ids: Sequence[str]) -> None:
    """How the selected markets' days line up, under any view that compares them."""
    t, notes = tr(), []
    if "btc" in asset_ids and len(asset_ids) > 1:
        notes.append(t("timing.btc"))
    if any(catalog.get(a).calendar in ("XNYS", "CMES") for a in asset_ids) and any(
        catalog.get(a).calendar == "XKRX" for a in asset_ids
    ):
        notes.append(t("timing.us"))
    if notes:
        st.caption(" ".join(notes))


def missing_notice(data: PriceData, asset_ids: Sequence[str]) -> list[str]:
    """Say which selected assets have no bars in the range; returns the ones that do."""
    present = set(data.bars["asset_id"].unique())
    missing = [a for a in asset_ids if a not in present and a not in data.unavailable]  # those are said already
    if missing:
        st.info(tr()("range.no_data_for", names=[Name(a) for a in missing]))
    return [a for a in asset_ids if a in present]


def unit_label(currency: str) -> str:
    return tr()(f"currency.unit_{currency}")


def span_notes(stats: pd.DataFrame) -> None:
    """Say which rows of a statistics table cover less than the range, and which are too short to annualise."""
    t = tr()
    if "shorter_than_range" not in stats:
        return
    short = stats[stats["shorter_than_range"]]
    if len(short):
        spans = [t("stats.span", name=t.name(a), first=r["first_date"].date(), last=r["last_date"].date(),
                   n=f"{int(r['observations']):,}") for a, r in short.iterrows()]  # fmt: skip
        st.warning(t("stats.shorter", spans=t("list.joiner").join(spans)), icon=":material/date_range:")
    few = stats[stats["observations"] < risk.MIN_ANNUALISED]
    if len(few):
        st.info(t("stats.too_few", names=[Name(a) for a in few.index], n=risk.MIN_ANNUALISED))


def integrity_report(report: pd.DataFrame, offline: bool = False) -> None:
    """The findings as a table of what and when, then each explanation in full, once, as a line below it naming
    the assets it is about (a long sentence in a table cell is cut off). `offline`: an asset with no data gets the
    advice that works offline (the update button fetches nothing there)."""
    t = tr()
    show_table(report.drop(columns=["dates", "detail"]))
    lines: dict[tuple[str, str], list[str]] = {}
    for asset_id, row in report.iterrows():
        problem = t(f"problem.{row['problem']}")
        if offline and row["problem"] == EMPTY:
            detail = t("integrity.empty_offline")
        else:
            detail = tables.message_text(row["detail"], row["detail_key"], t)
        lines.setdefault((problem, detail), []).append(t.name(str(asset_id)))
    for (problem, detail), names in lines.items():
        st.markdown(f"- **{t('list.joiner').join(names)}** · {problem}: {detail}")


def show_table(frame: pd.DataFrame, asset_id: str | None = None, currency: str | None = None) -> None:
    """A table in the reader's language: translated headers, names and codes, separators, the language's dates,
    prices in their unit, rises and falls in the market colours (tables.styled); a plain row number is no column
    of its own. `asset_id`: the one asset whose bars these are; `currency`: a portfolio's, for its amounts. A table
    of up to SHOW_ALL rows is as tall as its rows (no scroller hiding the last assets); an empty one is a line."""
    if frame.empty:
        st.caption(tr()("table.empty"))
        return
    height = "content" if len(frame) <= SHOW_ALL else "auto"
    st.dataframe(tables.styled(frame, tr(), asset_id, currency), width="stretch", height=height,
                 hide_index=isinstance(frame.index, pd.RangeIndex))  # fmt: skip


SHOW_ALL = 40  # rows a table shows whole


SCREEN_BARS = 250  # about a year of sessions on screen; every bar is in the CSV beside the table


def show_bars(bars: pd.DataFrame, asset_id: str) -> None:
    """One asset's bars, newest first: the latest SCREEN_BARS on screen (styling 3,000 rows took most of a rerun of
    the page), all of them in the CSV the caller offers beside it."""
    show_table(bars.iloc[:SCREEN_BARS], asset_id)
    if len(bars) > SCREEN_BARS:
        st.caption(tr()("table.recent", n=f"{SCREEN_BARS:,}", total=f"{len(bars):,}"))


def download_csv(frame: pd.DataFrame, name: str, label: str) -> None:
    """A CSV button; the bytes (the same in every language) are built only when it is clicked."""
    st.download_button(
        f"⬇ {label}",
        data=lambda: csv_bytes(frame),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"dl-{name}",
        on_click="ignore",
    )


def table_on_demand(frame: pd.DataFrame, name: str, what: str, currency: str | None = None) -> None:
    """A long table drawn only when asked for (it would be re-sent on every rerun), its CSV always offered."""
    t = tr()
    if st.toggle(t("table.show", what=what), value=False, key=f"show-{name}"):
        show_table(frame, currency=currency)
    download_csv(frame, name, t("download.what", what=what))


def chart(fig: go.Figure, data_for_csv: pd.DataFrame, name: str, what: str) -> None:
    """A chart and the CSV of exactly the numbers it draws."""
    st.plotly_chart(fig, key=f"chart-{name}")
    download_csv(data_for_csv, name, tr()("download.what", what=what))


def backup_name() -> str:
    """The backup's file name, dated by the reader's day in Korea (not the server's UTC one)."""
    return f"market-store-{clock.today_kst():%Y%m%d}.zip"


def store_backup_button() -> None:
    """The whole store as one ZIP, built only when clicked; `python -m collectors import --from` takes it back."""
    t = tr()
    st.download_button(
        f"⬇ {t('data.backup')}",
        data=lambda: get_service().backup_zip(),
        file_name=backup_name(),
        mime="application/zip",
        key="dl-store",
        on_click="ignore",
        help=t("data.backup_help"),
    )
