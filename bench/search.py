"""Symbol search latency on a universe of the real size: about 2,500 KRX, 13,000 overseas-index, 12,800 US and 200
coin records, generated in the documented master formats (tests/master_server.py), parsed like a download.

    python bench/search.py [--runs 30]

Prints the time to parse the lists and build the index (once per download), and per query the median and worst
time from text to ranked results, for short queries (the slowest: they match the most), names, codes and 초성.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERIES = ("a", "삼", "ㅅ", "s", "kodex", "005", "nvda", "ㅎㄷㅊ", "현대차", "apple inc", "zzzz")


def universe() -> pd.DataFrame:
    from collectors.masters import unzip_single
    from marketdash.domain import symbols
    from tests.master_server import universe_files

    files = universe_files()
    frames = [m.parse(unzip_single(files[m.archive], m.name)[0]) for m in symbols.LISTS if m.archive]
    rng = random.Random(3)
    coins = [{"market": f"KRW-C{i:03d}", "korean_name": "코인" + str(i), "english_name": "Coin" + str(i),
              "market_event": {"warning": rng.random() < 0.05, "caution": {}}} for i in range(200)]  # fmt: skip
    frames.append(symbols.parse_upbit(coins))
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    from marketdash.domain.symbols import SymbolIndex

    started = time.perf_counter()
    frame = universe()
    parsed = time.perf_counter() - started
    started = time.perf_counter()
    index = SymbolIndex(frame)
    built = time.perf_counter() - started
    print(f"universe: {len(index):,} symbols; parse {parsed * 1000:.0f} ms, index build {built * 1000:.0f} ms")
    worst = 0.0
    for query in QUERIES:
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            found = index.search(query)
            times.append(time.perf_counter() - started)
        worst = max(worst, max(times))
        print(f"search {query!r:<12} median {statistics.median(times) * 1000:5.1f} ms, "
              f"max {max(times) * 1000:5.1f} ms, {len(found):>2} shown")  # fmt: skip
    print(f"worst search: {worst * 1000:.1f} ms (target < 50 ms)")


if __name__ == "__main__":
    main()
