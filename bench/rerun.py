"""Server-side rerun time of the Compare and Correlations pages, all seven assets, Max range (2015 to today).

    python bench/rerun.py [--runs 10]

Runs each page headless with streamlit.testing's AppTest (offline, sample data), loads it once so the caches are
warm, then times full script reruns after changing the range or a view option. Browser-side figures (click ->
charts redrawn in Chromium) come from bench/startup.py.
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


def time_reruns(page: str, changes: list[tuple[int, str]], runs: int) -> list[float]:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
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
    for name, xs in (("Compare", compare), ("Correlations", correl)):
        print(f"{name:<13} rerun (script, 7 assets, up to Max range): median {statistics.median(xs) * 1000:5.0f} ms, "
              f"max {max(xs) * 1000:5.0f} ms, n={len(xs)}")  # fmt: skip


if __name__ == "__main__":
    main()
