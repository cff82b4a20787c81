"""Live quotes (issue 8): wire formats of KIS's current prices and Upbit's ticker, their success-shaped errors,
snapshots kept apart from daily bars, and the `snapshot` command, against local servers."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from collectors import quotes
from collectors.errors import NoDataError
from collectors.kis import KisCollector
from marketdash.domain import catalog
from marketdash.domain.config import Secret, load_settings
from marketdash.services.market import MarketService
from tests.conftest import run_cli
from tests.kis_server import APP_KEY, APP_SECRET, KisServer, cli_env
from tests.upbit_server import UpbitServer

AT = dt.datetime(2026, 7, 8, 5, 15, tzinfo=dt.UTC)
TODAY = dt.date(2026, 7, 10)


# -- transforms on the documented payloads (shared/live-quotes.md) -------------------------------------------------
def test_domestic_stock_previous_close_is_price_less_signed_change():
    output = json.loads('{"stck_prpr":"268500","prdy_vrss":"-6000","prdy_vrss_sign":"5","prdy_ctrt":"-2.19",'
                        '"stck_sdpr":"274500","rprs_mrkt_kor_name":"KOSPI200"}')  # fmt: skip
    q = quotes.domestic_stock(catalog.get("samsung"), output, AT)
    assert (q.price, q.prev_close, round(q.change_pct, 2), q.time_from_source) == (268500, 274500, -2.19, False)


def test_index_change_comes_from_the_bstp_fields():
    output = {"bstp_nmix_prpr": "921.35", "bstp_nmix_prdy_vrss": "-14.62", "bstp_nmix_prdy_ctrt": "-1.56"}
    q = quotes.domestic_index(catalog.get("kospi200"), output, AT)
    assert (q.price, round(q.prev_close, 2), round(q.change_pct, 2)) == (921.35, 935.97, -1.56)


def test_soxl_uses_base_as_previous_close_whatever_the_unsigned_diff_says():
    output = {"rsym": "DAMSSOXL", "base": "31.2500", "last": "30.4100", "sign": "5", "diff": "0.8400", "rate": "-2.69"}
    q = quotes.overseas_stock(catalog.get("soxl"), output, AT)
    assert (q.price, q.prev_close, round(q.change_pct, 2)) == (30.41, 31.25, -2.69)


def test_fx_snapshot_from_chart_output1_and_padded_values():
    """AT is 14:15 KST on 07-08: the won market's session of 07-08 is under way, so its bar's value is delayed."""
    output1 = {"ovrs_nmix_prpr": "  1411.80", "ovrs_nmix_prdy_clpr": "1407.70", "ovrs_nmix_prdy_vrss": "4.10"}
    rows = [{"stck_bsop_date": "20260708", "ovrs_nmix_prpr": "1411.80"}, {}]
    q = quotes.overseas_chart(catalog.get("usdkrw"), output1, AT, rows=rows)
    assert (q.price, q.prev_close, q.kind, q.session) == (1411.80, 1407.70, "delayed", dt.date(2026, 7, 8))


def test_upbit_ticker_carries_its_own_trade_time_and_a_fraction():
    rows = [{"market": "KRW-BTC", "trade_price": 159800000.0, "prev_closing_price": 158500000.0,
             "signed_change_rate": 0.0082018927, "trade_timestamp": 1783487702123}]  # fmt: skip
    q = quotes.ticker(catalog.get("btc"), rows, "upbit")
    assert q.time_from_source and q.quoted_at == dt.datetime.fromtimestamp(1783487702.123, dt.UTC)
    assert round(q.change_pct, 4) == round(0.0082018927 * 100, 4)


@pytest.mark.parametrize(
    ("transform", "asset_id", "output", "says"),
    [
        (quotes.domestic_stock, "samsung", {"stck_prpr": "0", "prdy_vrss": "0"}, "no such symbol"),
        (quotes.overseas_stock, "soxl", {"last": "", "base": "", "diff": "", "rate": ""}, "check the exchange code"),
        (quotes.overseas_chart, "gold", {"ovrs_nmix_prpr": "0.00", "ovrs_nmix_prdy_clpr": "0.00"}, "no such symbol"),
    ],
)
def test_errors_hiding_in_success_are_errors_in_plain_words(transform, asset_id, output, says):
    rows = (
        {"rows": [{"stck_bsop_date": "20260707", "ovrs_nmix_prpr": "0.00"}]}
        if transform is quotes.overseas_chart
        else {}
    )
    with pytest.raises(NoDataError, match=says):
        transform(catalog.get(asset_id), output, AT, **rows)


# -- against the local servers -------------------------------------------------------------------------------------
@pytest.fixture
def servers():
    kis = KisServer(today=TODAY, history_start=dt.date(2026, 1, 2), token_interval=0.3).start()
    upbit = UpbitServer(first_day=dt.date(2026, 1, 1), last_day=TODAY).start()
    yield kis, upbit
    kis.stop()
    upbit.stop()


def _service(kis: KisServer, upbit: UpbitServer, tmp_path, paper: bool = False) -> MarketService:
    env = {"MARKET_DB": str(tmp_path / "m.duckdb"), "UPBIT_BASE_URL": upbit.url, "BITHUMB_BASE_URL": "http://127.0.0.1:9",
           "KIS_ENV": "paper" if paper else "real"}  # fmt: skip
    settings = load_settings(env)
    kis_client = KisCollector.connect(kis.url, Secret(APP_KEY), Secret(APP_SECRET), tmp_path / "token.json",
                                      max_rps=20, min_issue_interval=0.3)  # fmt: skip
    from collectors.registry import live_quoters

    collectors = {a.id: kis_client for a in catalog.ASSETS.values() if a.source == "kis"}
    svc = MarketService(settings, collectors=collectors)
    svc.live._quoters = live_quoters(settings, collectors)
    return svc


def test_a_round_stores_every_quote_as_a_snapshot_never_as_a_bar(servers, tmp_path):
    kis, upbit = servers
    svc = _service(kis, upbit, tmp_path)
    from marketdash.domain import clock

    with clock.pinned(dt.datetime(2026, 7, 10, 2, 0, tzinfo=dt.UTC)):  # a quote's week of bars holds TODAY
        results = svc.live.poll(list(catalog.ASSETS), everything=True)
    assert [r.status for r in results] == ["ok"] * len(catalog.ASSETS), [r.message for r in results]
    got = {r.asset_id: r.quote for r in results}
    assert got["samsung"].price == kis.price("005930") and got["samsung"].prev_close == kis.prev_close("005930")
    assert got["gold"].price == kis.price("NYGOLD") and got["soxl"].prev_close == kis.prev_close("SOXL")
    assert got["btc"].source == "upbit" and got["btc"].time_from_source
    assert not got["kospi200"].time_from_source
    assert len(svc.store.snapshots()) == len(catalog.ASSETS)
    assert svc.store.read_bars().empty  # a snapshot never becomes a daily bar
    assert len(kis.quote_calls()) == 7 and kis.token_issues == 1


def test_a_failing_source_keeps_the_last_snapshot_and_says_why(servers, tmp_path):
    kis, upbit = servers
    svc = _service(kis, upbit, tmp_path)
    svc.live.poll(["soxl"], everything=True)
    kis.quote_faults["SOXL"] = "empty"
    (result,) = svc.live.poll(["soxl"], everything=True)
    assert result.status == "error" and "exchange code" in result.message
    (row,) = svc.live.board(["soxl"])
    assert row.quote is not None and row.quote.price == kis.price("SOXL")  # the last good one, kept
    assert "exchange code" in str(row.error)


def test_kospi200_falls_back_to_the_index_chart_where_the_current_index_is_not_offered(servers, tmp_path):
    kis, upbit = servers
    kis.index_quote_offered = False  # as on a paper host: MCA00124
    (result,) = _service(kis, upbit, tmp_path).live.poll(["kospi200"], everything=True)
    assert result.status == "ok" and result.quote.prev_close == kis.prev_close("2001")
    paper = _service(kis, upbit, tmp_path / "p", paper=True).live.poll(["kospi200"], everything=True)
    assert paper[0].status == "ok"
    paths = [c[0] for c in kis.calls]
    assert paths.count("/uapi/domestic-stock/v1/quotations/inquire-index-price") == 1  # paper never asks for it


def test_closed_markets_are_not_polled_once_their_last_price_is_stored(servers, tmp_path):
    kis, upbit = servers
    svc = _service(kis, upbit, tmp_path)
    saturday = dt.datetime(2026, 7, 11, 3, 0, tzinfo=dt.UTC)  # 12:00 KST: KRX, NYSE and COMEX closed
    first = svc.live.poll(["samsung", "soxl", "btc"], now=saturday)
    assert [r.status for r in first] == ["ok", "ok", "ok"]  # nothing stored yet: their last prices
    second = svc.live.poll(["samsung", "soxl", "btc"], now=saturday + dt.timedelta(minutes=1))
    assert [r.status for r in second] == ["skipped", "skipped", "ok"]  # Bitcoin trades on Saturdays
    assert "closed" in second[0].message


def test_bitcoin_is_live_without_kis_keys(servers, tmp_path, monkeypatch):
    _, upbit = servers
    monkeypatch.delenv("DASHBOARD_OFFLINE")
    monkeypatch.setenv("UPBIT_BASE_URL", upbit.url)
    svc = MarketService(load_settings())
    board = {r.asset_id: r for r in svc.live.board(list(catalog.COMPARED))}
    assert board["btc"].why_not_live is None
    assert "KIS_APP_KEY" in str(board["samsung"].why_not_live)
    results = {r.asset_id: r for r in svc.live.poll(list(catalog.COMPARED), everything=True)}
    assert results["btc"].status == "ok" and results["samsung"].status == "skipped"


def test_the_snapshot_command_prints_a_line_per_asset(tmp_path):
    """A child process keeps the real clock: the servers' history ends today."""
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=9))).date()
    kis = KisServer(today=today, history_start=today - dt.timedelta(days=40), token_interval=0.3).start()
    upbit = UpbitServer(first_day=today - dt.timedelta(days=40), last_day=today).start()
    env = cli_env(kis, tmp_path, UPBIT_BASE_URL=upbit.url, BITHUMB_BASE_URL="http://127.0.0.1:9")
    out = run_cli(env, "snapshot", "--assets", "samsung,gold,btc", "--db", str(tmp_path / "m.duckdb"))
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["samsung", "btc", "gold"]
    assert "(fetch time)" in lines[0] and "(fetch time)" not in lines[1]
    kis.quote_faults["NYGOLD"] = "zero"
    failed = run_cli(env, "snapshot", "--assets", "gold", "--db", str(tmp_path / "m.duckdb"))
    kis.stop()
    upbit.stop()
    assert failed.returncode == 1 and "no such symbol" in failed.stdout


def test_a_closed_sessions_daily_bar_replaces_the_provisional_price(servers, tmp_path):
    from marketdash.domain.records import Quote

    kis, upbit = servers
    svc = _service(kis, upbit, tmp_path)
    assert svc.update_one("samsung", dt.date(2026, 6, 1), TODAY).ok
    friday = dt.datetime(2026, 7, 10, 6, 29, tzinfo=dt.UTC)  # 15:29 KST, a minute before the close
    svc.store.add_snapshots([Quote("samsung", 99_999.0, 98_000.0, "KRW", "kis", friday, False, "open")])
    saturday = dt.datetime(2026, 7, 11, 3, 0, tzinfo=dt.UTC)
    (row,) = svc.live.board(["samsung"], now=saturday)
    bars = svc.store.read_bars(["samsung"])
    assert row.quote.price == bars["close"].iloc[-1] and row.quote.prev_close == bars["close"].iloc[-2]
    assert row.quote.source == "kis daily close"
    monday = dt.datetime(2026, 7, 13, 1, 0, tzinfo=dt.UTC)  # 10:00 KST: trading again, the quote is provisional
    (row,) = svc.live.board(["samsung"], now=monday)
    assert row.quote.price == 99_999.0


def test_a_rate_limited_poll_slows_the_poller(monkeypatch):
    from marketdash.services.jobs import QuotePoller

    upbit = UpbitServer(per_second=0, block_after_429s=99).start()  # every ticker call: 429
    try:
        monkeypatch.delenv("DASHBOARD_OFFLINE")
        monkeypatch.setenv("UPBIT_BASE_URL", upbit.url)
        monkeypatch.setenv("BITHUMB_BASE_URL", upbit.url)
        poller = QuotePoller(MarketService(load_settings()), every=5.0)
        poller.tick(["btc"])
        assert poller.interval == 10.0 and upbit.too_many >= 2
        (row,) = poller.service.live.board(["btc"])
        assert row.quote is None and "429" in str(row.error)
    finally:
        upbit.stop()


def test_one_poll_per_interval_however_many_tabs_tick(monkeypatch):
    """Tabs refresh every QUOTE_EVERY (plus the run's own time) from random phases, and a round takes 1.5 s; the
    poller makes one round a slot: ten minutes of ten tabs cost what ten minutes of one cost, and one tab polls on
    nearly every refresh."""
    import random

    from marketdash.services import jobs

    clock = {"now": 0.0}
    monkeypatch.setattr(jobs.time, "monotonic", lambda: clock["now"])

    def rounds_with(tabs: int) -> list[float]:
        rounds: list[float] = []

        class Live:
            def poll(self, due):  # a round of HTTP calls takes a while on a busy machine
                rounds.append(clock["now"])
                clock["now"] += 1.5
                return []

        class Service:
            live = Live()

        poller = jobs.QuotePoller(Service(), every=5.0)
        rng = random.Random(tabs)
        phases = [rng.uniform(0, 5) for _ in range(tabs)]
        for at in sorted(phase + k * 5.05 for phase in phases for k in range(120)):
            clock["now"] = 1000.0 + at
            poller.tick(["btc"])
        return rounds

    one, ten = rounds_with(1), rounds_with(10)
    assert len(one) >= 0.97 * 120  # the lone tab's refreshes nearly all poll
    assert abs(len(ten) - len(one)) <= 0.05 * len(one), (len(one), len(ten))
    for rounds in (one, ten):  # never two rounds in one 5-second slot
        assert len({r // 5 for r in rounds}) == len(rounds)
