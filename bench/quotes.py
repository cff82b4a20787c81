"""Live quotes (issue 8): calls per minute with 1 and with 10 open browsers, and the time from a price change at the
source to the open page showing it.

    python bench/quotes.py [--every 5] [--seconds 60]

The app runs with KIS keys against the local KIS and Upbit servers, QUOTE_EVERY=--every. Which markets trade
depends on the hour you run it (Bitcoin always does); both counts are taken in the same hour, so they compare.
Goals: the same calls per minute with 10 browsers as with 1; latency <= QUOTE_EVERY + 2 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright

from tests.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_app, wait_rendered
from tests.kis_server import APP_KEY, APP_SECRET, KisServer
from tests.upbit_server import UpbitServer

SHOWN = "t => [...document.querySelectorAll('[data-testid=stMetric]')].some(e => e.innerText.includes(t))"


def quote_calls(kis: KisServer, upbit: UpbitServer) -> int:
    return len(kis.quote_calls()) + sum(1 for c in upbit.calls if "markets" in c)


def calls_per_minute(browser, url: str, tabs: int, seconds: float, kis: KisServer, upbit: UpbitServer) -> float:
    pages = []
    for _ in range(tabs):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        wait_rendered(page)
        pages.append(page)
    time.sleep(5)  # past the first draws' polls
    before, started = quote_calls(kis, upbit), time.monotonic()
    time.sleep(seconds)
    rate = (quote_calls(kis, upbit) - before) / (time.monotonic() - started) * 60
    for page in pages:
        page.close()
    return rate


def latency(browser, url: str, upbit: UpbitServer, rounds: int) -> list[float]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    wait_rendered(page)
    prev = upbit.candles()[-1]["trade_price"]
    out = []
    for i in range(rounds):
        price = 90_000_000.0 + 1_000_000.0 * (i + 1)
        time.sleep(1.3 * i)  # vary the phase against the refresh cycle
        upbit.ticker_price = price
        changed = time.monotonic()
        page.wait_for_function(SHOWN, arg=f"{(price / prev - 1) * 100:+.2f}%", timeout=120_000)
        out.append(time.monotonic() - changed)
    page.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--every", type=float, default=5.0, help="QUOTE_EVERY for the app")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long each count runs")
    parser.add_argument("--rounds", type=int, default=5, help="price changes timed")
    args = parser.parse_args()
    if CHROMIUM is None:
        sys.exit("no Chromium found: apt-get install chromium")
    today = dt.date.today()
    kis = KisServer(history_start=today - dt.timedelta(days=400), today=today).start()
    upbit = UpbitServer(first_day=today - dt.timedelta(days=400), last_day=today, ticker_price=95_000_000.0).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIS_", "UPBIT_", "BITHUMB_", "DASHBOARD_"))}
    try:
        with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
            env.update(KIS_BASE_URL=kis.url, KIS_APP_KEY=APP_KEY, KIS_APP_SECRET=APP_SECRET, UPBIT_BASE_URL=upbit.url,
                       BITHUMB_BASE_URL="http://127.0.0.1:9", MARKET_DB=str(Path(tmp) / "market.duckdb"),
                       KIS_TOKEN_CACHE=str(Path(tmp) / "token.json"), QUOTE_EVERY=str(args.every))  # fmt: skip
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            with streamlit_app(env) as url:
                one = calls_per_minute(browser, url, 1, args.seconds, kis, upbit)
                ten = calls_per_minute(browser, url, 10, args.seconds, kis, upbit)
                lag = latency(browser, url, upbit, args.rounds)
            browser.close()
    finally:
        kis.stop()
        upbit.stop()
    print(f"QUOTE_EVERY           : {args.every:g} s; counted over {args.seconds:g} s each")
    ratio = ten / max(one, 1e-9)
    print(f"quote calls / minute  : {one:.1f} with 1 browser, {ten:.1f} with 10 browsers (ratio {ratio:.2f})")
    print(f"price change -> shown : median {statistics.median(lag):.2f} s, max {max(lag):.2f} s "
          f"(goal <= {args.every + 2:g} s); n={len(lag)}")  # fmt: skip


if __name__ == "__main__":
    main()
