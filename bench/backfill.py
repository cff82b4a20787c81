"""Backfill benchmark: the seven KIS series (six assets and USD/KRW) from 2016 against the local KIS server, which
enforces 20 calls per key in a rolling second.

    python bench/backfill.py [--start 2016-01-01] [--rps 20] [--workers 3] [--scenario clean|faults|noise|slow|all]

Scenarios (issues 10 and 17):
- clean: a fresh key, no faults. Floor = calls the server answered / 20 per second. Target: ratio <= 1.05.
- faults: 8 % of data calls answer an HTML 502 page, and the first token dies after 40 calls (EGW00123). KIS issues
  one token a minute, so nothing can go faster than: 60 s from the first issuance, plus the calls answered after
  the 40th at 20/s. Target: ratio <= 1.2.
- noise: faults, plus 4 % of the calls under the limit refused EGW00201 anyway (half HTTP 500, half HTTP 200 with
  rt_cd "1"), as KIS's gateway does in the field. Same floor (refused calls not counted in it). Target: <= 1.2.
- spurious: only the 4 % of spurious refusals, no other fault: the floor is calls / 20 per second, so every slowdown
  the noise causes shows. Target: ratio <= 1.1.
- slow: a key the server holds to 3 calls a second (a new customer's), three series. Target: <= 5 % of calls
  refused for the rate.
- command: the clean run as a reader starts it, `python -m collectors update` in its own process: the wall time
  from the process's start to its exit, and the start alone (to the first request the server sees: the token's,
  sent before the command's imports; and to the first data call answered). Targets: ratio <= 1.05, start <= 0.4 s.
Each scenario runs on a new store and a new token cache; the learned rate is not carried between them.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collectors.kis import KisCollector
from marketdash.domain.config import Secret, Settings, load_settings
from marketdash.services.market import MarketService
from tests.kis_server import APP_KEY, APP_SECRET, KisServer

ROOT = Path(__file__).resolve().parent.parent
SERIES = ["kospi200", "samsung", "skhynix", "soxl", "gold", "silver", "usdkrw"]
TOKEN_INTERVAL = 60.0
DIES_AFTER = 40


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    server_rps: int = 20
    html_502_share: float = 0.0
    dying_token: bool = False
    spurious_share: float = 0.0
    series: tuple[str, ...] = tuple(SERIES)
    target_ratio: float | None = None
    target_refused: float | None = None
    command: bool = False  # run `python -m collectors update` in a process of its own


SCENARIOS = {
    "clean": Scenario("clean", target_ratio=1.05),
    "faults": Scenario("faults", html_502_share=0.08, dying_token=True, target_ratio=1.2),
    "noise": Scenario("noise", html_502_share=0.08, dying_token=True, spurious_share=0.04, target_ratio=1.2),
    "spurious": Scenario("spurious", spurious_share=0.04, target_ratio=1.1),
    "slow": Scenario("slow", server_rps=3, series=("kospi200", "samsung", "skhynix"), target_refused=0.05),
    "command": Scenario("command", target_ratio=1.05, command=True),
}
START_TARGET = 0.4  # seconds from `python -m collectors update` to its first request


def run(sc: Scenario, start: dt.date, rps: float, workers: int) -> dict:
    server = KisServer(rps=sc.server_rps, history_start=start - dt.timedelta(days=30), today=dt.date.today(),
                       html_502_share=sc.html_502_share, spurious_refusal_share=sc.spurious_share,
                       first_token_dies_after=DIES_AFTER if sc.dying_token else None).start()  # fmt: skip
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
            if sc.command:
                results, wall, learned = _command(sc, settings, start, workers)
                first_request = server.first_request_at - wall[1], server.first_data_at - wall[1]
                wall = wall[0]
            else:
                kis = KisCollector.from_settings(settings)
                svc = MarketService(settings, collectors=dict.fromkeys(sc.series, kis))
                started = time.monotonic()
                results = svc.update(list(sc.series), start=start, workers=workers)
                wall = time.monotonic() - started
                learned = kis.http.throttle.rate
                first_request = None
    finally:
        server.stop()
    answered = len(server.calls) + server.served_502
    floor = answered / sc.server_rps
    if sc.dying_token:
        floor = TOKEN_INTERVAL + (answered - DIES_AFTER) / sc.server_rps
    sent = answered + server.rate_limited + server.spurious_refused
    return {"results": results, "answered": answered, "html_502": server.served_502, "refused": server.rate_limited,
            "spurious": server.spurious_refused, "refused_share": server.rate_limited / sent,
            "tokens": server.token_issues, "wall": wall, "floor": floor, "ratio": wall / floor,
            "learned": learned, "first_request": first_request}  # fmt: skip


def _command(sc: Scenario, settings: Settings, start: dt.date, workers: int) -> tuple[list, tuple[float, float], float]:
    """`python -m collectors update` against the server: its result lines, (wall time, the moment it started), and
    no learned rate (it lives in the other process)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIS_", "UPBIT_", "BITHUMB_", "DASHBOARD_"))}
    env.update(KIS_APP_KEY=APP_KEY, KIS_APP_SECRET=APP_SECRET, KIS_BASE_URL=settings.kis_base_url,
               KIS_MAX_RPS=f"{settings.kis_max_rps:g}", KIS_TOKEN_CACHE=str(settings.kis_token_cache),
               MARKET_DB=str(settings.market_db))  # fmt: skip
    cmd = [sys.executable, "-m", "collectors", "update", "--assets", ",".join(sc.series), "--start", str(start),
           "--workers", str(workers)]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return [_Line(line) for line in done.stdout.splitlines() if line.strip()], (wall, started), float("nan")


@dataclasses.dataclass(frozen=True)
class _Line:
    """A line the command printed, shown as an in-process result is."""

    text: str
    ok: bool = True
    asset_id: str = ""

    def line(self) -> str:
        return self.text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2016, 1, 1))
    parser.add_argument("--rps", type=float, default=20.0, help="client KIS_MAX_RPS, the budget's ceiling")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    args = parser.parse_args()
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    summary = []
    for name in names:
        sc = SCENARIOS[name]
        m = run(sc, args.start, args.rps, args.workers)
        failed = [r.asset_id for r in m["results"] if not r.ok]
        print(f"== {name}: {len(sc.series)} KIS series from {args.start}, server {sc.server_rps}/s, "
              f"{len(failed)} failed {failed or ''}")  # fmt: skip
        for r in m["results"]:
            print(f"  {r.line()}")
        print(f"calls answered    : {m['answered']} ({m['html_502']} HTML 502) + {m['refused']} refused for the rate"
              f" + {m['spurious']} refused spuriously (EGW00201 under the limit)")  # fmt: skip
        print(f"token issuances   : {m['tokens']}")
        print(f"wall time         : {m['wall']:.2f} s  (ceiling {args.rps:g}/s, {args.workers} workers)")
        print(f"floor             : {m['floor']:.2f} s")
        if m["first_request"] is not None:
            first, data = m["first_request"]
            print(f"start             : {first:.2f} s to the first request (target <= {START_TARGET}), {data:.2f} s to"
                  " the first data call")  # fmt: skip
            summary.append(f"{name}: start {first:.2f} s (target <= {START_TARGET}), first data call {data:.2f} s")
        else:
            print(f"learned rate      : {m['learned']:.2f}/s at the end")
        if sc.target_ratio is not None:
            line = f"{name}: ratio {m['ratio']:.3f} (target <= {sc.target_ratio})"
        else:
            line = f"{name}: refused share {m['refused_share']:.1%} (target <= {sc.target_refused:.0%})"
        print(f"result            : {line}")
        summary.append(line)
    print("== summary")
    for line in summary:
        print(f"  {line}")


if __name__ == "__main__":
    main()
