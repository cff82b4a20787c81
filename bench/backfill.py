"""Backfill benchmark: ten years of the six KIS series plus USD/KRW against the local KIS server at 20 requests/s.

    python bench/backfill.py [--years 10] [--rps 18] [--workers 3]

Prints the number of data calls, the wall time, and the ratio to the floor the rate limit sets (calls / 20 per
second). Target: ratio <= 1.15 with no failed series.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collectors.kis import KisCollector
from marketdash.config import Secret, load_settings
from marketdash.service import MarketService
from tests.kis_server import APP_KEY, APP_SECRET, KisServer

SERIES = ["kospi200", "samsung", "skhynix", "soxl", "gold", "silver", "usdkrw"]
SERVER_RPS = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--rps", type=float, default=18.0, help="client KIS_MAX_RPS (default: the real-host default)")
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()

    today = dt.date.today()
    start = today.replace(year=today.year - args.years)
    server = KisServer(rps=SERVER_RPS, history_start=start - dt.timedelta(days=30), today=today).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = dataclasses.replace(
                load_settings({}, Path(tmp) / "none.toml"),
                kis_app_key=Secret(APP_KEY),
                kis_app_secret=Secret(APP_SECRET),
                kis_base_url=server.url,
                kis_max_rps=args.rps,
                kis_token_cache=Path(tmp) / "token.json",
                market_db=Path(tmp) / "market.duckdb",
            )
            kis = KisCollector.from_settings(settings)
            svc = MarketService(settings, collectors=dict.fromkeys(SERIES, kis))
            started = time.monotonic()
            results = svc.update(SERIES, start=start, workers=args.workers)
            wall = time.monotonic() - started
    finally:
        server.stop()

    calls = len(server.calls) + server.rate_limited
    floor = calls / SERVER_RPS
    failed = [r.asset_id for r in results if not r.ok]
    for r in results:
        print(f"  {r.line()}")
    print(f"series            : {len(SERIES)} ({args.years} years from {start}), {len(failed)} failed {failed or ''}")
    print(f"rows stored       : {sum(r.written for r in results)}")
    print(f"data calls        : {len(server.calls)} answered + {server.rate_limited} refused (EGW00201)")
    print(f"token issuances   : {server.token_issues}")
    print(f"wall time         : {wall:.2f} s  (client {args.rps:g}/s, {args.workers} workers)")
    print(f"floor at {SERVER_RPS}/s     : {floor:.2f} s")
    print(f"ratio             : {wall / floor:.3f}  (target <= 1.15)")


if __name__ == "__main__":
    main()
