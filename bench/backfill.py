"""Backfill benchmark: the seven KIS series (six assets and USD/KRW) from 2016 against the local KIS server, which
enforces 20 calls per key in a rolling second.

    python bench/backfill.py [--start 2016-01-01] [--rps 20] [--workers 3] [--scenario clean|faults|both]

Scenarios (issue 10, point 5):
- clean: a fresh key, no faults. Floor = calls the server answered / 20 per second. Target: ratio <= 1.05.
- faults: 8 % of data calls answer an HTML 502 page, and the first token dies after 40 calls (EGW00123). KIS issues
  one token a minute, so nothing can go faster than: 60 s from the first issuance, plus the calls answered after
  the 40th at 20/s. Target: ratio <= 1.2.
Each scenario runs on a new store and a new token cache; the learned rate is not carried between them.
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
TOKEN_INTERVAL = 60.0
DIES_AFTER = 40


def run(scenario: str, start: dt.date, rps: float, workers: int) -> dict:
    today = dt.date.today()
    faults = scenario == "faults"
    server = KisServer(rps=SERVER_RPS, history_start=start - dt.timedelta(days=30), today=today,
                       html_502_share=0.08 if faults else 0.0,
                       first_token_dies_after=DIES_AFTER if faults else None).start()  # fmt: skip
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = dataclasses.replace(
                load_settings({}, Path(tmp) / "none.toml"),
                kis_app_key=Secret(APP_KEY),
                kis_app_secret=Secret(APP_SECRET),
                kis_base_url=server.url,
                kis_max_rps=rps,
                kis_token_cache=Path(tmp) / "token.json",
                market_db=Path(tmp) / "market.duckdb",
            )
            kis = KisCollector.from_settings(settings)
            svc = MarketService(settings, collectors=dict.fromkeys(SERIES, kis))
            started = time.monotonic()
            results = svc.update(SERIES, start=start, workers=workers)
            wall = time.monotonic() - started
    finally:
        server.stop()
    answered = len(server.calls) + server.served_502
    floor = answered / SERVER_RPS
    if faults:
        floor = TOKEN_INTERVAL + (answered - DIES_AFTER) / SERVER_RPS
    return {
        "scenario": scenario,
        "results": results,
        "answered": answered,
        "html_502": server.served_502,
        "refused": server.rate_limited,
        "tokens": server.token_issues,
        "wall": wall,
        "floor": floor,
        "ratio": wall / floor,
        "target": 1.2 if faults else 1.05,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2016, 1, 1))
    parser.add_argument("--rps", type=float, default=20.0, help="client KIS_MAX_RPS, the budget's ceiling")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--scenario", choices=["clean", "faults", "both"], default="both")
    args = parser.parse_args()
    scenarios = ["clean", "faults"] if args.scenario == "both" else [args.scenario]
    for scenario in scenarios:
        m = run(scenario, args.start, args.rps, args.workers)
        failed = [r.asset_id for r in m["results"] if not r.ok]
        print(f"== {scenario}: {len(SERIES)} KIS series from {args.start}, {len(failed)} failed {failed or ''}")
        for r in m["results"]:
            print(f"  {r.line()}")
        print(f"calls answered    : {m['answered']} ({m['html_502']} HTML 502) + {m['refused']} refused (EGW00201)")
        print(f"token issuances   : {m['tokens']}")
        print(f"wall time         : {m['wall']:.2f} s  (ceiling {args.rps:g}/s, {args.workers} workers)")
        print(f"floor             : {m['floor']:.2f} s")
        print(f"ratio             : {m['ratio']:.3f}  (target <= {m['target']})")


if __name__ == "__main__":
    main()
