"""The app as a newcomer meets it: `streamlit run app.py`, an empty store, no keys, every page in Chromium."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

import pandas as pd
import pytest

from marketdash.domain import catalog
from marketdash.domain.formats import SCHEMES
from marketdash.domain.i18n import Translator
from tests.browser import CHROMIUM, CHROMIUM_ARGS, PAGES, full_screenshot, streamlit_app, wait_rendered
from tests.conftest import ROOT
from tests.test_i18n import english_words

pytestmark = pytest.mark.browser
SHOTS = ROOT / "artifacts" / "screenshots"
HANGUL = re.compile("[\uac00-\ud7a3]")
NAV = "[data-testid=stSidebar] [data-testid=stPageLink-NavLink]"  # the sidebar's links (cards link to charts too)

if CHROMIUM is None:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        raise RuntimeError("REQUIRE_BROWSER=1 but no Chromium found (apt-get install chromium)")
    pytest.skip("no Chromium on this machine (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def app_env(tmp_path_factory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("app")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIS_", "UPBIT_", "BITHUMB_", "DASHBOARD_"))}
    # An empty store, no credentials; the exchanges point at a closed local port, so Bitcoin's live fetch fails
    # the way it does without a network, and the page must say so instead of breaking.
    env.update(
        MARKET_DB=str(tmp / "market.duckdb"),
        KIS_TOKEN_CACHE=str(tmp / "token.json"),
        UPBIT_BASE_URL="http://127.0.0.1:9",
        BITHUMB_BASE_URL="http://127.0.0.1:9",
    )
    return env


@pytest.fixture(scope="module")
def app_url(app_env, tmp_path_factory):
    with streamlit_app(app_env, log=tmp_path_factory.mktemp("log") / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = context.new_page()
    yield pg
    context.close()


def _legend(page) -> list[str]:
    return page.locator("[data-testid=stPlotlyChart] .legendtext").evaluate_all("els => els.map(e => e.textContent)")


_VISIBLE_TEXT = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.querySelector("[data-testid=stApp]"), NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    const box = el && el.getBoundingClientRect(), style = el && getComputedStyle(el);
    if (!el || style.fontFamily.includes("Material") || el.closest("code")) continue;  // icon glyphs; code
    if (box.width < 2 || box.height < 2 || style.visibility === "hidden" || style.opacity === "0") continue;
    out.push(walker.currentNode.textContent);
  }
  return out.join("\\n");
}"""


def _main_text(page) -> str:
    """Every piece of text a reader can see on the page (Streamlit's own included; icon ligatures and visually
    hidden accessibility text left out)."""
    return page.evaluate(_VISIBLE_TEXT)


@pytest.mark.parametrize("lang", ["ko", "en"])
@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_renders_in_both_languages(app_url, page, name, lang):
    """Every page as a reader of each language opens it; screenshots of both land in artifacts/screenshots/. The
    page's whole text, Streamlit's own words included, holds no English word in Korean and no Hangul in English."""
    t = Translator(lang)
    path = PAGES[name]
    page.goto(f"{app_url}/{path}{'&' if '?' in path else '?'}lang={lang}")
    wait_rendered(page)
    page.wait_for_timeout(500)
    full_screenshot(page, SHOTS / f"{name}-{lang}.png")
    assert page.locator("[data-testid=stException]").count() == 0
    assert page.title().startswith(t(f"nav.{name}"))
    assert page.get_by_text(t("sample.line", names=[]).split("**")[1], exact=False).count() > 0
    assert page.locator("[data-testid=stDownloadButton]").count() >= 1
    if name in ("overview", "compare"):
        legend = " | ".join(_legend(page))
        for asset_id in catalog.COMPARED:
            assert t.name(asset_id) in legend, (asset_id, legend)
    links = page.locator(NAV)
    assert links.count() == len(PAGES)
    assert all(f"lang={lang}" in (links.nth(i).get_attribute("href") or "") for i in range(links.count()))
    text = _main_text(page)
    if lang == "ko":
        assert not english_words(text), [line for line in text.splitlines() if english_words(line)][:20]
    else:
        assert not [line for line in text.splitlines() if HANGUL.search(line) and line.strip() != "한국어"]
    if name == "portfolio":  # the value chart (portfolio, benchmark, money put in) and the monthly heatmap drawn
        page.wait_for_function("document.querySelectorAll('[data-testid=stPlotlyChart] .main-svg').length >= 2")
        assert page.locator("[data-testid=stPlotlyChart] .scatterlayer .trace").count() >= 3
        assert page.locator("[data-testid=stPlotlyChart] .heatmaplayer").count() == 1
    if name == "correlations":  # heatmap, lead-lag bars and rolling lines all drawn
        page.wait_for_function("document.querySelectorAll('[data-testid=stPlotlyChart] .main-svg').length >= 6")
        assert page.locator("[data-testid=stPlotlyChart] .bars path").count() == 11
        assert page.locator("[data-testid=stPlotlyChart] .scatterlayer .trace").count() >= 1


def test_korean_text_has_a_korean_font(app_url, page):
    """The theme names Korean fonts for Windows and macOS and Debian's Nanum; this machine has one installed."""
    fonts = subprocess.run(["fc-list", ":lang=ko", "family"], capture_output=True, text=True).stdout
    assert fonts.strip(), "no Korean font installed (apt-get install fonts-nanum)"
    page.goto(f"{app_url}/?lang=ko")
    wait_rendered(page)
    stack = page.evaluate("getComputedStyle(document.querySelector('h1')).fontFamily")
    for family in ("Malgun Gothic", "Apple SD Gothic Neo", "NanumGothic"):
        assert family in stack, stack
    chart_font = page.evaluate("document.querySelector('[data-testid=stPlotlyChart] .gtitle').style.fontFamily")
    assert "Malgun Gothic" in chart_font and "NanumGothic" in chart_font, chart_font


def test_the_language_sticks_across_page_links_and_the_switch(app_url, browser):
    """A Korean browser opens the app without ?lang: Korean. Page links keep it; the sidebar switch changes it,
    and the links then keep English; a bookmark carries it."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="ko-KR")
    page = context.new_page()
    page.goto(f"{app_url}/")
    wait_rendered(page)
    assert page.locator("h1").first.inner_text() == "한눈에 보기"
    page.wait_for_url("**lang=ko**", timeout=30_000)
    page.locator(NAV, has_text="수익률 비교").click()
    page.wait_for_url("**/compare?lang=ko**", timeout=30_000)
    wait_rendered(page)
    assert page.locator("h1").first.inner_text() == "수익률 비교"
    page.locator("[data-testid=stSidebar] [data-testid=stButtonGroup] button", has_text="English").click()
    page.wait_for_url("**lang=en**", timeout=30_000)
    wait_rendered(page)
    assert page.locator("h1").first.inner_text() == "Compare"
    page.locator(NAV, has_text="Correlations").click()
    page.wait_for_url("**/correlations?lang=en**", timeout=30_000)
    wait_rendered(page)
    assert page.locator("h1").first.inner_text() == "Correlations"
    bookmark = page.url
    context.close()
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="ko-KR")
    page = context.new_page()
    page.goto(bookmark)
    wait_rendered(page)
    assert page.locator("h1").first.inner_text() == "Correlations"  # the URL wins over the browser's language
    context.close()


def test_csv_download_parses_with_asset_id_columns(app_url, page, tmp_path):
    page.goto(f"{app_url}/compare")
    wait_rendered(page)
    with page.expect_download() as download:
        page.locator("[data-testid=stDownloadButton] button").first.click()
    path = tmp_path / "compare.csv"
    download.value.save_as(path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    frame = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig", parse_dates=["date"])
    assert frame.columns.tolist() == ["date", *catalog.COMPARED]
    assert len(frame) > 200
    assert (frame.set_index("date").apply(lambda s: s.dropna().iloc[0]) > 0).all()


def test_correlation_csv_round_trips_into_the_numbers_on_screen(app_url, page, tmp_path):
    page.goto(f"{app_url}/correlations?assets=samsung,skhynix,gold")
    wait_rendered(page)
    shown = page.locator("[data-testid=stPlotlyChart]").first.locator("text.heatmap-text, .textpoint text, text")
    texts = {t for t in shown.evaluate_all("els => els.map(e => e.textContent)") if t and t[0] in "-0.1"}
    with page.expect_download() as download:
        page.get_by_role("button", name="Download correlation matrix (CSV)").click()
    path = tmp_path / "matrix.csv"
    download.value.save_as(path)
    matrix = pd.read_csv(path, encoding="utf-8-sig", index_col="asset_id")
    assert list(matrix.columns) == ["samsung", "skhynix", "gold"]
    assert {f"{v:.2f}" for v in matrix.to_numpy().ravel()} <= texts


def test_selection_lives_in_the_url(app_url, page):
    page.goto(f"{app_url}/compare?assets=btc,samsung&range=3M")
    wait_rendered(page)
    legend = _legend(page)
    assert len(legend) == 2 and "Samsung" in legend[0] and "Bitcoin" in legend[1]
    assert page.locator("[data-testid=stButtonGroup] button[aria-checked=true]", has_text="3M").count() == 1
    page.locator("[data-testid=stButtonGroup] button", has_text="6M").first.click()
    page.wait_for_url("**range=6M**", timeout=30_000)
    assert "assets=samsung%2Cbtc" in page.url or "assets=samsung,btc" in page.url
    page.locator("[data-testid=stMultiSelect] button[aria-label^=Remove]").first.click()
    page.wait_for_url("**assets=btc**", timeout=30_000)


# A date axis's value as its ISO day: the charts send milliseconds since 1970 (charts.date_values), packed binary
# that Plotly decodes into the traces of g._fullData (g.data keeps the packed form).
DAY = "(v => typeof v === 'number' ? new Date(v).toISOString().slice(0, 10) : String(v).slice(0, 10))"


def _last_x(page) -> str:
    return page.evaluate(
        "() => { const g = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot');"
        f" return g._fullData.map(t => {DAY}(t.x[t.x.length - 1])).sort().pop(); }}"
    )


def test_a_typed_date_and_the_chart_never_disagree(app_url, page):
    """Issue 14.8: a date typed into the custom range's end and left with Tab reached the field only: Streamlit's
    date field commits once focus leaves the whole field. The range is applied with 조회 (as on a broker's screen),
    and then the field, the URL and the chart agree."""
    page.goto(f"{app_url}/compare?lang=ko&range=Custom&start=2026-01-05&end=2026-03-02")
    wait_rendered(page)
    assert _last_x(page) == "2026-03-02"
    end = page.locator("[data-testid=stDateInput]").nth(1)
    end.locator("[role=spinbutton]").first.click()  # as a reader does (the calendar opens)
    page.keyboard.type("20260115", delay=40)
    page.keyboard.press("Tab")
    assert "2026-01-15" in end.locator("input").input_value()
    assert "end=2026-03-02" in page.url  # nothing applied yet: the button says so
    page.locator("[data-testid=stFormSubmitButton] button", has_text="조회").click()
    page.wait_for_url("**end=2026-01-15**", timeout=30_000)
    wait_rendered(page)
    page.wait_for_function("() => { const g = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot');"
                           f" return g && g._fullData.every(t => {DAY}(t.x[t.x.length - 1]) <= '2026-01-16'); }}",
                           timeout=30_000)  # fmt: skip
    assert _last_x(page) <= "2026-01-15"
    assert "2026-01-15" in end.locator("input").input_value()


def test_bitcoin_fetch_failure_is_explained_not_raised(app_url, page):
    page.goto(f"{app_url}/")
    wait_rendered(page)
    assert page.get_by_text("live update failed", exact=False).count() > 0
    assert page.locator("[data-testid=stException]").count() == 0


def test_command_line_updates_the_store_while_the_app_reads_it(app_url, app_env, page):
    """DuckDB locks the file per process: the app must not hold it, so a cron job can write while pages load."""
    cmd = [sys.executable, "-m", "collectors", "update", "--assets", "usdkrw", "--start", "2016-01-01"]
    env = {**app_env, "DASHBOARD_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    cli = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for path in ("data", "", "data"):
        page.goto(f"{app_url}/{path}")
        wait_rendered(page)
        assert page.locator("[data-testid=stException]").count() == 0
    out, err = cli.communicate(timeout=120)
    assert cli.returncode == 0, out + err
    assert "usdkrw" in out and " ok " in out
    page.goto(f"{app_url}/data")
    wait_rendered(page)
    page.get_by_role("button", name="Update now").click()
    wait_rendered(page)
    assert page.locator("[data-testid=stException]").count() == 0


def test_a_bookmarked_deep_link_works_as_the_first_request_to_a_fresh_server(app_env, browser, tmp_path):
    """A bookmark opened on a freshly started server: the page's layout, named links and the URL's selections,
    and no "page not found" dialog (which st.navigation beside a pages/ folder showed)."""
    with streamlit_app(app_env, log=tmp_path / "streamlit.log") as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(f"{url}/compare?assets=samsung,btc&ccy=KRW&range=3Y")
        wait_rendered(page)
        links = page.locator(NAV).all_inner_texts()
        names = ["Overview", "Compare", "Correlations", "Risk & return", "Portfolio", "Data", "Asset chart"]
        assert [link.split("\n")[-1].strip() for link in links] == names
        assert page.locator("[role=dialog]").count() == 0
        assert len(_legend(page)) == 2
        title = page.locator("[data-testid=stPlotlyChart] .gtitle").first.text_content()
        assert "prices in KRW" in title
        context.close()


def test_an_unknown_address_gets_our_own_page_in_the_readers_language(app_url, page):
    """Issue 15.8: Streamlit answers an unknown path with an English "Page not found … Running the app's main
    page." dialog over Overview; the reader gets a Korean page that names the address and links every page."""
    t = Translator("ko")
    page.goto(f"{app_url}/no-such-page?lang=ko")
    wait_rendered(page, selector="h1")
    assert page.locator("h1").first.inner_text().strip() == t("notfound.title")
    assert "/no-such-page" in _main_text(page)
    assert not page.locator("[data-testid=stDialog]").is_visible()
    assert not english_words(_main_text(page)), _main_text(page)
    full_screenshot(page, SHOTS / "not-found-ko.png")
    main_links = page.locator("[data-testid=stMain] [data-testid=stPageLink] a")
    assert main_links.count() == len(PAGES)
    main_links.nth(1).click()
    wait_rendered(page)
    assert page.title().startswith(t("nav.compare"))


_FIGURES = """() => [...document.querySelectorAll('.js-plotly-plot')].map(g => ({
  traces: g.data.map(d => ({type: d.type, name: d.name, color: (d.line || {}).color})),
  ytype: g._fullLayout.yaxis.type}))"""


def test_overview_shows_one_price_per_asset(app_url, page):
    """Issue 15.1: one card per asset (seven prices, not a live row above a daily row), the chart beside them."""
    page.goto(f"{app_url}/?lang=ko")
    wait_rendered(page)
    cards = page.locator("[data-testid=stMain] [data-testid=stMetric]")
    assert cards.count() == len(catalog.COMPARED)
    labels = " | ".join(cards.locator("[data-testid=stMetricLabel]").all_inner_texts())
    t = Translator("ko")
    assert all(t.name(a) in labels for a in catalog.COMPARED), labels
    chart_top = page.locator("[data-testid=stPlotlyChart]").first.bounding_box()["y"]
    assert chart_top < 900, chart_top  # the normalized chart starts on the first screen (1400×1000 window)


@pytest.mark.parametrize("colors", ["red_up", "green_up"])
def test_series_never_wear_the_rise_or_fall_colour_and_a_wide_spread_gets_a_log_axis(app_url, page, colors):
    """Issue 15.3: on Compare over Max (SOXL alone spreads the lines far over 3×) the axis is logarithmic, and no
    line is drawn in the colour that means rise or fall in the scheme in force."""
    page.goto(f"{app_url}/compare?range=Max&colors={colors}")
    wait_rendered(page)
    figure = page.evaluate(_FIGURES)[0]
    scheme = SCHEMES[colors]
    used = {(tr["color"] or "").lower() for tr in figure["traces"] if tr["type"] == "scatter"}
    assert len(used - {""}) >= len(catalog.COMPARED), figure["traces"]
    assert not used & {scheme["up"].lower(), scheme["down"].lower()}, used
    assert figure["ytype"] == "log"
    page.goto(f"{app_url}/compare?range=Max&axis=linear")
    wait_rendered(page)
    assert page.evaluate(_FIGURES)[0]["ytype"] == "linear"


@pytest.mark.parametrize("name", ["overview", "statistics", "correlations", "data"])
def test_no_table_hides_a_column_at_1440_px(app_url, browser, name):
    """Issue 15.4: every table fits its container at 1440 px: no column scrolled out of sight."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(f"{app_url}/{PAGES[name]}?lang=ko")
    wait_rendered(page)
    page.wait_for_timeout(500)
    frames = page.locator("[data-testid=stDataFrame]")
    assert frames.count() >= 1
    for i in range(frames.count()):
        frames.nth(i).scroll_into_view_if_needed()
        widths = frames.nth(i).evaluate(  # the data grid's own scroller: null if Streamlit renamed it (then fail)
            "f => { const s = f.querySelector('.dvn-scroller'); return s && [s.scrollWidth, s.clientWidth]; }"
        )
        assert widths is not None, "no .dvn-scroller in the table: the check would pass on anything"
        assert widths[0] <= widths[1] + 2, (name, i, widths)
    context.close()


def test_asset_page_draws_candles_volume_averages_and_its_bars(app_url, page):
    """Issue 15.7: /asset?id=samsung, reached from Overview's card link: candles in the scheme's colours, volume
    bars below, moving averages 5/20/60/120 and the stored bars as a table with CSV."""
    page.goto(f"{app_url}/?lang=ko")
    wait_rendered(page)
    page.locator("[data-testid=stMain] a[href^='asset'][href*='id=samsung']").first.click()
    page.wait_for_url(re.compile(r"/asset\?.*id=samsung"), timeout=30_000)
    wait_rendered(page)
    figure = page.evaluate(_FIGURES)[0]
    kinds = [tr["type"] for tr in figure["traces"]]
    assert kinds.count("candlestick") == 1 and kinds.count("bar") == 1, kinds
    t = Translator("ko")
    names = {tr["name"] for tr in figure["traces"]}
    assert {t(f"asset.ma{n}") for n in (5, 20, 60, 120)} <= names, names
    colors = page.evaluate(
        "() => { const c = document.querySelector('.js-plotly-plot').data.find(d => d.type === 'candlestick');"
        " return [c.increasing.line.color, c.decreasing.line.color]; }"
    )
    assert colors == [SCHEMES["red_up"]["up"], SCHEMES["red_up"]["down"]]
    assert page.locator("[data-testid=stDataFrame]").count() >= 1
    assert page.locator("[data-testid=stDownloadButton]").count() >= 1
    full_screenshot(page, SHOTS / "asset-candles-ko.png")


def test_the_page_speaks_the_readers_language_to_the_browser_and_asks_nothing_outside(browser, tmp_path):
    """Issue 26.15 and 26.16: <html lang> follows the reader, the date picker's button is in Korean, Enter in a date
    field applies the range, and offline the page asks nothing of any host but the app's own (the tab icon was a
    font from Google's servers)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIS_", "UPBIT_", "BITHUMB_", "DASHBOARD_"))}
    env.update(MARKET_DB=str(tmp_path / "market.duckdb"), DASHBOARD_OFFLINE="1")
    with streamlit_app(env, log=tmp_path / "streamlit.log") as url:
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        outside: list[str] = []
        page.on("request", lambda r: None if r.url.startswith((url, "data:", "blob:")) else outside.append(r.url))
        page.goto(f"{url}/compare?lang=ko&range=Custom&start=2026-01-05&end=2026-03-02")
        wait_rendered(page)
        page.wait_for_function("() => document.documentElement.lang === 'ko'", timeout=10_000)
        labels = page.locator("[data-testid=stDateInput] [aria-label]").evaluate_all(
            "els => els.map(e => e.getAttribute('aria-label'))")  # fmt: skip
        assert labels and not [label for label in labels if re.search("[A-Za-z]", label)], labels
        end = page.locator("[data-testid=stDateInput]").nth(1)
        end.locator("[role=spinbutton]").first.click()
        page.keyboard.type("20260115", delay=40)
        page.keyboard.press("Enter")  # applies, as 조회 does
        page.wait_for_url("**end=2026-01-15**", timeout=30_000)
        wait_rendered(page)
        page.goto(f"{url}/?lang=en")
        wait_rendered(page)
        page.wait_for_function("() => document.documentElement.lang === 'en'", timeout=10_000)
        context.close()
    assert outside == []


def _responsive(page, what: str) -> None:
    """The tab still paints and runs scripts: a one-line function answers within five seconds, and nothing keeps
    rewriting the date fields' labels (a page script that wakes its own observer froze the tab for good)."""
    page.wait_for_function("() => true", timeout=5_000)
    writes = page.evaluate("""() => new Promise(done => {
      let n = 0;
      const seen = new MutationObserver(list => { n += list.length; });
      seen.observe(document.body, {subtree: true, attributes: true, attributeFilter: ["aria-label"]});
      setTimeout(() => { seen.disconnect(); done(n); }, 1000);
    })""")
    assert writes < 50, (what, writes)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_a_custom_range_never_freezes_the_tab(app_url, browser, lang):
    """Issue 29.1: every page with a custom range from the URL in both languages, Custom clicked in English, and
    the language switched while Custom is open: the tab stays alive and the date fields carry the reader's
    words."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        for name, path in PAGES.items():
            page.goto(f"{app_url}/{path}{'&' if '?' in path else '?'}lang={lang}&range=Custom&start=2026-01-05"
                      "&end=2026-03-02")  # fmt: skip
            wait_rendered(page, selector="[data-testid=stDateInput]", timeout=30_000)
            _responsive(page, name)
            labels = page.locator("[data-testid=stDateInput] [aria-label]").evaluate_all(
                "els => els.map(e => e.getAttribute('aria-label'))"
            )
            if lang == "ko":  # the picker's English words said in Korean
                assert labels and not any(english_words(x) for x in labels), (name, labels)
        page.goto(f"{app_url}/compare?lang={lang}")
        wait_rendered(page)
        page.get_by_role("radio", name=Translator(lang)("range.Custom")).or_(
            page.get_by_role("button", name=Translator(lang)("range.Custom"))
        ).first.click()
        wait_rendered(page, selector="[data-testid=stDateInput]", timeout=30_000)
        _responsive(page, "custom clicked")
        other = "English" if lang == "ko" else "한국어"
        page.locator("[data-testid=stSidebar]").get_by_role("button", name=other).or_(
            page.locator("[data-testid=stSidebar]").get_by_role("radio", name=other)
        ).first.click()
        wait_rendered(page, selector="[data-testid=stDateInput]", timeout=30_000)
        _responsive(page, "language switched")
    finally:
        context.close()
