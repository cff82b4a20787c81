"""Issue 16: symbol lists in the real formats (zips built here from the documented byte layouts, served on
127.0.0.1), their validation and daily refresh, search, ids, and added assets through the collectors, quotes,
pages and command line."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from collectors.masters import unzip_single
from marketdash.domain import catalog, symbols
from marketdash.domain.config import load_settings
from marketdash.services.market import MarketService
from tests import master_server as ms
from tests.conftest import ROOT, run_cli
from tests.kis_server import KisServer, cli_env


def _parse(archive: str, files: dict[str, bytes] | None = None) -> pd.DataFrame:
    master = next(m for m in symbols.LISTS if m.archive == archive)
    content, _ = unzip_single((files or ms.default_files())[archive], master.name)
    return master.parse(content).set_index("id")


# -- parsing -----------------------------------------------------------------------------------------------------
def test_krx_records_are_sliced_as_bytes_with_kind_and_warnings():
    kospi = _parse("kospi_code.mst.zip")
    # a 40-byte Korean name runs straight into the group code: decoded-text slicing would misread both
    assert kospi.loc["krx:Q520086", "name_ko"] == "미래에셋-0.5X S&P500 VIX S/T선물 ETN(H)B"
    assert kospi.loc["krx:Q520086", "kind"] == "etn"
    assert kospi.loc["krx:069500", ["name_ko", "kind", "market"]].tolist() == ["KODEX 200", "etf", "KOSPI"]
    assert kospi.loc["krx:005380", ["name_ko", "kind"]].tolist() == ["현대차", "stock"]
    assert kospi.loc["krx:001440", "warnings"] == "warning"
    assert kospi.loc["krx:900110", "warnings"].split() == ["halted", "managed"]
    assert "krx:58J001" not in kospi.index  # an ELW is not offered
    kosdaq = _parse("kosdaq_code.mst.zip")  # the same fields five bytes earlier in a 221-byte tail
    assert kosdaq.loc["krx:247540", ["name_ko", "market", "warnings"]].tolist() == ["에코프로비엠", "KOSDAQ", "caution"]
    assert kosdaq.loc["krx:086520", "warnings"] == ""


def test_indices_overseas_and_us_lists():
    idx = _parse("idxcode.mst.zip")
    assert idx.loc["kidx:0001", "name_ko"] == "코스피" and idx.loc["kidx:1001", "name_en"] == "KOSDAQ"
    assert idx.loc["kidx:0013", "name_ko"] == "코스피 전기전자"  # the file's short name, labelled with its market
    frgn = _parse("frgn_code.mst.zip")
    assert frgn.loc["ovs:FX@JPY", ["kind", "exchange", "name_ko"]].tolist() == ["fx", "X", "엔/달러"]
    assert frgn.loc["ovs:Y0202", ["kind", "exchange"]].tolist() == ["rate", "I"]
    assert frgn.loc["ovs:JP#NI225", "name_en"] == "NIKKEI 225"
    nas = _parse("nasmst.cod.zip")  # CR LF records, no header line: the first record is a symbol, not a header
    assert list(nas.index) == ["us:NVDA", "us:AAPL", "us:TQQQ"]
    assert nas.loc["us:TQQQ", ["kind", "exchange", "market"]].tolist() == ["etf", "NAS", "NASDAQ"]
    assert _parse("amsmst.cod.zip").loc["us:SPY", "exchange"] == "AMS"


def test_upbit_list_keeps_krw_markets_with_their_flags():
    from tests.upbit_server import UpbitServer

    server = UpbitServer(markets={"KRW-ETH": 0.04, "KRW-XRP": 0.0001}, warned=frozenset({"KRW-XRP"}))
    frame = symbols.parse_upbit(server.market_list(details=True)).set_index("id")
    assert list(frame.index) == ["coin:BTC", "coin:ETH", "coin:XRP"]  # BTC-ETH (a BTC market) left out
    assert frame.loc["coin:XRP", ["name_ko", "warnings"]].tolist() == ["엑스알피(리플)", "upbit_warning"]


@pytest.mark.parametrize(
    ("content", "key"),
    [
        (b"", "sym.empty"),
        (ms.master_file([ms.index_record("0001", "종합")[:-1]]), "sym.bad_width"),  # one byte short
        (ms.master_file([ms.index_record("0001", "종합")]) + b"short record\n", "sym.bad_width"),
    ],
)
def test_a_list_of_the_wrong_shape_is_refused(content, key):
    with pytest.raises(symbols.MasterError) as caught:
        symbols.parse_indices(content)
    assert caught.value.msg.key == key


# -- ids ---------------------------------------------------------------------------------------------------------
def test_ids_have_one_spelling_and_krx_005930_is_samsung():
    assert catalog.canonical("KRX:005930") == "samsung"
    assert catalog.canonical("coin:btc") == "btc"
    assert catalog.canonical("ovs:FX%40JPY") == "ovs:FX@JPY"
    assert catalog.parse_ids("krx:005930,samsung,us:nvda") == ["samsung", "us:NVDA"]  # one series, never two
    # built from the id alone (no list named it: the exchanges are tried in turn); `get` may already hold the list's
    # entry, registered by an earlier test in this process
    assert catalog.symbol_asset("us:nvda").alt_markets == ("NYS", "AMS")
    assert catalog.get("ovs:NYGOLD") is catalog.ASSETS["gold"]
    for bad in ("krx:12", "foo:1", "nosuch"):
        with pytest.raises(catalog.UnknownAssetError, match=bad):
            catalog.get(bad)


def test_symbol_assets_carry_what_every_layer_needs():
    nvda = symbols.to_asset({"id": "us:NVDA", "name_ko": "엔비디아", "name_en": "NVIDIA CORP", "exchange": "NAS",
                             "symbol_class": "", "kind": "stock"})  # fmt: skip
    assert (nvda.market_code, nvda.alt_markets, nvda.currency, nvda.calendar) == ("NAS", (), "USD", "XNYS")
    eth = catalog.get("coin:ETH")
    assert (eth.source, eth.code, eth.calendar, eth.periods_per_year) == ("upbit", "KRW-ETH", "24/7", 365)
    rate = symbols.to_asset({"id": "ovs:Y0202", "name_ko": "미국 10년", "name_en": "US 10Y", "exchange": "I",
                             "symbol_class": "B", "kind": "rate"})  # fmt: skip
    assert (rate.market_code, rate.currency) == ("I", "%")
    assert catalog.get("ovs:JP#NI225").calendar == "XTKS"


# -- search ------------------------------------------------------------------------------------------------------
def _index() -> symbols.SymbolIndex:
    frames = [_parse(m.archive).reset_index() for m in symbols.LISTS if m.archive]
    return symbols.SymbolIndex(pd.concat(frames, ignore_index=True))


@pytest.mark.parametrize(
    ("text", "first"),
    [("ㅎㄷㅊ", "krx:005380"), ("현대", "krx:005380"), ("005380", "krx:005380"), ("nvda", "us:NVDA"),
     ("NVIDIA", "us:NVDA"), ("kodex 200", "krx:069500"), ("삼성전자", "samsung"), ("ㅅㅅㅈㅈ", "samsung"),
     ("코스닥", "kidx:1001"), ("엔비디아", "us:NVDA"), ("비트코인", "btc")],
)  # fmt: skip
def test_search_finds_by_korean_english_code_and_choseong(text, first):
    found = _index().search(text)
    assert found["id"].iloc[0] == first, list(found["id"])


def test_search_ranks_the_exact_code_first_and_misses_nothing_that_contains_the_text():
    index = _index()
    found = list(index.search("SPX")["id"])
    assert found[0] == "ovs:SPX"
    assert set(index.search("에코")["id"]) == {"krx:086520", "krx:247540"}
    assert index.search("zzzz").empty and index.search("  ").empty


# -- lists: download, validation, once a day ---------------------------------------------------------------------
@pytest.fixture
def masters(monkeypatch):
    server = ms.MasterServer().start()
    monkeypatch.delenv("DASHBOARD_OFFLINE")
    monkeypatch.setenv("KIS_MASTER_URL", server.url)
    monkeypatch.setenv("UPBIT_BASE_URL", "http://127.0.0.1:9")  # Upbit unreachable: its list alone fails
    yield server
    server.stop()


def test_lists_are_stored_with_the_zip_members_date_and_fetched_once_a_day(masters):
    svc = MarketService(load_settings())
    results = {r.name: r for r in svc.universe.refresh()}
    assert results["kospi"].status == "ok" and results["kospi"].rows == len(ms.KOSPI_ROWS) - 1  # the ELW left out
    assert results["kospi"].as_of == ms.AS_OF  # the member's timestamp, not the download day
    assert results["upbit"].status == "error"
    calls = len(masters.calls)
    again = {r.name: r.status for r in svc.universe.refresh()}
    assert len(masters.calls) == calls, "a list fetched today was downloaded again"
    assert again["kospi"] == "fresh" and again["upbit"] == "error"  # a failure is retried after an hour, not now
    svc.universe.refresh(force=True)
    assert len(masters.calls) == calls + 8


def test_a_broken_or_collapsed_list_keeps_the_stored_one(masters):
    svc = MarketService(load_settings())
    svc.universe.refresh()
    stored = len(svc.store.symbols())
    masters.files["kospi_code.mst.zip"] = ms.zipped("kospi_code.mst", ms.master_file(ms.KOSPI_ROWS[:2]))
    masters.files["kosdaq_code.mst.zip"] = b"<html>maintenance</html>"
    masters.files["idxcode.mst.zip"] = ms.zipped("idxcode.mst", b"\n")
    del masters.files["frgn_code.mst.zip"]
    results = {r.name: r for r in svc.universe.refresh(force=True)}
    assert results["kospi"].note.key == "sym.collapsed"
    assert results["kosdaq"].note.key == "sym.not_zip"
    assert results["idx"].note.key == "sym.empty"
    assert results["frgn"].note.key == "sym.http"
    assert len(svc.store.symbols()) == stored  # nothing lost
    assert svc.universe.search("현대차")["id"].iloc[0] == "krx:005380"
    assert set(svc.universe.last_errors()) >= {"kospi", "kosdaq", "idx", "frgn"}


def test_unknown_ids_are_named_once_the_lists_that_would_hold_them_are_stored(masters):
    svc = MarketService(load_settings())
    assert svc.universe.resolve(["krx:123456", "samsung"]) == (["krx:123456", "samsung"], [])  # no list yet
    svc.universe.refresh()
    usable, unknown = svc.universe.resolve(["samsung", "krx:123456", "krx:005380", "bogus", "coin:ETH"])
    assert usable == ["samsung", "krx:005380", "coin:ETH"]  # Upbit's list failed: a coin id is still tried
    assert unknown == ["bogus", "krx:123456"]
    assert catalog.get("krx:005380").name_ko == "현대차"
    assert svc.universe.warnings(["krx:900110", "krx:005380"]) == {"krx:900110": ["halted", "managed"]}


def test_offline_search_covers_the_seven_and_says_the_lists_are_missing(tmp_path):
    svc = MarketService(load_settings())
    assert {r.status for r in svc.universe.refresh()} == {"offline"}
    assert not svc.universe.covered()
    assert svc.universe.search("삼성")["id"].tolist() == ["samsung"]


# -- added assets through collectors, quotes, store --------------------------------------------------------------
ADDED = ["krx:005380", "krx:Q520086", "kidx:1001", "us:NVDA", "ovs:SPX", "coin:ETH"]


def test_every_kind_of_added_asset_is_fetched_stored_and_quoted(live_env):
    kis, upbit = live_env
    svc = MarketService(load_settings())
    svc.universe.refresh()
    usable, unknown = svc.universe.resolve(ADDED)
    assert unknown == [] and usable == ADDED
    results = {r.asset_id: r for r in svc.update(ADDED, start=dt.date(2026, 1, 5))}
    assert all(r.status == "ok" and r.new_rows > 100 for r in results.values()), {a: r.line() for a, r in
                                                                                   results.items()}  # fmt: skip
    stored = svc.store.read_bars(["krx:005380"]).set_index("date")
    truth = kis.expected("005380", dt.date(2026, 1, 5), dt.date(2026, 12, 31))
    assert [(d.date(), c) for d, c in stored["close"].items()] == [(t[0], t[4]) for t in truth][: len(stored)]
    eth = svc.store.read_bars(["coin:ETH"])
    candles = {c["candle_date_time_utc"][:10]: c["trade_price"] for c in upbit.candles("KRW-ETH")}
    assert [candles[f"{d:%Y-%m-%d}"] for d in eth["date"]] == pytest.approx(eth["close"].tolist())
    quotes = {r.asset_id: r for r in svc.live.poll(ADDED, everything=True)}
    assert all(r.status == "ok" for r in quotes.values()), {a: r.line() for a, r in quotes.items()}
    assert quotes["us:NVDA"].quote.price == pytest.approx(kis.price("NVDA"))
    assert {q["EXCD"] for p, q in kis.data_calls("quote_overseas") if q.get("SYMB") == "NVDA"} == {"NAS"}


def test_a_symbol_the_source_has_no_data_for_is_said_and_never_stored(live_env):
    svc = MarketService(load_settings())
    [result] = svc.update(["krx:123456"], start=dt.date(2026, 6, 1))  # no list stored: the id alone is tried
    assert result.status == "error" and result.kind == "no data"
    assert "123456" in result.message
    assert svc.store.read_bars(["krx:123456"]).empty
    assert svc.load(["krx:123456"]).notes["krx:123456"].key == "sample.update_failed"


def test_added_assets_never_get_sample_prices():
    svc = MarketService(load_settings())
    data = svc.load(["samsung", "krx:005380", "coin:ETH"])
    assert set(data.bars["asset_id"]) == {"samsung"}
    assert data.unavailable == ["krx:005380", "coin:ETH"]
    assert {data.notes[a].key for a in data.unavailable} == {"sym.needs_network"}


# -- pages ---------------------------------------------------------------------------------------------------------
def _open(page: str, **params: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.query_params["lang"] = "ko"
    at.run()
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_fresh_app_draws_added_assets_named_from_the_lists_and_names_an_unknown_one(live_env):
    at = _open("pages/1_compare.py", assets="samsung,krx:005380,us:NVDA,coin:ETH,krx:999999")
    assert at.multiselect[0].value == ["samsung", "krx:005380", "us:NVDA", "coin:ETH"]
    assert "현대차" in at.multiselect[0].options and "엔비디아" in at.multiselect[0].options
    assert any("krx:999999" in c.value for c in at.caption)
    at.run()  # the history behind the page arrived: the page draws from the store
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = {trace["name"] for trace in spec["data"]}
    assert {"현대차", "엔비디아", "이더리움"} <= names
    colours = {trace["name"]: trace["line"]["color"] for trace in spec["data"]}
    assert len(set(colours.values())) == len(colours)


def test_offline_added_assets_say_they_need_the_network():
    at = _open("pages/1_compare.py", assets="samsung,krx:005380,coin:ETH")
    name = catalog.get("krx:005380").name_ko  # "005380", or 현대차 once a list named it in this process
    assert any("네트워크" in i.value and name in i.value for i in at.info)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert len(spec["data"]) == 1 and "삼성전자" in spec["data"][0]["name"]  # no invented line for the added ones


def test_an_added_asset_has_its_own_candles_page(live_env):
    at = _open("pages/5_asset.py", id="krx:005380")
    at.run()
    assert at.selectbox[0].value == "krx:005380"
    assert "현대차" in at.title[0].value
    assert at.get("plotly_chart")


# -- command line --------------------------------------------------------------------------------------------------
def test_cli_symbols_search_and_update_with_added_ids(tmp_path):
    from tests.upbit_server import UpbitServer

    masters = ms.MasterServer().start()
    upbit = UpbitServer(first_day=dt.date(2026, 1, 1), last_day=dt.datetime.now(dt.UTC).date()).start()
    kis = KisServer(history_start=dt.date(2026, 3, 2)).start()
    env = cli_env(kis, tmp_path, KIS_MASTER_URL=masters.url, UPBIT_BASE_URL=upbit.url,
                  MARKET_DB=str(tmp_path / "m.duckdb"))  # fmt: skip
    try:
        out = run_cli(env, "symbols")
        assert out.returncode == 0, out.stderr
        assert "kospi   ok" in out.stdout and f"as of {ms.AS_OF}" in out.stdout and "upbit   ok" in out.stdout
        found = run_cli(env, "search", "ㅎㄷㅊ")
        assert found.returncode == 0 and found.stdout.split()[0] == "krx:005380"
        assert "현대차" in found.stdout and "KOSPI" in found.stdout and "stock" in found.stdout
        bad = run_cli(env, "update", "--assets", "krx:005380,krx:999999")
        assert bad.returncode == 2 and "krx:999999" in bad.stderr and bad.stderr.count("\n") == 1
        done = run_cli(env, "update", "--assets", "krx:005380,us:NVDA,coin:ETH", "--start", "2026-06-01")
        assert done.returncode == 0, done.stdout + done.stderr
        assert sum(line.split()[1] == "ok" for line in done.stdout.splitlines()) == 3
        status = run_cli(env, "status")
        assert "krx:005380" in status.stdout and "us:NVDA" in status.stdout
    finally:
        masters.stop()
        upbit.stop()
        kis.stop()


def test_each_added_asset_keeps_its_own_exchanges_hours():
    from marketdash.domain import market_clock

    thursday_11_kst = dt.datetime(2026, 12, 3, 2, 0, tzinfo=dt.UTC)
    states = {a: market_clock.state(catalog.get(a), thursday_11_kst).state
              for a in ("kidx:1001", "us:NVDA", "ovs:JP#NI225", "ovs:GB#FTSE", "coin:ETH", "ovs:NYGOLD")}  # fmt: skip
    assert states == {"kidx:1001": "open", "us:NVDA": "closed", "ovs:JP#NI225": "open", "ovs:GB#FTSE": "closed",
                      "coin:ETH": "open", "ovs:NYGOLD": "open"}  # fmt: skip
    sunday = dt.datetime(2026, 12, 6, 2, 0, tzinfo=dt.UTC)
    assert market_clock.state(catalog.get("ovs:JP#NI225"), sunday).state == "closed"
    assert market_clock.state(catalog.get("coin:ETH"), sunday).state == "open"  # Upbit never closes


def test_the_data_page_lists_the_symbol_lists_and_shows_an_added_assets_bars(live_env):
    svc = MarketService(load_settings())
    svc.universe.refresh()
    [done] = svc.update(["krx:005380"], start=dt.date(2026, 1, 5))
    at = _open("pages/4_data.py", asset="krx:005380")
    assert any("종목 목록" in s.value for s in at.subheader)
    assert at.selectbox[0].value == "krx:005380"
    assert len(at.dataframe[-1].value) == done.written  # the stored bars of the added asset
    lists = next(d.value for d in at.dataframe if "기준일" in d.value.columns)
    assert lists.loc["코스피", "기준일"] == "2026.11.27" and lists.loc["코스피", "행 수"] == len(ms.KOSPI_ROWS) - 1


def test_the_1d_view_shows_added_assets_live(live_env):
    at = _open("pages/1_compare.py", assets="samsung,krx:005380,coin:ETH", range="1D")
    at.run()
    assert not at.exception
    assert at.get("plotly_chart"), "no 1D chart"


def test_currency_views_convert_usd_assets_and_leave_other_units_alone():
    from marketdash.analysis import conversion
    from marketdash.domain.records import DailyBar, bars_to_frame

    days = pd.to_datetime(["2026-06-01", "2026-06-02", "2026-06-03"])
    wide = pd.DataFrame({"us:NVDA": [100.0, 110.0, 120.0], "ovs:JP#NI225": [38000.0, 38100.0, 38200.0],
                         "krx:005380": [150000.0, 151000.0, 152000.0]}, index=days)  # fmt: skip
    fx = bars_to_frame([DailyBar("usdkrw", d.date(), None, None, None, 1400.0 + i, None, "KRW", "kis")
                        for i, d in enumerate(pd.to_datetime(["2026-05-29", *days[:2]]))])  # fmt: skip
    assets = {a: catalog.get(a) for a in wide.columns}
    krw = conversion.convert(wide, {a: x.currency for a, x in assets.items()},
                            {a: (x.timezone, x.close_time.strftime("%H:%M:%S")) for a, x in assets.items()}, fx,
                            "KRW")  # fmt: skip
    assert krw["us:NVDA"].iloc[1] == pytest.approx(110.0 * 1402.0)  # that day's KRX fixing, known before NY closed
    assert krw["ovs:JP#NI225"].tolist() == wide["ovs:JP#NI225"].tolist()  # yen: left as it is
    assert krw["krx:005380"].tolist() == wide["krx:005380"].tolist()
    assert conversion.unconvertible({a: x.currency for a, x in assets.items()}) == ["ovs:JP#NI225"]
