"""One budget per KIS key (issue 10): a low limit learned once and remembered, shared by threads and processes, and
a rerun with --start that fetches only what is missing; refusals under the limit taken for noise (issue 17)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import stat
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

from collectors.kis import KisCollector
from collectors.kis_auth import cache_lock
from collectors.limiter import SharedLimiter, background, limit_shown
from marketdash.domain.config import Secret, load_settings
from marketdash.services.market import MarketService
from tests.conftest import run_cli
from tests.kis_dividends_server import REAL_ONLY as DIVIDEND_KINDS
from tests.kis_server import APP_KEY, APP_SECRET, PATHS, KisServer, cli_env

TODAY = dt.date(2026, 7, 10)


@pytest.fixture
def server():
    srv = KisServer(today=TODAY).start()
    yield srv
    srv.stop()


def _collector(server: KisServer, tmp_path, rps: float = 20.0) -> KisCollector:
    return KisCollector.connect(server.url, Secret(APP_KEY), Secret(APP_SECRET), tmp_path / "token.json",
                                max_rps=rps, min_issue_interval=0.3, max_wait=5.0, backoff=0.05)  # fmt: skip


def _refusal_share(server: KisServer) -> float:
    return server.rate_limited / (len(server.calls) + server.rate_limited)


def test_a_3_per_second_key_is_learned_once_and_remembered(server, tmp_path):
    server.rps = 3
    first = _collector(server, tmp_path)
    ids = ["kospi200", "samsung", "skhynix"]
    svc = MarketService(load_settings(), collectors=dict.fromkeys(ids, first))
    results = svc.update(ids, start=dt.date(2020, 7, 1), end=TODAY, workers=3)  # the issue's run: about 60 calls
    assert all(r.ok for r in results), [r.message for r in results]
    calls = len(server.calls) + server.rate_limited
    assert calls >= 55
    assert _refusal_share(server) <= 0.05, (server.rate_limited, calls)
    learned = first.http.throttle.rate
    assert 2.0 <= learned < 3.0

    # The next process starts at the learned rate: not one refusal.
    server.calls.clear()
    server.rate_limited = 0
    second = _collector(server, tmp_path)
    assert second.http.throttle.rate == pytest.approx(learned)
    svc2 = MarketService(load_settings({"MARKET_DB": str(tmp_path / "second.duckdb")}), collectors={"gold": second})
    assert svc2.update_one("gold", start=dt.date(2025, 10, 1), end=TODAY).ok
    assert server.rate_limited == 0 and len(server.calls) >= 3
    state = tmp_path / "token.json.rate"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert APP_KEY not in state.read_text() and APP_SECRET not in state.read_text()


def test_a_20_per_second_key_is_used_nearly_fully_without_refusals(server, tmp_path):
    coll = _collector(server, tmp_path)
    svc = MarketService(load_settings(), collectors={"kospi200": coll})
    assert svc.update_one("kospi200", start=dt.date(2019, 1, 1), end=TODAY).ok  # about 38 pages of 50 rows
    assert _refusal_share(server) <= 0.01
    assert coll.http.throttle.rate == pytest.approx(20.0)


def test_two_processes_share_one_20_per_second_budget(server, tmp_path):
    env = cli_env(server, tmp_path, KIS_MAX_RPS="20")

    def start(name: str, assets: str) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "collectors", "update", "--assets", assets, "--start", "2019-01-01",
               "--end", str(TODAY), "--db", str(tmp_path / f"{name}.duckdb")]  # fmt: skip
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    procs = [start("app", "kospi200,samsung"), start("cron", "skhynix,usdkrw")]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    calls = len(server.calls) + server.rate_limited
    assert calls >= 60
    # Two budgets (20/s each) would offer 40/s and be refused until each learned a limit; one shared budget only by
    # scheduling jitter on a loaded machine (the suite runs four files at once on two cores).
    assert _refusal_share(server) <= 0.03, (server.rate_limited, calls)
    assert server.token_issues == 1
    budget = json.loads((tmp_path / "token.json.rate").read_text())
    assert len(budget) == 1  # one key on one host: one budget, whichever process used it


def test_a_rerun_with_start_makes_at_most_two_calls_per_series(server, tmp_path):
    env = cli_env(server, tmp_path)
    ids = "kospi200,samsung,skhynix,soxl,gold,silver,usdkrw"
    args = ("update", "--assets", ids, "--start", "2016-01-01", "--end", str(TODAY), "--db", str(tmp_path / "m.db"))
    first = run_cli(env, *args)
    assert first.returncode == 0, first.stdout + first.stderr
    before = len(server.calls)
    second = run_cli(env, *args)
    assert second.returncode == 0, second.stdout + second.stderr
    per_series = Counter(p.get("FID_INPUT_ISCD") or p.get("SYMB") for _, p in server.calls[before:])
    assert set(per_series) == {"2001", "005930", "000660", "SOXL", "NYGOLD", "NYSILV", "FX@KRW"}
    assert max(per_series.values()) <= 2, per_series
    assert "+0 new" in second.stdout


def test_an_earlier_start_fetches_only_the_older_days(server, tmp_path):
    coll = _collector(server, tmp_path)
    svc = MarketService(load_settings(), collectors={"samsung": coll})
    assert svc.update_one("samsung", start=dt.date(2025, 1, 1), end=TODAY).ok
    before = len(server.calls)
    result = svc.update_one("samsung", start=dt.date(2024, 1, 1), end=TODAY)
    assert result.ok and result.new_rows == len(server.expected("005930", dt.date(2024, 1, 1), dt.date(2024, 12, 31)))
    ends = [p["FID_INPUT_DATE_2"] for _, p in server.calls[before:]]
    assert ends[0] == TODAY.strftime("%Y%m%d")  # the new days first (one call) ...
    assert all(e < "20250101" for e in ends[1:]) and len(ends) <= 4  # ... then only the year before the store


# -- issue 17: noise is not a limit -------------------------------------------------------------------------------
def _sends(rate: float, seconds: float, refused: set[int], start: float = 1000.0) -> list[list[float]]:
    return [[start + i / rate, int(i in refused)] for i in range(int(rate * seconds))]


def test_a_refusal_among_calls_the_server_accepted_at_the_same_count_is_noise():
    outcomes = _sends(20, 3.0, refused={35, 47})  # 4 % or so at the ceiling, in steady state
    assert limit_shown(outcomes, outcomes[47][0], since=0.0) is None
    assert limit_shown(outcomes, outcomes[35][0], since=0.0) is None


def test_refusals_that_a_lower_limit_explains_are_a_limit():
    # 20/s against a 3/s key: three accepted, then every call refused until the window moves on.
    outcomes = _sends(20, 0.35, refused={3, 4, 5, 6})
    assert limit_shown(outcomes[:5], outcomes[4][0], since=0.0) is None  # two in a row happen by chance
    assert limit_shown(outcomes[:6], outcomes[5][0], since=0.0) == 3


def test_a_probe_just_over_a_real_limit_is_caught_without_a_burst():
    # 3.5/s against a limit of 3 in a rolling second: every fourth call or so is refused, never two in a row.
    outcomes, window = [], []
    for i in range(20):
        t = 1000.0 + i / 3.5
        window = [s for s in window if s > t - 1.0]
        refused = len(window) >= 3
        window += [] if refused else [t]
        outcomes.append([t, int(refused)])
    refusals = [t for t, r in outcomes if r]
    assert len(refusals) >= 3 and all(not (a and b) for (_, a), (_, b) in itertools.pairwise(outcomes))
    assert limit_shown(outcomes, refusals[1], since=0.0) is None
    assert limit_shown(outcomes, refusals[2], since=0.0) == 3


def test_spurious_refusals_under_the_limit_keep_the_rate_at_the_ceiling(tmp_path):
    # Like KIS's gateway in the field: calls under the key's limit refused EGW00201 anyway, as HTTP 500 and as
    # HTTP 200 with rt_cd "1". The old limiter lowered its rate on each (and remembered it); this one must not.
    srv = KisServer(today=TODAY, spurious_refusal_share=0.08).start()
    try:
        coll = _collector(srv, tmp_path)
        ids = ["kospi200", "samsung", "skhynix"]
        svc = MarketService(load_settings({"MARKET_DB": str(tmp_path / "m.duckdb")}),
                            collectors=dict.fromkeys(ids, coll))  # fmt: skip
        results = svc.update(ids, start=dt.date(2016, 1, 1), end=TODAY, workers=3)
        assert all(r.ok for r in results), [r.message for r in results]
        assert srv.spurious_refused >= 5  # the run met noise of both shapes ...
        assert srv.rate_limited == 0  # ... and never crossed the real limit
        assert coll.http.throttle.rate == pytest.approx(20.0)  # ... and kept the key's full rate
        stored = svc.store.read_bars(["samsung"], dt.date(2016, 1, 1), TODAY)
        assert len(stored) == len(srv.expected("005930", dt.date(2016, 1, 1), TODAY))
    finally:
        srv.stop()


# -- issue 32: the screen's calls first ---------------------------------------------------------------------------
def test_a_screens_calls_go_ahead_of_the_backfill_in_the_one_budget(server, tmp_path):
    """The history behind the page (three workers, in `background()`) is under way on a 5/s key when a page asks
    for one series' year: every call of that year is sent before any further backfill call (one already granted its
    slot may go first), instead of taking one slot in four."""
    server.rps = 5
    coll = _collector(server, tmp_path, rps=5.0)
    ids = ["kospi200", "skhynix", "gold"]
    svc = MarketService(load_settings({"MARKET_DB": str(tmp_path / "m.duckdb")}),
                        collectors=dict.fromkeys([*ids, "samsung"], coll))  # fmt: skip

    def backfill() -> None:
        with background():
            svc.update(ids, start=dt.date(2022, 1, 1), end=TODAY, workers=3)

    behind = threading.Thread(target=backfill, daemon=True)
    behind.start()
    while len(server.calls) < 6:  # the backfill holds the budget
        time.sleep(0.05)
    screen = svc.update_one("samsung", start=TODAY - dt.timedelta(days=366), end=TODAY)  # three calls
    assert screen.ok
    order = ["screen" if p.get("FID_INPUT_ISCD") == "005930" else "behind" for _, p in server.calls]
    first = order.index("screen")
    assert order[first : first + 4].count("behind") <= 1, order[first - 2 : first + 6]
    assert order.count("screen") == 3
    behind.join(timeout=120)
    assert not behind.is_alive()


def test_background_calls_wait_while_a_screens_call_waits_for_a_slot(tmp_path):
    """The budget's own rule, without a server: at 4/s, a screen's calls made one after another take consecutive
    slots while three background threads keep asking."""
    limiter = SharedLimiter(tmp_path / "rate", cache_lock(tmp_path / "token"), "slot", ceiling=4.0)
    sent: list[tuple[float, str]] = []
    stop = threading.Event()

    def behind() -> None:
        with background():
            while not stop.is_set():
                sent.append((limiter.wait(), "behind"))

    threads = [threading.Thread(target=behind, daemon=True) for _ in range(3)]
    for th in threads:
        th.start()
    time.sleep(1.0)
    for _ in range(4):
        sent.append((limiter.wait(), "screen"))
    stop.set()
    for th in threads:
        th.join(timeout=10)
    order = [who for _, who in sorted(sent)]
    first = order.index("screen")
    assert order[first : first + 4] == ["screen"] * 4, order
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(sorted(sent))]
    assert min(gaps) >= 0.25 * 0.99  # one budget: the priority never sends faster than the rate


def test_the_command_asks_for_dividends_beside_the_prices_not_after_them(server, tmp_path):
    """The dividends' few calls take slots the series leave (issue 32): the first of them goes out before the last
    price call, where it used to wait for every series to end. Both still reach the store and the summary."""
    env = cli_env(server, tmp_path)
    done = run_cli(env, "update", "--assets", "kospi200,samsung,soxl", "--start", "2020-01-01", "--end", str(TODAY),
                   "--db", str(tmp_path / "m.db"))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    kinds = [PATHS[path][0] for path, _ in server.calls]
    paying = [i for i, kind in enumerate(kinds) if kind in DIVIDEND_KINDS]
    assert paying and min(paying) < max(i for i, kind in enumerate(kinds) if kind not in DIVIDEND_KINDS)
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if line.strip()}
    assert "|" in lines["samsung"] and "|" in lines["soxl"] and "|" not in lines["kospi200"]  # their dividends said
