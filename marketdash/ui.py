"""Streamlit pieces every page shares: the cached service and loaders, URL-bound pickers, notices, CSV buttons.

Pages only choose options and draw; everything they show comes through here from the service.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from marketdash import catalog
from marketdash.config import ConfigError, load_settings
from marketdash.exports import csv_bytes
from marketdash.service import MarketService, PriceData
from marketdash.store import StoreBusyError, StoreError

RANGES = ("1M", "3M", "6M", "YTD", "1Y", "3Y", "5Y", "Max", "Custom")
TODAY = "1D"  # Compare only: today's live quotes, not daily bars
_RANGE_DAYS = {
    "1M": 31,
    "3M": 92,
    "6M": 183,
    "1Y": 366,
    "3Y": 3 * 365 + 1,
    "5Y": 5 * 365 + 1,
}


PAGES = (
    ("app.py", "Overview", ":material/dashboard:"),
    ("pages/1_compare.py", "Compare", ":material/show_chart:"),
    ("pages/2_correlations.py", "Correlations", ":material/grid_on:"),
    ("pages/3_statistics.py", "Risk & return", ":material/query_stats:"),
    ("pages/4_data.py", "Data", ":material/database:"),
)


def setup_page(title: str) -> None:
    """Every page's first call: wide layout, browser title, and the sidebar's named links to every page.

    Streamlit's own file-name navigation is hidden (.streamlit/config.toml): it would label the first page "app".
    """
    st.set_page_config(page_title=f"{title} · Seven-Asset Market Dashboard", page_icon=":material/monitoring:",
                       layout="wide")  # fmt: skip
    with st.sidebar:
        st.markdown("**Seven-Asset Market Dashboard**")
        for path, label, icon in PAGES:
            st.page_link(path, label=label, icon=icon)


@st.cache_resource(show_spinner=False)
def get_service() -> MarketService:
    return MarketService(load_settings())


def service() -> MarketService:
    """The process-wide service; a bad setting stops the page with a plain message instead of a traceback."""
    try:
        return get_service()
    except ConfigError as exc:
        st.error(f"Configuration problem: {exc}")
        st.stop()
        raise  # unreachable: st.stop() raises


@contextmanager
def store_errors_in_plain_words() -> Iterator[None]:
    """A store held by another program past our wait, or one that cannot be used, stops the page with a sentence."""
    try:
        yield
    except StoreBusyError as exc:
        st.error(f"{exc}", icon=":material/hourglass_top:")
        st.stop()
    except StoreError as exc:
        st.error(f"{exc}", icon=":material/database_off:")
        st.stop()


def store_problem() -> str | None:
    """Why the user's store cannot be opened (a sentence with the way out), or None; a busy store stops the page."""
    with store_errors_in_plain_words():
        return service().store_problem()


@st.cache_data(ttl=600, show_spinner="Loading prices…", max_entries=64)
def _cached_prices(asset_ids: tuple[str, ...], start: dt.date | None, end: dt.date | None) -> PriceData:
    """Cached by small keys (ids and dates), never by frames; errors are raised, so they are never cached."""
    return get_service().load(asset_ids, start, end)


def load_prices(asset_ids: tuple[str, ...], start: dt.date | None, end: dt.date | None) -> PriceData:
    with store_errors_in_plain_words():
        return _cached_prices(asset_ids, start, end)


@st.cache_data(ttl=60, show_spinner=False)
def _cached_coverage() -> pd.DataFrame:
    return get_service().coverage()


def load_coverage() -> pd.DataFrame:
    with store_errors_in_plain_words():
        return _cached_coverage()


@st.cache_data(ttl=10, show_spinner=False)
def _cached_snapshot_coverage() -> pd.DataFrame:
    return get_service().live.coverage()


def load_snapshot_coverage() -> pd.DataFrame:
    with store_errors_in_plain_words():
        return _cached_snapshot_coverage()


def load_recent_snapshots(days: int = 7) -> pd.DataFrame:
    """Stored quotes of the last `days` days, newest last (the Data page's CSV)."""
    with store_errors_in_plain_words():
        return service().live.recent(days).set_index("asset_id")


@st.cache_data(ttl=60, show_spinner="Checking the store…")
def _cached_integrity() -> pd.DataFrame:
    return get_service().check()


def load_integrity() -> pd.DataFrame:
    with store_errors_in_plain_words():
        return _cached_integrity()


def store_backup_button() -> None:
    """The whole store as one ZIP, built only when clicked; `python -m collectors import --from` takes it back."""
    st.download_button(
        "⬇ Download the whole store (ZIP of Parquet files)",
        data=lambda: get_service().backup_zip(),
        file_name=f"market-store-{dt.date.today():%Y%m%d}.zip",
        mime="application/zip",
        key="dl-store",
        on_click="ignore",
        help="A backup: `python -m collectors import --from FILE.zip` merges it into any store.",
    )


def clear_caches() -> None:
    _cached_prices.clear()
    _cached_coverage.clear()
    _cached_integrity.clear()


# -- pickers bound to the URL ------------------------------------------------------------------------------------
def _seed_from_url(key: str, options: Sequence, default: object, multi: bool = False) -> None:
    """Once per session, take a widget's starting value from the URL (codes such as `KRW`, `kst`, `samsung`)."""
    if key in st.session_state:
        return
    if multi:
        wanted = {part for item in st.query_params.get_all(key) for part in item.lower().split(",")}
        st.session_state[key] = [o for o in options if str(o).lower() in wanted] or list(default)
    else:
        raw = str(st.query_params.get(key, "")).lower()
        st.session_state[key] = next((o for o in options if str(o).lower() == raw), default)


def _publish_to_url(key: str, value: object, default: object) -> None:
    if value == default or value is None:
        st.query_params.pop(key, None)
    else:
        st.query_params[key] = ",".join(map(str, value)) if isinstance(value, list) else str(value)


def choice(
    label: str,
    options: Sequence,
    default: object,
    key: str,
    format_func: Callable[[object], str] = str,
    *,
    widget: str = "segmented",
    where: object = st,
    **kwargs: object,
) -> object:
    """A segmented control or selectbox whose value lives in the URL as its code, not its display label.

    Streamlit's bind="query-params" writes the formatted label into the URL; this keeps `?ccy=KRW&align=kst`.
    """
    default = default if default in options else options[0]
    _seed_from_url(key, options, default)
    if st.session_state[key] not in options:
        st.session_state[key] = default
    if widget == "segmented":
        value = where.segmented_control(label, options, format_func=format_func, key=key, required=True, **kwargs)
    else:
        value = where.selectbox(label, options, format_func=format_func, key=key, **kwargs)
    _publish_to_url(key, value, default)
    return value


def asset_picker(key: str = "assets", default: Sequence[str] = catalog.COMPARED) -> list[str]:
    """Multiselect of the compared assets, kept in the URL as ids (`?assets=samsung,btc`); unknown ids are ignored."""
    _seed_from_url(key, catalog.COMPARED, list(default), multi=True)
    chosen = st.multiselect(
        "Assets", options=list(catalog.COMPARED), format_func=lambda a: catalog.get(a).label, key=key
    )
    ordered = [a for a in catalog.COMPARED if a in chosen]
    _publish_to_url(key, ordered, list(default))
    return ordered


def is_today() -> bool:
    """The range picker shows 1D: today's live quotes."""
    return st.session_state.get("range") == TODAY


def range_bounds(preset: str, today: dt.date) -> dt.date | None:
    """The first day of a preset range ending today; None for Max."""
    if preset == "Max":
        return None
    if preset == "YTD":
        return dt.date(today.year, 1, 1)
    return today - dt.timedelta(days=_RANGE_DAYS[preset])


def range_picker(default: str = "1Y", today: bool = False) -> tuple[dt.date | None, dt.date | None]:
    """Preset or custom range, bound to `range`, `start` and `end` in the URL; `today` offers "1D" first (the page
    checks `is_today()` and draws live quotes instead of bars)."""
    preset = st.segmented_control(
        "Range",
        (TODAY, *RANGES) if today else RANGES,
        default=default,
        key="range",
        bind="query-params",
        required=True,
    )
    today = dt.date.today()
    if preset == TODAY:
        return today, today
    if preset != "Custom":
        return range_bounds(preset or default, today), None
    col1, col2 = st.columns(2)
    earliest = dt.date(1990, 1, 1)  # Streamlit's default floor is ten years back, before most of the history
    start = col1.date_input(
        "From", value=today - dt.timedelta(days=366), min_value=earliest, max_value=today, key="start",
        bind="query-params",
    )  # fmt: skip
    end = col2.date_input("To", value=today, min_value=earliest, max_value=today, key="end", bind="query-params")
    if start and end and start > end:
        st.warning("The start date is after the end date; they were swapped.")
        start, end = end, start
    return start, end


# -- notices and downloads ---------------------------------------------------------------------------------------
CURRENCIES = {"native": "Native currency", "KRW": "In KRW", "USD": "In USD"}


def currency_picker(where: object = st) -> str:
    return choice("Currency", list(CURRENCIES), "native", "ccy", CURRENCIES.get, where=where)


def unit_label(currency: str) -> str:
    return "each asset's own currency" if currency == "native" else currency


def trace_labels(data: PriceData) -> dict[str, str]:
    """Legend names: the catalog label, marked when the series is sample data or stale."""
    labels = {}
    for asset_id in data.origin:
        label = catalog.get(asset_id).label
        if asset_id in data.sample_assets:
            label += " (sample)"
        fresh = data.freshness.get(asset_id)
        if fresh and fresh.stale:
            label += f" (stale since {fresh.last_date})"
        labels[asset_id] = label
    return labels


def sample_note(data: PriceData) -> str | None:
    """The line each chart carries when any of its series is sample data."""
    if not data.sample_assets:
        return None
    names = ", ".join(catalog.get(a).short for a in data.sample_assets)
    return f"Sample data, not real prices: {names}"


def data_notice(data: PriceData) -> None:
    """A plain banner when sample data is on the page, with why those assets are not live (grouped by reason)."""
    if data.store_problem:
        st.error(data.store_problem, icon=":material/database_off:")
    if not data.sample_assets:
        return
    by_reason: dict[str, list[str]] = {}
    for asset_id in data.sample_assets:
        by_reason.setdefault(data.notes.get(asset_id, ""), []).append(catalog.get(asset_id).label)
    lines = [f"- {', '.join(names)}: {reason}" for reason, names in by_reason.items()]
    st.warning(
        "**Sample data: these series are generated, not real prices.** USD/KRW is the real ECB history.\n"
        + "\n".join(lines),
        icon=":material/science:",
    )


def show_table(frame: pd.DataFrame) -> None:
    """A table with ISO dates (and times, in columns whose values carry one) and thousands separators."""
    config = {}
    for col in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[col]):
            values = frame[col].dropna()
            timed = bool((values != values.dt.normalize()).any())
            config[col] = (
                st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")
                if timed
                else st.column_config.DateColumn(format="YYYY-MM-DD")
            )
    if isinstance(frame.index, pd.DatetimeIndex):
        frame = frame.set_axis(frame.index.date, axis=0).rename_axis(frame.index.name or "date")
    st.dataframe(frame, width="stretch", column_config=config)


def format_price(value: float, asset: catalog.Asset) -> str:
    """Card value: large KRW amounts in millions so the card does not truncate."""
    if value >= 10_000_000:
        return f"{value / 1_000_000:,.1f}M {asset.currency}"
    return f"{value:,.{asset.decimals}f} {asset.currency}"


def timing_notes(asset_ids: Sequence[str]) -> None:
    """How the selected markets' days line up, under any view that compares them."""
    notes = []
    if "btc" in asset_ids and len(asset_ids) > 1:
        notes.append(
            "Bitcoin's daily bar is the UTC day: a candle dated D closes at 09:00 KST on D+1 (Upbit KRW-BTC, which "
            "carries the Korean premium over global prices)."
        )
    if any(catalog.get(a).calendar in ("XNYS", "CMES") for a in asset_ids) and any(
        catalog.get(a).calendar == "XKRX" for a in asset_ids
    ):
        notes.append("US and COMEX sessions dated D close at 05:00–07:00 KST on D+1, after KRX's close on D.")
    if notes:
        st.caption(" ".join(notes))


def missing_notice(data: PriceData, asset_ids: Sequence[str]) -> list[str]:
    """Say which selected assets have no bars in the range; returns the ones that do."""
    present = set(data.bars["asset_id"].unique())
    missing = [a for a in asset_ids if a not in present]
    if missing:
        names = ", ".join(catalog.get(a).label for a in missing)
        st.info(f"No data in this date range for: {names}.")
    return [a for a in asset_ids if a in present]


def download_csv(frame: pd.DataFrame, name: str, label: str = "Download CSV") -> None:
    """A CSV button; the bytes are built only when it is clicked (keeps reruns fast)."""
    st.download_button(
        f"⬇ {label}",
        data=lambda: csv_bytes(frame),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"dl-{name}",
        on_click="ignore",
    )


def table_on_demand(frame: pd.DataFrame, name: str, what: str) -> None:
    """A long table drawn only when asked for (it would be re-sent on every rerun), its CSV always offered."""
    if st.toggle(f"Show {what}", value=False, key=f"show-{name}"):
        show_table(frame)
    download_csv(frame, name, f"Download {what} (CSV)")


def chart(fig: go.Figure, data_for_csv: pd.DataFrame, name: str) -> None:
    """A chart and the CSV of exactly the numbers it draws."""
    st.plotly_chart(fig, key=f"chart-{name}")
    download_csv(data_for_csv, name, f"Download {name.replace('_', ' ')} (CSV)")
