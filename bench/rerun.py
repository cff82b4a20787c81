"""Server-side rerun time of the Compare and Correlations pages, all seven assets, Max range (2015 to today), and
of Compare with 20 assets (the seven and 13 added symbols: KRX stocks and ETFs, KOSDAQ, indices, US stocks, the
S&P 500, Ethereum), whose daily bars since 2015 are put in the store first, as if fetched.

    python bench/rerun.py [--runs 10]

Runs each page headless with streamlit.testing's AppTest (offline), loads it once so the caches are warm, then
times full script reruns after changing the range or a view option. Browser-side figures (click -> charts redrawn
in Chromium) come from bench/startup.py.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


ADDED = ("krx:005380", "krx:000270", "krx:069500", "krx:122630", "krx:086520", "krx:196170", "kidx:1001",
         "kidx:0001", "us:NVDA", "us:AAPL", "us:TQQQ", "ovs:SPX", "coin:ETH")  # fmt: skip
TEMPLATE = {"krx": "samsung", "kidx": "kospi200", "us": "soxl", "ovs": "gold", "coin": "btc"}


def store_added(db: Path) -> None:
    """Daily bars since 2015 for each added symbol (a catalog asset's sample path, scaled), stored as fetched."""
    import dataclasses

    from collectors.sample import SAMPLE_START, sample_bars
    from marketdash.domain import catalog, clock
    from marketdash.domain.records import bars_to_frame
    from marketdash.services.store import Store

    store = Store(db)
    for k, asset_id in enumerate(ADDED):
        template = catalog.get(TEMPLATE[asset_id.split(":")[0]])
        bars = sample_bars(template, SAMPLE_START, template.last_closed_date(clock.now()))
        source = "upbit" if template.kind == "crypto" else "kis"
        store.upsert_bars(bars_to_frame([dataclasses.replace(b, asset_id=asset_id, close=b.close * (1 + k / 10),
                                                             source=source) for b in bars]))  # fmt: skip
    store.close()


def time_reruns(page: str, changes: list[tuple[int, str]], runs: int, assets: str | None = None) -> list[float]:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    if assets:
        at.query_params["assets"] = assets
    at.switch_page(page).run()
    for index, value in changes:  # first load of every state: fills the caches
        at.get("segmented_control")[index].set_value(value).run()
    times = []
    for i in range(runs):
        index, value = changes[i % len(changes)]
        at.get("segmented_control")[index].set_value(value)
        started = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - started)
        assert not at.exception, [e.value for e in at.exception]
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(MARKET_DB=str(Path(tmp) / "market.duckdb"), DASHBOARD_OFFLINE="1")
        for key in ("KIS_APP_KEY", "KIS_APP_SECRET"):
            os.environ.pop(key, None)
        compare = time_reruns("pages/1_compare.py", [(0, "Max"), (0, "5Y"), (1, "% change"), (1, "Rebased to 100")],
                              args.runs)  # fmt: skip
        correl = time_reruns("pages/2_correlations.py", [(0, "Max"), (0, "5Y"), (1, "kst"), (1, "common")], args.runs)
        from marketdash.domain import catalog

        store_added(Path(tmp) / "market.duckdb")
        twenty = time_reruns("pages/1_compare.py", [(0, "Max"), (0, "5Y"), (1, "% change"), (1, "Rebased to 100")],
                             args.runs, ",".join([*catalog.COMPARED, *ADDED]))  # fmt: skip
    for name, n, xs in (("Compare", 7, compare), ("Correlations", 7, correl), ("Compare", 20, twenty)):
        print(f"{name:<13} rerun (script, {n} assets, up to Max range): median {statistics.median(xs) * 1000:5.0f} "
              f"ms, max {max(xs) * 1000:5.0f} ms, n={len(xs)}")  # fmt: skip
    ratio = statistics.median(twenty) / statistics.median(compare)
    print(f"Compare 20 assets / 7 assets: {ratio:.2f}x (target < 2x)")


if __name__ == "__main__":
    main()
