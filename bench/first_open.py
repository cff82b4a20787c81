"""The first live open (issue 10, point 4): KIS keys, an empty store, Overview opened in Debian's Chromium.

    python bench/first_open.py [--runs 2]

Against the local KIS server (20 calls/s per key, history from 2015) and Upbit server (10 calls/s, history from
2017-09-25), with the app started by `streamlit run` beforehand. Prints, per run:
- first chart: page opened -> Overview's chart drawn (goal <= 3 s); the same for a one-chart hello-world app in
  the same browser, for scale;
- backfill: page opened -> the last call of the history filled in behind the page, against the floor the limits set
  (KIS calls / 20 + Upbit calls / 10, as issue 10 counts it; goal ratio <= 1.15).
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

from bench.startup import HELLO
from tests.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_app, wait_rendered
from tests.kis_server import APP_KEY, APP_SECRET, KisServer
from tests.upbit_server import UpbitServer

ROOT = Path(__file__).resolve().parent.parent
QUIET_FOR = 3.0  # seconds without a call after which the backfill counts as done


def calls(kis: KisServer, upbit: UpbitServer) -> tuple[int, int]:
    return len(kis.calls) + kis.rate_limited + kis.served_502, len(upbit.calls)


def open_page(browser, url: str) -> tuple[float, float]:
    """(seconds to the first drawn chart, the wall-clock moment the page was opened)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    opened = time.monotonic()
    page.goto(url)
    wait_rendered(page)
    first_chart = time.monotonic() - opened
    context.close()
    return first_chart, opened


def one_run(browser, tmp: Path) -> dict:
    today = dt.date.today()
    kis = KisServer(rps=20, history_start=dt.date(2014, 12, 1), today=today).start()
    upbit = UpbitServer(first_day=dt.date(2017, 9, 25), last_day=today).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIS_", "UPBIT_", "BITHUMB_", "DASHBOARD_"))}
    env.update(KIS_BASE_URL=kis.url, KIS_APP_KEY=APP_KEY, KIS_APP_SECRET=APP_SECRET, UPBIT_BASE_URL=upbit.url,
               BITHUMB_BASE_URL="http://127.0.0.1:9", MARKET_DB=str(tmp / "market.duckdb"),
               KIS_TOKEN_CACHE=str(tmp / "token.json"))  # fmt: skip
    try:
        with streamlit_app(env) as url:
            first_chart, opened = open_page(browser, url)
            seen, last_change = calls(kis, upbit), time.monotonic()
            while time.monotonic() - last_change < QUIET_FOR:
                time.sleep(0.05)
                now_calls = calls(kis, upbit)
                if now_calls != seen:
                    seen, last_change = now_calls, time.monotonic()
            backfill = last_change - opened
    finally:
        kis.stop()
        upbit.stop()
    kis_calls, upbit_calls = seen
    floor = kis_calls / 20 + upbit_calls / 10
    return {"first_chart": first_chart, "backfill": backfill, "kis": kis_calls, "upbit": upbit_calls,
            "floor": floor, "ratio": backfill / floor, "refused": kis.rate_limited}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    if CHROMIUM is None:
        sys.exit("no Chromium found: apt-get install chromium")
    with sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        hello = Path(tmp) / "hello.py"
        hello.write_text(HELLO)
        runs, ref = [], []
        for i in range(args.runs):
            run_dir = Path(tmp) / f"run{i}"
            run_dir.mkdir()
            runs.append(one_run(browser, run_dir))
            with streamlit_app(dict(os.environ), script=hello) as url:
                ref.append(open_page(browser, url)[0])
            r = runs[-1]
            print(f"run {i + 1}: first chart {r['first_chart']:.2f} s (hello-world {ref[-1]:.2f} s); backfill "
                  f"{r['backfill']:.2f} s for {r['kis']} KIS + {r['upbit']} Upbit calls ({r['refused']} refused), "
                  f"floor {r['floor']:.2f} s, ratio {r['ratio']:.3f}")  # fmt: skip
        browser.close()
    med = {k: statistics.median(r[k] for r in runs) for k in ("first_chart", "backfill", "ratio")}
    print(f"first chart, median      : {med['first_chart']:.2f} s (goal <= 3 s); hello-world "
          f"{statistics.median(ref):.2f} s")  # fmt: skip
    print(f"backfill / floor, median : {med['ratio']:.3f} (goal <= 1.15); backfill {med['backfill']:.2f} s")


if __name__ == "__main__":
    main()
