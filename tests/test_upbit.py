"""The Bitcoin collector against local Upbit and Bithumb servers speaking their wire format."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time

import pytest

from collectors.errors import BadResponseError, BlockedError
from collectors.http import HttpClient
from collectors.upbit import BITHUMB, UPBIT, CandleCollector, FallbackCollector, transform
from marketdash.domain import catalog
from marketdash.domain.config import load_settings
from marketdash.services.market import MarketService
from marketdash.services.store import Store
from tests.upbit_server import UpbitServer

END = dt.date(2026, 7, 10)
BTC = catalog.get("btc")


@pytest.fixture
def upbit():
    srv = UpbitServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def bithumb():
    srv = UpbitServer(venue="bithumb", price_shift=-0.01).start()
    yield srv
    srv.stop()


def candle_collector(server: UpbitServer, venue=UPBIT, rps: float = 8.0, attempts: int = 4) -> CandleCollector:
    http = HttpClient(server.url, service=venue.service, max_rps=rps, max_attempts=attempts, backoff=0.05)
    return CandleCollector(http, venue)


def stored(store: Store) -> list[tuple]:
    frame = store.read_bars(["btc"])
    cols = ["date", "open", "high", "low", "close", "volume"]
    return [(d.date(), *rest) for d, *rest in frame[cols].itertuples(index=False)]


def test_transform_captured_candle():
    row = {"market": "KRW-BTC", "candle_date_time_utc": "2025-06-23T00:00:00",
           "candle_date_time_kst": "2025-06-23T09:00:00", "opening_price": 141_000_000.0, "high_price": 143_500_000.0,
           "low_price": 140_100_000.0, "trade_price": 142_900_000.0, "timestamp": 1750723199999,
           "candle_acc_trade_price": 1.7e11, "candle_acc_trade_volume": 1201.55310357}  # fmt: skip
    (bar,) = transform(BTC, [row, {}], "upbit")
    assert (bar.date, bar.open, bar.close, bar.volume, bar.source) == (
        dt.date(2025, 6, 23), 141_000_000.0, 142_900_000.0, 1201.55310357, "upbit",
    )  # fmt: skip


def test_cli_backfill_stores_every_candle_within_the_limit_then_only_new_days(upbit, tmp_path):
    from tests.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if k != "DASHBOARD_OFFLINE"}
    env.update(PYTHONPATH=str(ROOT), UPBIT_BASE_URL=upbit.url, BITHUMB_BASE_URL="http://127.0.0.1:9")
    db = tmp_path / "btc.duckdb"
    cmd = [sys.executable, "-m", "collectors", "update", "--assets", "btc", "--end", str(END), "--db", str(db)]
    first = subprocess.run([*cmd, "--start", "2018-01-01"], env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    assert stored(Store(db)) == upbit.expected(dt.date(2018, 1, 1), END)
    assert upbit.too_many == 0 and upbit.blocked_answers == 0
    tos = [c["to"] for c in upbit.calls]
    assert len(tos) == len(set(tos)) == -(-len(upbit.expected(dt.date(2018, 1, 1), END)) // 200)
    assert all(t.endswith("Z") for t in tos)  # explicit UTC, never left to the server's default

    before = len(upbit.calls)
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0 and "+0 new" in second.stdout
    assert len(upbit.calls) - before == 1
    assert upbit.calls[-1]["to"] == (END + dt.timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z")


def test_paging_never_repeats_or_skips_a_day_across_no_trade_gaps(upbit):
    pages = list(candle_collector(upbit).pages(BTC, dt.date(2017, 12, 1), dt.date(2024, 6, 1)))
    days = [b.date for page in pages for b in page]
    assert len(days) == len(set(days))
    assert sorted(days) == [row[0] for row in upbit.expected(dt.date(2017, 12, 1), dt.date(2024, 6, 1))]
    assert dt.date(2024, 2, 29) not in days  # a day without trades has no candle, and none is made up


def test_429_slows_the_client_down_without_a_418(upbit):
    upbit.per_second, upbit.send_remaining = 3, False  # only 429s to go by
    pages = list(candle_collector(upbit, rps=8.0, attempts=6).pages(BTC, dt.date(2019, 1, 1), END))
    assert upbit.too_many > 0
    assert upbit.blocked_answers == 0
    assert sorted(b.date for p in pages for b in p) == [r[0] for r in upbit.expected(dt.date(2019, 1, 1), END)]


def test_remaining_req_keeps_the_client_under_the_limit(upbit):
    upbit.per_second = 4
    list(candle_collector(upbit, rps=50.0).pages(BTC, dt.date(2019, 1, 1), END))
    assert upbit.too_many == 0


def test_418_stops_at_once_and_says_how_long(upbit):
    upbit.blocked_until = time.monotonic() + 120
    with pytest.raises(BlockedError, match=r"blocked this IP for 1[12]\d s") as err:
        list(candle_collector(upbit).pages(BTC, dt.date(2024, 1, 1), END))
    assert err.value.retry_after >= 110
    assert len(upbit.calls) == 1  # no tight loop into a longer block


def test_malformed_json_is_a_clear_error(upbit):
    upbit.malformed_next = 10
    with pytest.raises(BadResponseError, match="non-JSON body"):
        list(candle_collector(upbit, attempts=2).pages(BTC, dt.date(2024, 1, 1), END))


def test_upbit_failing_midway_moves_to_bithumb_with_nothing_lost(upbit, bithumb):
    upbit.fail_after = 3  # three pages of 200 days, then HTML 503 pages
    collector = FallbackCollector(candle_collector(upbit, attempts=2), candle_collector(bithumb, BITHUMB))
    svc = MarketService(load_settings(), collectors={"btc": collector})
    result = svc.update_one("btc", dt.date(2018, 1, 1), END)
    assert result.ok, result.message
    assert result.source == "bithumb+upbit"
    got = svc.store.read_bars(["btc"])
    upbit_days = got.loc[got["source"] == "upbit", "date"].dt.date
    assert len(upbit_days) == 600 and upbit_days.max() == END
    expected_dates = [r[0] for r in upbit.expected(dt.date(2018, 1, 1), END)]
    assert got["date"].dt.date.tolist() == expected_dates
    older = got[got["source"] == "bithumb"]
    assert older["date"].max().date() < upbit_days.min()
    # Bithumb is read with KST `to` values: its first request ends where Upbit's data stopped.
    first_to = dt.datetime.fromisoformat(bithumb.calls[0]["to"]) - dt.timedelta(hours=9)
    assert first_to.date() == upbit_days.min()


def test_second_update_never_replaces_upbit_days_with_bithumb(upbit, bithumb):
    svc = MarketService(load_settings(), collectors={"btc": candle_collector(upbit)})
    svc.update_one("btc", dt.date(2026, 1, 1), END)
    later = MarketService(load_settings(), collectors={"btc": candle_collector(bithumb, BITHUMB)})
    assert later.update_one("btc", dt.date(2026, 1, 1), END).ok
    assert set(svc.store.read_bars(["btc"])["source"]) == {"upbit"}


def test_offline_app_shows_bitcoin_from_the_store(upbit, monkeypatch):
    svc = MarketService(load_settings(), collectors={"btc": candle_collector(upbit)})
    assert svc.update_one("btc", dt.date(2026, 1, 1), END).ok
    monkeypatch.setenv("DASHBOARD_OFFLINE", "1")
    from tests.test_pages import run_page

    at = run_page("app.py")
    cards = dict(zip([m.label for m in at.metric], [c.value for c in at.caption if "range " in c.value], strict=True))
    assert cards["Bitcoin"].startswith(f"last close {END:%m-%d}")  # the stored close, not sample data
    assert all(c.startswith("**sample**") for name, c in cards.items() if name != "Bitcoin")
    assert not any("Bitcoin" in w.value for w in at.warning)
