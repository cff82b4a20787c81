"""Portfolio engine and page speed (issue 23).

    python bench/portfolio.py [--runs 5]

1. The engine alone: three portfolios of 20 assets (the seven and 13 added symbols, each a catalog asset's sample
   path, scaled, on its own calendar) over 10 years of daily bars, monthly contributions and quarterly
   rebalancing, in KRW with the USD legs converted every day. Goal: under 300 ms for the three.
2. The page (AppTest, offline, sample data): a rerun after one changed weight (the engine runs again) against a
   Compare rerun after a range change, in the same run. Goal: under 2x.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.rerun import ADDED, TEMPLATE, time_reruns  # noqa: E402


def twenty_assets() -> tuple[list[str], object, object]:
    """Ten years of bars of 20 assets (the 13 added ones shaped like a catalog asset of their kind) and USD/KRW."""
    import pandas as pd

    from collectors import ecb
    from collectors.sample import sample_bars
    from marketdash.domain import catalog
    from marketdash.domain.records import bars_to_frame

    end = dt.date(2026, 11, 30)
    start = end - dt.timedelta(days=3653)
    frames = []
    for asset_id in catalog.COMPARED:
        frames.append(bars_to_frame(sample_bars(catalog.get(asset_id), start, end)))
    for k, asset_id in enumerate(ADDED):
        template = catalog.get(TEMPLATE[asset_id.split(":")[0]])
        bars = sample_bars(template, start, end)
        currency = catalog.get(asset_id).currency
        frames.append(bars_to_frame([dataclasses.replace(b, asset_id=asset_id, close=b.close * (1 + k / 10),
                                                         currency=currency) for b in bars]))  # fmt: skip
    fx = bars_to_frame(ecb.transform(catalog.get("usdkrw"), ecb.usdkrw_history()))
    return [*catalog.COMPARED, *ADDED], pd.concat(frames, ignore_index=True), fx


def engine_times(runs: int) -> tuple[list[float], int, int]:
    from marketdash.analysis.portfolio import engine
    from marketdash.analysis.portfolio.plan import Plan

    ids, bars, fx = twenty_assets()
    start = bars["date"].min().date()
    plans = [
        Plan({a: 5.0 for a in ids}, start, initial=10_000_000, every="monthly", day=10, amount=500_000,
             rebalance="quarterly"),
        Plan({a: float(i + 1) for i, a in enumerate(ids)}, start, initial=10_000_000, every="monthly", day=25,
             amount=1_000_000, rebalance="quarterly"),
        Plan({a: float(20 - i) for i, a in enumerate(ids)}, start, initial=50_000_000, every="monthly", day=1,
             amount=300_000, rebalance="quarterly"),
    ]  # fmt: skip
    times, days, trades = [], 0, 0
    for _ in range(runs):
        started = time.perf_counter()
        done = [engine.run(plan, bars, fx) for plan in plans]
        times.append(time.perf_counter() - started)
        days, trades = len(done[0].values), sum(len(d.trades) for d in done)
    return times, days, trades


def page_times(runs: int) -> tuple[list[float], list[float]]:
    """Portfolio reruns after a changed weight, and Compare reruns after a range change, in one process."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(lang="ko", range="5Y", rebal="quarterly")
    at.switch_page("pages/6_portfolio.py").run()
    portfolio = []
    for i in range(runs + 1):
        at.number_input(key="p1_w_samsung").set_value(40.0 + (i % 5) + 1)
        started = time.perf_counter()
        at.run()
        if i:  # the first one fills the process's caches of bars
            portfolio.append(time.perf_counter() - started)
        assert not at.exception, [e.value for e in at.exception]
    compare = time_reruns("pages/1_compare.py", [(0, "Max"), (0, "5Y"), (1, "% change"), (1, "Rebased to 100")], runs)
    return portfolio, compare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(MARKET_DB=str(Path(tmp) / "market.duckdb"), DASHBOARD_OFFLINE="1")
        for key in ("KIS_APP_KEY", "KIS_APP_SECRET"):
            os.environ.pop(key, None)
        times, days, trades = engine_times(args.runs)
        portfolio, compare = page_times(args.runs * 2)
    best, median = min(times), statistics.median(times)
    print(f"engine, 3 portfolios x 20 assets x 10 years ({days:,} valuation days, {trades:,} trades), monthly "
          f"contributions, quarterly rebalancing: median {median * 1000:.0f} ms, best {best * 1000:.0f} ms "
          f"(goal < 300 ms)")  # fmt: skip
    p, c = statistics.median(portfolio), statistics.median(compare)
    print(f"Portfolio page rerun after a changed weight: median {p * 1000:.0f} ms; Compare rerun: median "
          f"{c * 1000:.0f} ms; ratio {p / c:.2f}x (goal < 2x)")  # fmt: skip


if __name__ == "__main__":
    main()
