"""What the real KIS answers where it differs from its documents (issue 25; kis-api.md, "Field facts measured by
others"), against the local server made to answer the same way: the dead `S` market, a US price outside hours, the
overseas chart's delayed `output1`, the swapped FX codes, codes sent without the master's class letter, `rt_cd "2"`
and unknown service codes, an invalid token, and a quiet exit while a backfill writes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import sys
import threading

import pytest

from collectors.errors import CollectorError, NoDataError
from collectors.kis import KisCollector
from marketdash.domain import calendars, catalog, clock, symbols
from marketdash.domain.config import Secret, load_settings
from marketdash.domain.records import CLOSE, DELAYED, LIVE
from marketdash.services.market import MarketService
from marketdash.services.store import Store
from tests import master_server as ms
from tests.kis_server import APP_KEY, APP_SECRET, KisServer

TODAY = dt.date(2026, 7, 10)  # a Friday
KST = dt.timezone(dt.timedelta(hours=9))
SEOUL_DAY = dt.datetime(2026, 7, 10, 11, 0, tzinfo=KST)  # KRX open; the US session of 07-09 closed at 05:00 KST
US_NIGHT = dt.datetime(2026, 7, 10, 23, 30, tzinfo=KST)  # 10:30 New York: the US session of 07-10 trades


@pytest.fixture
def kis():
    server = KisServer(today=TODAY, history_start=dt.date(2026, 1, 2), token_interval=0.3).start()
    yield server
    server.stop()


def service(kis: KisServer, tmp_path) -> MarketService:
    collector = KisCollector.connect(kis.url, Secret(APP_KEY), Secret(APP_SECRET), tmp_path / "token.json",
                                     max_rps=20, min_issue_interval=0.3, backoff=0.05)  # fmt: skip
    from collectors.registry import live_quoters

    settings = load_settings({"MARKET_DB": str(tmp_path / "m.duckdb")})
    collectors = {a.id: collector for a in catalog.ASSETS.values() if a.source == "kis"}
    svc = MarketService(settings, collectors=collectors)
    svc.live._quoters = live_quoters(settings, collectors)
    return svc


def markets_asked(kis: KisServer) -> set[str]:
    return {p.get("FID_COND_MRKT_DIV_CODE") for _, p in kis.calls if "FID_COND_MRKT_DIV_CODE" in p}


# -- 1. the S market is a dead feed --------------------------------------------------------------------------------
def test_gold_and_silver_are_asked_under_n_only_and_s_is_never_asked(kis, tmp_path):
    svc = service(kis, tmp_path)
    for asset_id in ("gold", "silver"):
        assert svc.update_one(asset_id, dt.date(2026, 6, 1), TODAY).ok
    with clock.pinned(SEOUL_DAY):
        results = svc.live.poll(["gold", "silver"], everything=True)
    assert [r.status for r in results] == ["ok", "ok"]
    assert "S" not in markets_asked(kis)


def test_a_symbol_no_live_market_answers_is_no_data_never_a_frozen_price(kis, tmp_path):
    kis.gold_market = "Z"  # NYGOLD answers under no market code; S would answer its frozen 2023 value
    svc = service(kis, tmp_path)
    result = svc.update_one("gold", dt.date(2026, 6, 1), TODAY)
    assert result.status == "error" and result.kind == "no data"
    assert svc.store.read_bars(["gold"]).empty
    (quote,) = svc.live.poll(["gold"], everything=True)
    assert quote.status == "error" and quote.quote is None
    assert svc.store.snapshots(["gold"]).empty  # never shown as a live price
    assert "S" not in markets_asked(kis)


def test_an_answer_with_a_price_but_no_bars_is_refused():
    from collectors import quotes

    frozen = {"ovrs_nmix_prpr": "1928.60", "ovrs_nmix_prdy_clpr": "1925.10"}
    with pytest.raises(NoDataError, match="no daily bars"):
        quotes.overseas_chart(catalog.get("gold"), frozen, SEOUL_DAY, rows=[])


def test_commodities_only_under_s_are_marked_in_search_and_cannot_be_added(monkeypatch):
    server = ms.MasterServer().start()
    try:
        monkeypatch.delenv("DASHBOARD_OFFLINE")
        monkeypatch.setenv("KIS_MASTER_URL", server.url)
        monkeypatch.setenv("UPBIT_BASE_URL", "http://127.0.0.1:9")
        svc = MarketService(load_settings())
        svc.universe.refresh()
        found = svc.universe.search("PLATINUM", 3)
        assert found["id"].iloc[0] == "ovs:PLATINUM" and symbols.NOT_SERVED in found["warnings"].iloc[0]
        assert svc.universe.resolve(["ovs:PLATINUM", "ovs:SPX"]) == (["ovs:SPX"], ["ovs:PLATINUM"])
    finally:
        server.stop()


# -- 2. a US price outside US hours --------------------------------------------------------------------------------
@pytest.mark.parametrize("hours", ["closed", "preopen"])
def test_a_us_price_outside_hours_is_the_last_close_dated_by_its_session(kis, tmp_path, hours):
    kis.us_hours = hours
    svc = service(kis, tmp_path)
    with clock.pinned(SEOUL_DAY):
        (result,) = svc.live.poll(["soxl"], everything=True)
        assert result.status == "ok", result.message
        q = result.quote
        assert q.kind == CLOSE and q.price == kis.prev_close("SOXL")
        assert q.session == calendars.expected_last_session(catalog.get("soxl"), SEOUL_DAY) == dt.date(2026, 7, 9)
        (row,) = svc.live.board(["soxl"])
        assert row.error is None and row.quote.kind == CLOSE


def test_a_us_symbol_is_unknown_only_when_the_source_says_so(kis, tmp_path):
    kis.quote_faults["SOXL"] = "empty"  # every field blank: what a wrong exchange code answers
    (result,) = service(kis, tmp_path).live.poll(["soxl"], everything=True)
    assert result.status == "error" and "exchange code" in result.message


# -- 3. the overseas chart's output1 is delayed or a close ---------------------------------------------------------
def test_an_overseas_quote_in_the_korean_daytime_is_the_previous_us_close_dated_so(kis, tmp_path):
    kis.chart_delayed = True
    svc = service(kis, tmp_path)
    with clock.pinned(SEOUL_DAY):
        (result,) = svc.live.poll(["gold"], everything=True)
    q = result.quote
    assert q.kind == CLOSE and q.session == dt.date(2026, 7, 9)
    assert q.price == float(kis.rows("NYGOLD")[-2]["ovrs_nmix_prpr"])  # the close of 07-09, not a live price
    assert q.quoted_at == dt.datetime(2026, 7, 9, 17, 0, tzinfo=catalog.get("gold").tz)  # dated by its session
    window = [p for _, p in kis.calls if p.get("FID_INPUT_ISCD") == "NYGOLD"][-1]
    assert window["FID_INPUT_DATE_2"] == TODAY.strftime("%Y%m%d")  # the window asked for includes today


def test_an_overseas_quote_of_the_session_under_way_is_delayed_not_live(kis, tmp_path):
    svc = service(kis, tmp_path)
    with clock.pinned(US_NIGHT):
        (result,) = svc.live.poll(["gold"], everything=True)
    assert result.quote.kind == DELAYED and result.quote.session == TODAY
    stored = svc.live.latest()["gold"]
    assert (stored.kind, stored.session) == (DELAYED, TODAY)  # kept with the snapshot


def test_a_krx_quote_stays_live(kis, tmp_path):
    with clock.pinned(SEOUL_DAY):
        (result,) = service(kis, tmp_path).live.poll(["samsung"], everything=True)
    assert result.quote.kind == LIVE and result.quote.session is None


# -- 4. the swapped FX codes ---------------------------------------------------------------------------------------
def test_the_swapped_fx_codes_are_named_by_the_series_they_answer(kis, tmp_path):
    frame = symbols.parse_overseas(ms.master_file(ms.OVERSEAS_ROWS))
    rows = frame.set_index("id")
    assert rows.loc["ovs:FX@INR", "name_ko"] == "인도네시아 루피아"
    assert rows.loc["ovs:FX@INR", "name_en"] == "USD/IDR (Indonesian rupiah)"
    assert rows.loc["ovs:FX@IDR", "name_en"] == "USD/INR (Indian rupee)"
    inr = symbols.to_asset({"id": "ovs:FX@INR", **rows.loc["ovs:FX@INR"].to_dict()})
    assert inr.currency == "IDR" and catalog.symbol_asset("ovs:FX@IDR").currency == "INR"
    collector = next(iter(service(kis, tmp_path).sources.collectors().values()))
    bars = [b for page in collector.pages(inr, dt.date(2026, 6, 1), TODAY) for b in page]
    assert bars and min(b.close for b in bars) > 10_000  # rupiah-sized: the name matches the series
    assert bars[0].currency == "IDR"


# -- 5. codes are sent without the master's class letter -----------------------------------------------------------
@pytest.mark.parametrize(
    ("cls", "code", "market"),
    [("C", "XAUUSDCOMP", "N"), ("B", "Y0202", "I"), ("X", "FX@JPY", "X"), ("W", "JP#NI225", "N"), ("P", "SPX", "N")],
)
def test_every_overseas_class_is_sent_without_its_letter_under_its_market(kis, tmp_path, cls, code, market):
    frame = symbols.parse_overseas(ms.master_file(ms.OVERSEAS_ROWS)).set_index("id")
    asset = symbols.to_asset({"id": f"ovs:{code}", **frame.loc[f"ovs:{code}"].to_dict()})
    assert frame.loc[f"ovs:{code}", "symbol_class"] == cls and asset.code == code
    collector = next(iter(service(kis, tmp_path).sources.collectors().values()))
    bars = [b for page in collector.pages(asset, dt.date(2026, 6, 1), TODAY) for b in page]
    assert bars
    sent = {(p["FID_INPUT_ISCD"], p["FID_COND_MRKT_DIV_CODE"]) for _, p in kis.calls}
    assert sent == {(code, market)}
    with pytest.raises(NoDataError):  # with the letter the answer is empty (the server, like KIS)
        list(collector.pages(dataclasses.replace(asset, id=f"ovs:{cls}{code}"[:14], code=f"{cls}{code}"),
                             dt.date(2026, 6, 1), TODAY))  # fmt: skip


# -- 6. other answers ----------------------------------------------------------------------------------------------
def test_an_input_kis_rejects_is_an_error_naming_the_asset_and_is_not_retried(kis, tmp_path):
    kis.input_errors = {"005930"}
    svc = service(kis, tmp_path)
    result = svc.update_one("samsung", dt.date(2026, 6, 1), TODAY)
    assert result.status == "error" and "OPSQ2002" in result.message and "Samsung" in result.message
    assert len(kis.calls) == 1  # answered once, and not asked again


def test_an_unknown_service_code_names_the_asset(kis, tmp_path):
    collector = next(iter(service(kis, tmp_path).sources.collectors().values()))
    with pytest.raises(CollectorError, match="service code") as caught:
        collector.call(
            "/uapi/domestic-stock/v1/quotations/inquire-price",
            "FHKST99999999",
            {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"},
            catalog.get("samsung"),
        )
    assert "Samsung" in str(caught.value) and caught.value.code == "OPSQ0002"


def test_an_invalid_token_is_renewed_once(kis, tmp_path):
    kis.first_token_invalid_after = 1
    svc = service(kis, tmp_path)
    assert svc.update_one("samsung", dt.date(2026, 1, 2), TODAY).ok
    assert kis.token_issues == 2


# -- 7. a quiet exit while a backfill writes -----------------------------------------------------------------------
def test_the_exit_waits_for_a_write_in_flight_and_says_nothing(tmp_path):
    code = f"""
import threading, time
from marketdash.services.store import Store
from marketdash.services.store import files
store = Store({str(tmp_path / "m.duckdb")!r})
store.last_dates()
def writer():
    with store.connect(write=True) as con:
        started.set()
        time.sleep(0.5)
        con.execute("INSERT INTO user_assets VALUES ('krx:005380', now())")
started = threading.Event()
threading.Thread(target=writer, daemon=True).start()
started.wait()
"""  # the interpreter exits while the writer's call is in flight: atexit closes the store under it
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(__import__("tests.conftest").conftest.ROOT), "PATH": ""})  # fmt: skip
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert Store(tmp_path / "m.duckdb").user_assets() == ["krx:005380"]  # what it wrote is kept


def test_release_after_the_exit_closed_everything_is_quiet(tmp_path):
    from marketdash.services.store import files

    store = Store(tmp_path / "m.duckdb")
    done = threading.Event()

    def call() -> None:
        with store.connect():
            done.wait(2)

    thread = threading.Thread(target=call)
    thread.start()
    files.EXIT_WAIT, before = 0.1, files.EXIT_WAIT
    try:
        files._close_all()  # gives up waiting on the call in flight
    finally:
        files.EXIT_WAIT = before
    done.set()
    thread.join()  # its release finds nothing to close, and raises nothing
    assert store.last_dates() == {}
