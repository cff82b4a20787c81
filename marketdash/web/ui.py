"""What every page starts with: the reader's language and market colours (kept in the URL), the sidebar, the cached
service and the loaders pages read through.

Pages only choose options and draw; everything they show comes through here from the service, and every word
through `tr()` (marketdash/i18n.py).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import streamlit as st

from marketdash.analysis.portfolio import breakdown
from marketdash.analysis.portfolio import plan as plans
from marketdash.domain import clock, formats, i18n
from marketdash.domain.config import ConfigError, load_settings
from marketdash.domain.i18n import Msg, Translator
from marketdash.services import portfolio as portfolios
from marketdash.services.market import MarketService, PriceData
from marketdash.services.store import StoreBusyError, StoreError
from marketdash.web import access, caching, turns

PAGES = (
    ("app.py", "overview", ":material/dashboard:"),
    ("pages/1_compare.py", "compare", ":material/show_chart:"),
    ("pages/2_correlations.py", "correlations", ":material/grid_on:"),
    ("pages/3_statistics.py", "statistics", ":material/query_stats:"),
    ("pages/6_portfolio.py", "portfolio", ":material/account_balance_wallet:"),
    ("pages/4_data.py", "data", ":material/database:"),
    ("pages/5_asset.py", "asset", ":material/candlestick_chart:"),
)
# Settings that follow the reader from page to page and into bookmarks: URL parameter -> (choices, default).
STICKY = {"lang": (i18n.LANGS, None), "colors": (formats.COLOR_CHOICES, "auto")}


def _sticky_value(name: str) -> str:
    """The URL's value, else the one this session chose before, else the default (for the language: the
    browser's, else Korean)."""
    choices, default = STICKY[name]
    wanted = str(st.query_params.get(name, "")).lower()
    if wanted in choices:
        return wanted
    if st.session_state.get(name) in choices:
        return st.session_state[name]
    return i18n.language_of(st.context.locale) if default is None else default


def _remember(name: str) -> None:
    """A switch in the sidebar was moved: keep its value for this session and in the URL."""
    value = st.session_state[f"{name}_switch"]
    st.session_state[name] = value
    st.query_params[name] = value


CARRIED = ("assets", "range", "start", "end", "ret")  # the reader's selection, which follows them from page to page


def sticky_params() -> dict[str, str]:
    """The URL parameters every page link carries: the language always, the colours when chosen, and the assets
    and range the reader chose (a page that lacks a value, such as 1D off Compare, says so and uses its own)."""
    params = {
        name: st.session_state[name] for name, (_, default) in STICKY.items() if st.session_state[name] != default
    }
    for name in CARRIED:  # this run's choice (a widget changed just now), else what the URL holds
        value = st.session_state.get(name)
        if isinstance(value, list):
            value = ",".join(value)
        elif isinstance(value, dt.date):
            value = value.isoformat()
        if value is None and name in st.query_params:
            value = str(st.query_params[name])
        if value:
            params[name] = str(value)
    if params.get("range") != "Custom":  # dates mean something only with a custom range
        params.pop("start", None)
        params.pop("end", None)
    return params


def say_reset(key: str, raw: str, used: str | None) -> None:
    """One line when a value from the URL could not be used: which, and what is shown instead (None: it is left
    out, such as an unknown asset among known ones)."""
    t = tr()
    text = t("pick.reset_dropped", name=key, value=raw) if used is None else t("pick.reset", name=key, value=raw,
                                                                                used=used)  # fmt: skip
    st.caption(f":material/info: {text}")


def page_entry() -> int:
    """Which visit to a page this run belongs to: it changes when the reader moves to another page (widgets then
    start again from the URL and the page's defaults)."""
    return st.session_state.get("page_entry", 0)


def tr() -> Translator:
    """The reader's translator: their language and market colours (set by setup_page)."""
    return Translator(st.session_state.get("lang", i18n.DEFAULT_LANG), st.session_state.get("colors", "auto"))


# Cards that fit seven in a row at 1440 px (a price such as "2억 5,082만 원" whole), and less air above the title,
# so the first screen shows the chart without scrolling.
COMPACT_CSS = """
[data-testid=stMetricValue] { font-size: 1.2rem; }
[data-testid=stMetricDelta] { font-size: 0.75rem; }
[data-testid=stMetricDelta] svg { width: 0.9rem; }
[data-testid=stMetricDelta] :is(div, p) { white-space: normal; overflow: visible; text-overflow: clip; }
[data-testid=stMainBlockContainer] { padding-top: 2.5rem; }
h1 { font-size: 2rem !important; padding-bottom: 0.25rem !important; }
[data-testid=stButtonGroup] [role=radiogroup] { flex-wrap: wrap; }
"""


# Korean breaks between words, as Korean is typeset, not between any two syllables ("2025.02.28 종 / 가"); a word too
# long for its line still wraps rather than overflow.
KOREAN_CSS = """
[data-testid=stStatusWidget] { display: none; }
[data-testid=stApp] :is(div, p, li, span, label, td, th, h1, h2, h3) {
  word-break: keep-all; overflow-wrap: break-word;
}
"""
ICON = Path(__file__).with_name("icon.png")  # shipped: a material icon name would be fetched from Google's fonts
NARROW_JS = Path(__file__).with_name("narrow.js").read_text()  # charts on a phone (one <script>: st.html runs one)
# What Streamlit leaves in English or cannot do, set in the reader's page: the document's language (screen
# readers, the browser's own translation offer), the date picker's button, and Enter in a date field applying the
# range (the field commits a typed date when it loses focus, then 조회 is pressed for the reader).
# Streamlit's frontend fetches and runs Plotly's 4.7 MB chunk only once a chart arrives, after the script has run:
# a second of the first chart's wait here (issue 32). The page starts it as soon as the script starts, while the
# server still works; the frontend's own import then finds it loaded (the same URL, one module).
PLOTLY_CHUNK = next((p.name for p in (Path(st.__file__).parent / "static/static/js").glob("PlotlyChart.*.js")), "")
PAGE_JS = Path(__file__).with_name("page.js").read_text()  # the page's own script, as st.html runs it


def setup_page(page: str) -> Translator:
    """Every page's first call: language and colours from the URL (or this session, or the browser), the page
    title, the door (access.gate: a visitor who may not see the dashboard gets one sentence and nothing more), and
    the sidebar with both switches, named links to every page that keep them, and who is logged in.

    Streamlit's own file-name navigation is hidden (.streamlit/config.toml): it would label the first page "app".
    """
    turns.take()  # one page run draws at a time (marketdash/web/turns.py)
    if st.session_state.get("page") != page:
        st.session_state["page"], st.session_state["page_entry"] = page, page_entry() + 1
    for name, (_, default) in STICKY.items():  # the language has no default: always in the URL, so links keep it
        value = _sticky_value(name)
        st.session_state[name] = value
        if value == default:
            st.query_params.pop(name, None)
        else:
            st.query_params[name] = value
        st.session_state[f"{name}_switch"] = value  # the switch shows it (set before the widget exists)
    t = tr()
    st.set_page_config(page_title=f"{t(f'nav.{page}')} · {t('app.name')}", page_icon=str(ICON),
                       layout="wide")  # fmt: skip
    # Streamlit's running indicator says "Running…" and "Stop" in English whatever the page's language: a Korean
    # page hides it (progress of our own work has its own Korean bars and spinners).
    words = {w: t(f"pick.aria_{w.split()[0].lower()}") for w in ("Choose date", "year", "month", "day")}
    script = PAGE_JS.replace("$LANG", t.lang).replace("$PLOTLY", PLOTLY_CHUNK)
    script = script.replace("$WORDS", json.dumps(words, ensure_ascii=False)) + NARROW_JS
    st.html(f"<style>{COMPACT_CSS}{KOREAN_CSS if t.lang == 'ko' else ''}</style><script>{script}</script>",
            unsafe_allow_javascript=True)  # fmt: skip
    granted = access.gate(t)  # nothing below is drawn for a visitor who may not see it
    with st.sidebar:
        st.markdown(f"**{t('app.name')}**")
        _page_links(t)
        st.segmented_control(t("sidebar.language"), i18n.LANGS, format_func=lambda lang: t(f"lang.{lang}"),
                             key="lang_switch", on_change=_remember, args=("lang",), required=True)  # fmt: skip
        st.selectbox(t("sidebar.colors"), formats.COLOR_CHOICES, format_func=lambda c: t(f"colors.{c}"),
                     key="colors_switch", on_change=_remember, args=("colors",))  # fmt: skip
        access.sidebar(t, granted)
    if page == "overview" and (unknown := _unknown_path()) is not None:
        _not_found(t, unknown)
    return t


def _page_links(t: Translator) -> None:
    for path, key, icon in PAGES:
        st.page_link(path, label=t(f"nav.{key}"), icon=icon, query_params=sticky_params())


def _unknown_path() -> str | None:
    """The path the reader asked for when no page has it: Streamlit then runs the main page (app.py) under the
    unknown URL, and st.context.url still holds what was asked for on that first run."""
    url = st.context.url
    if not url:
        return None
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    path = urlsplit(url).path.strip("/")
    if base and (path == base or path.startswith(f"{base}/")):
        path = path[len(base) :].strip("/")
    known = {"", *(Path(file).stem.split("_", 1)[-1] for file, _, _ in PAGES[1:])}
    return None if path in known else path


_CLOSE_DIALOG = """<style>[data-testid=stDialog] { display: none; }</style>
<script>
for (const wait of [0, 100, 300, 1000]) {
  setTimeout(() => document.querySelectorAll("[data-testid=stDialog] button[aria-label=Close]").forEach(b => b.click()),
             wait);
}
</script>"""


def _not_found(t: Translator, path: str) -> None:
    """Our own page for an unknown address, in the reader's language, instead of Streamlit's English "Page not
    found ... Running the app's main page." dialog. That dialog is modal (the page behind it is inert while it is
    open): it is hidden, then closed with its own button. This app opens no dialog of its own."""
    st.html(_CLOSE_DIALOG, unsafe_allow_javascript=True)
    st.title(t("notfound.title"))
    st.write(t("notfound.body", path=path))
    _page_links(t)
    st.stop()


@st.cache_resource(show_spinner=False)
def get_service() -> MarketService:
    return MarketService(load_settings())


def service() -> MarketService:
    """The process-wide service; a bad setting stops the page with a plain message instead of a traceback."""
    try:
        return get_service()
    except ConfigError as exc:
        st.error(tr()("config.problem", detail=exc.msg))
        st.stop()
        raise  # unreachable: st.stop() raises


@contextmanager
def store_errors_in_plain_words() -> Iterator[None]:
    """A store held by another program past our wait, or one that cannot be used, stops the page with a sentence."""
    try:
        yield
    except StoreBusyError as exc:
        st.error(tr().text(exc.msg), icon=":material/hourglass_top:")
        st.stop()
    except StoreError as exc:
        st.error(tr().text(exc.msg), icon=":material/database_off:")
        st.stop()


def store_problem() -> Msg | None:
    """Why the user's store cannot be opened (a sentence with the way out), or None; a busy store stops the page."""
    with store_errors_in_plain_words():
        return service().store_problem()


# -- cached loaders: small keys (ids and dates), never frames; errors are raised, so they are never cached ----------
@caching.shared(ttl=600, max_entries=64)
def _cached_prices(asset_ids: tuple[str, ...], start: dt.date | None, end: dt.date | None) -> PriceData:
    return get_service().load(asset_ids, start, end)


def load_prices(asset_ids: tuple[str, ...], start: dt.date | None, end: dt.date | None) -> PriceData:
    with store_errors_in_plain_words(), st.spinner(tr()("spinner.prices")):
        return _cached_prices(asset_ids, start, end)


def cached_prices(asset_ids: tuple[str, ...], start: dt.date | None, end: dt.date | None) -> PriceData:
    """load_prices without a page's spinner and plain words (errors are raised): the server's warm-up fills the
    cache a page reads, and views computed from a page's bars read the ones its load_prices said."""
    return _cached_prices(asset_ids, start, end)


@caching.shared(ttl=600, max_entries=16)
def cached_fx(start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
    """USD/KRW fixings of the range (the store's, the ECB's outside them); errors are raised (load_fx says them)."""
    return get_service().usd_krw(start, end)


def latest_usd_krw() -> float | None:
    """Won per dollar at the latest fixing known (the store's, else the ECB's shipped history): amounts switched
    between currencies are converted at it."""
    fx = load_fx(clock.today_kst() - dt.timedelta(days=60), None)
    return float(fx["close"].iloc[-1]) if len(fx) else None


def load_fx(start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
    with store_errors_in_plain_words():
        return cached_fx(start, end)


@caching.shared(ttl=60)
def _cached_coverage() -> pd.DataFrame:
    return get_service().coverage()


def load_coverage() -> pd.DataFrame:
    with store_errors_in_plain_words():
        return _cached_coverage()


@caching.shared(ttl=10)
def _cached_snapshot_coverage() -> pd.DataFrame:
    return get_service().live.coverage()


def load_snapshot_coverage() -> pd.DataFrame:
    with store_errors_in_plain_words():
        return _cached_snapshot_coverage()


def load_recent_snapshots(days: int = 7) -> pd.DataFrame:
    """Stored quotes of the last `days` days, newest last (the Data page's CSV)."""
    with store_errors_in_plain_words():
        return service().live.recent(days).set_index("asset_id")


@caching.shared(ttl=60)
def _cached_integrity() -> pd.DataFrame:
    return get_service().check()


def load_integrity() -> pd.DataFrame:
    with store_errors_in_plain_words(), st.spinner(tr()("spinner.check")):
        return _cached_integrity()


def load_symbol_lists() -> pd.DataFrame:
    """The symbol lists as the Data page shows them: symbols, as-of date, and the last failure in words."""
    t, universe = tr(), get_service().universe
    lists, errors = universe.lists(), universe.last_errors()
    return pd.DataFrame(
        {"rows": lists["rows"].fillna(0).astype(int).to_numpy(), "as_of": pd.to_datetime(lists["as_of"]).to_numpy(),
         "last_error": [t.text(errors.get(name)) for name in lists["list"]]},
        index=pd.Index([t(f"symlist.{name}") for name in lists["list"]], name="list"),
    )  # fmt: skip


@caching.shared(ttl=600, max_entries=64)
def _cached_run(plan: str, ids: tuple[str, ...], start: dt.date | None, end: dt.date | None,
                rf_pct: float) -> breakdown.Measured:  # fmt: skip
    """One portfolio's run and figures (plans.to_json of it alone), on the bars of the page's assets and range."""
    runs, _ = plans.from_json(plan)
    data = _cached_prices(ids, start, end)
    return portfolios.runner(rf_pct)(runs["p"], data.bars, cached_fx(_fx_start(start), end), data.dividends)


def _fx_start(start: dt.date | None) -> dt.date | None:
    return start - dt.timedelta(days=14) if start else None


def load_portfolios(spec: str, rf_pct: float = 0.0) -> portfolios.Comparison:
    """The portfolios and the benchmark of a page (plans.to_json), run from the store (or sample data), each run
    remembered on its own: a changed weight runs that portfolio again, not the others. A plan the engine refuses
    raises PlanError."""
    runs, benchmark = plans.from_json(spec)
    first = next(iter(runs.values()))
    ids = tuple(portfolios.asset_ids(runs, benchmark))

    def run(plan: plans.Plan, bars: pd.DataFrame, fx: pd.DataFrame | None, _: pd.DataFrame) -> breakdown.Measured:
        return _cached_run(plans.to_json({"p": plan}, None), ids, first.start, first.end, rf_pct)

    with store_errors_in_plain_words(), st.spinner(tr()("pf.running")):
        data = _cached_prices(ids, first.start, first.end)
        return portfolios.compare(get_service(), runs, benchmark, data=data,
                                  fx=cached_fx(_fx_start(first.start), first.end), run=run)  # fmt: skip


def clear_caches() -> None:
    """After a fetch stored bars: every read of the store, and every view computed from one, is read anew."""
    caching.clear_all()
