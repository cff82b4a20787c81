"""The newcomer's second walk in Chromium (issue 29.5 and its done-when): text that breaks mid-word, a typed date
that reverts without a word, and every page read whole at a desktop's 1440 px and a phone's 390 px."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.browser import CHROMIUM, CHROMIUM_ARGS, full_screenshot, streamlit_app, wait_rendered
from tests.conftest import ROOT

pytestmark = pytest.mark.browser
SHOTS = ROOT / "artifacts" / "screenshots"

if CHROMIUM is None:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        raise RuntimeError("REQUIRE_BROWSER=1 but no Chromium found (apt-get install chromium)")
    pytest.skip("no Chromium on this machine (apt-get install chromium)", allow_module_level=True)

# Words (runs of text between spaces and middle dots) whose letters sit on more than one line.
SPLIT_WORDS = """sel => {
  const out = [];
  for (const root of document.querySelectorAll(sel)) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const node = walker.currentNode;
      for (const m of node.textContent.matchAll(/[^\\s·]+/g)) {
        const r = document.createRange();
        r.setStart(node, m.index);
        r.setEnd(node, m.index + m[0].length);
        if (new Set([...r.getClientRects()].map(x => Math.round(x.top))).size > 1) out.push(m[0]);
      }
    }
  }
  return out;
}"""


@pytest.fixture(scope="module")
def offline_app(tmp_path_factory) -> Iterator[tuple[str, Browser]]:
    """A fresh app offline on sample data, and Chromium: (base URL, browser)."""
    tmp = tmp_path_factory.mktemp("walk")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIS_", "UPBIT_", "BITHUMB_", "DASHBOARD_"))}
    env.update(DASHBOARD_OFFLINE="1", MARKET_DB=str(tmp / "market.duckdb"), KIS_TOKEN_CACHE=str(tmp / "token.json"))
    with streamlit_app(env, log=tmp / "streamlit.log") as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield url, browser
        finally:
            browser.close()


def test_a_past_range_card_never_breaks_a_word(offline_app):
    """Issue 29.5: at 1440 px the cards of a past range read "2025.02.28 종 / 가": Korean broke between any two
    syllables. It breaks between words, as Korean is set."""
    url, browser = offline_app
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{url}/?lang=ko&range=Custom&start=2025-01-02&end=2025-02-28")
    wait_rendered(page)
    captions = page.locator("[data-testid=stColumn] [data-testid=stCaptionContainer]")
    assert "2025.02.28 종가" in captions.first.inner_text()
    assert page.evaluate(SPLIT_WORDS, "[data-testid=stMain]") == []
    page.close()


def test_a_typed_end_date_after_today_is_said_and_set_to_today(offline_app):
    """Issue 29.5: a future 종료일 typed into the field turned it red with a bare "!" and reverted without a word.
    조회 sets it to today and says so in a sentence."""
    url, browser = offline_app
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{url}/compare?lang=ko&range=Custom&start=2026-01-05&end=2026-03-02")
    wait_rendered(page)
    end = page.locator("[data-testid=stDateInput]").nth(1)
    end.locator("[role=spinbutton]").first.click()
    page.keyboard.type("20990105", delay=40)
    page.keyboard.press("Tab")
    page.locator("[data-testid=stFormSubmitButton] button", has_text="조회").click()
    said = page.get_by_text("아직 오지 않은 날이라", exact=False)
    said.wait_for(timeout=30_000)
    assert "종료일 2099.01.05는" in said.inner_text()
    wait_rendered(page)
    today = page.evaluate("() => new Date(Date.now() + 9 * 3600e3).toISOString().slice(0, 10)")  # in Seoul
    assert today in end.locator("input").input_value()
    assert f"end={today}" in page.url or "end=" not in page.url  # today is the default end
    full_screenshot(page, SHOTS / "compare-future-end-ko.png")
    page.close()


# What does not read on a page: Plotly text past its chart's edge, a word broken between two of its letters, a
# line of text or a row of buttons cut by its box, and a page wider than the screen. Tables (a canvas grid) scroll
# sideways by themselves and are left out.
UNREAD = """() => {
  const out = [];
  for (const svg of document.querySelectorAll(".js-plotly-plot .main-svg:first-of-type")) {
    const box = svg.getBoundingClientRect();
    const texts = svg.parentElement.querySelectorAll(
      ".gtitle, .g-xtitle text, .g-ytitle text, .annotation-text, .legendtext, .xtick text, .ytick text");
    for (const t of texts) {
      const r = t.getBoundingClientRect();
      if (r.width && (r.left < box.left - 1 || r.right > box.right + 1)) out.push(`chart text cut: ${t.textContent}`);
    }
  }
  const letter = /[\\p{L}\\p{N}]/u;
  const walker = document.createTreeWalker(document.querySelector("[data-testid=stMain]"), NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, s = node.textContent;
    if (node.parentElement.closest(".js-plotly-plot, [data-testid=stDataFrame]")) continue;
    let top = null;
    for (let i = 0; i < s.length; i++) {
      const r = document.createRange();
      r.setStart(node, i);
      r.setEnd(node, i + 1);
      const rect = r.getClientRects()[0], now = rect ? Math.round(rect.top) : null;
      if (i && now !== null && top !== null && now > top + 2 && letter.test(s[i - 1]) && letter.test(s[i])) {
        out.push(`word broken: ${s.slice(Math.max(0, i - 6), i)}|${s.slice(i, i + 6)}`);
      }
      if (now !== null) top = now;
    }
  }
  const boxes = ["[data-testid=stMarkdownContainer] p", "[role=radiogroup]", "[data-testid=stMetric]",
                 "[data-testid=stCaptionContainer]"].join(", ");
  for (const e of document.querySelector("[data-testid=stMain]").querySelectorAll(boxes)) {
    if (e.scrollWidth > e.clientWidth + 1) out.push(`cut: ${e.innerText.slice(0, 40)}`);
  }
  const main = document.querySelector("[data-testid=stMain]");
  if (main.scrollWidth > main.clientWidth + 1) out.push(`page wider than the screen: ${main.scrollWidth}`);
  return out;
}"""
# Relayouts of the page's charts in one second once drawn: none (the phone fitting must not wake itself).
RELAYOUTS = """() => new Promise(done => {
  let n = 0;
  document.querySelectorAll(".js-plotly-plot").forEach(g => g.on("plotly_relayout", () => { n += 1; }));
  setTimeout(() => done(n), 1000);
})"""
WALK = {"overview": "", "compare": "compare", "correlations": "correlations", "statistics": "statistics",
        "portfolio": "portfolio?n=3&every=monthly&rebal=quarterly", "data": "data",
        "asset": "asset?id=samsung"}  # fmt: skip
CUSTOM = "range=Custom&start=2025-06-02&end=2026-03-02"


@pytest.mark.parametrize("width", [1440, 390])
@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_page_with_a_custom_range_reads_whole_on_a_desktop_and_a_phone(offline_app, lang, width):
    """Issue 29's done-when: every page, in Korean and English, with a custom range,
    at 1440 px and at a phone's 390 px: nothing cut, no word broken, no chart text past its edge. The screenshots
    land in artifacts/screenshots/walk-*.png for a person to read."""
    url, browser = offline_app
    page = browser.new_page(viewport={"width": width, "height": 900 if width > 600 else 844})
    try:
        for name, path in WALK.items():
            page.goto(f"{url}/{path}{'&' if '?' in path else '?'}lang={lang}&{CUSTOM}")
            wait_rendered(page)
            page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot')].every(g => g._fullLayout)",
                                   timeout=30_000)  # fmt: skip
            page.wait_for_timeout(800)  # a phone's charts are fitted after they are drawn
            full_screenshot(page, SHOTS / f"walk-{name}-{lang}-{width}.png")
            unread = page.evaluate(UNREAD)
            assert unread == [], (name, lang, width, unread)
            assert page.evaluate(RELAYOUTS) == 0, (name, lang, width)  # a fitted chart stays still
    finally:
        page.close()
