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
