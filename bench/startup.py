"""Startup and rerun figures, measured in Debian's Chromium (python bench/startup.py [--runs N]).

1. Time from `streamlit run app.py` (empty store, no keys, offline) to the first rendered Plotly chart, next to the
   same for a one-chart hello-world app started the same way.
2. Rerun time of the Compare and Correlations pages with all seven assets, after the first load of each range
   (caches warm): click a range preset -> script finished -> charts redrawn. Max is 2015 to today (~12 years).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from tests.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_app, wait_rendered

HELLO = """
import plotly.graph_objects as go
import streamlit as st
st.title("hello")
st.plotly_chart(go.Figure(go.Scatter(x=[1, 2, 3], y=[1, 3, 2])))
"""


def time_to_first_chart(browser, script: Path, env: dict[str, str]) -> float:
    started = time.monotonic()
    with streamlit_app(env, script=script) as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(url)
        wait_rendered(page)
        elapsed = time.monotonic() - started
        context.close()
    return elapsed


def rerun_times(browser, env: dict[str, str], page_path: str, rounds: int) -> list[float]:
    presets = ["Max", "5Y", "3Y", "Max"]
    times = []
    with streamlit_app(env) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/{page_path}?range=Max")
        wait_rendered(page)
        for i in range(len(presets) + rounds * len(presets)):
            preset = presets[i % len(presets)]
            button = page.locator("[data-testid=stButtonGroup] button", has_text=preset).first
            if button.get_attribute("aria-checked") == "true":
                continue
            started = time.monotonic()
            button.click()
            with contextlib.suppress(PlaywrightTimeout):  # a very short run can be over before we look
                page.wait_for_selector("[data-testid=stApp][data-test-script-state=running]", timeout=2_000)
            wait_rendered(page)
            if i >= len(presets):  # the first cycle loads each range once: not a rerun after the first load
                times.append(time.monotonic() - started)
        page.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if CHROMIUM is None:
        sys.exit("no Chromium found: apt-get install chromium")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("KIS_", "UPBIT_", "BITHUMB_"))}
        hello = Path(tmp) / "hello.py"
        hello.write_text(HELLO)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        cold, warm, ref = [], [], []
        for i in range(args.runs):
            env = dict(base, MARKET_DB=str(Path(tmp) / f"run{i}" / "market.duckdb"), DASHBOARD_OFFLINE="1")
            cold.append(time_to_first_chart(browser, Path.cwd() / "app.py", env))  # builds the sample store
            warm.append(time_to_first_chart(browser, Path.cwd() / "app.py", env))  # sample store already there
            ref.append(time_to_first_chart(browser, hello, env))
        env = dict(base, MARKET_DB=str(Path(tmp) / "rerun" / "market.duckdb"), DASHBOARD_OFFLINE="1")
        compare = rerun_times(browser, env, "compare", args.runs)
        correlations = rerun_times(browser, env, "correlations", args.runs)
        browser.close()

    def fmt(xs: list[float]) -> str:
        return f"median {statistics.median(xs):6.2f} s  (min {min(xs):.2f}, max {max(xs):.2f}, n={len(xs)})"

    hello = statistics.median(ref)
    print(f"streamlit run -> first chart, dashboard, fresh sample store : {fmt(cold)}")
    print(f"streamlit run -> first chart, dashboard, sample store exists: {fmt(warm)}")
    print(f"streamlit run -> first chart, hello-world one-chart app      : {fmt(ref)}")
    print(f"ratio to hello-world, newcomer (empty store)  : {statistics.median(cold) / hello:.2f}  (goal <= 1.2)")
    print(f"ratio to hello-world, sample store already built: {statistics.median(warm) / hello:.2f}  (goal <= 1.1)")
    print(f"Compare rerun, 7 assets, range change (click -> redrawn)     : {fmt(compare)}")
    print(f"Correlations rerun, 7 assets, range change (click -> redrawn): {fmt(correlations)}")


if __name__ == "__main__":
    main()
