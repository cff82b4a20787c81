"""What a newcomer saw on a second walk (issue 29, points 2 and 5): each fault as a test of the piece that makes it,
or of the page as a reader opens it (AppTest). Faults only a browser shows are in test_browser.py and
test_browser_live.py."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading

import pytest
from streamlit.testing.v1 import AppTest

from marketdash.domain import catalog, clock, market_clock
from marketdash.domain.i18n import josa
from marketdash.domain.market_clock import KST
from marketdash.domain.records import CLOSE, LIVE, Quote
from marketdash.services.store import Store
from tests.conftest import ROOT
from tests.test_pages import run_page

SUNDAY = dt.datetime(2026, 12, 6, 11, 0, tzinfo=KST)  # the walk's moment: KRX, NYSE and COMEX closed since Friday
FRIDAY = dt.date(2026, 12, 4)


# -- 29.2 closed markets are never today's moves -------------------------------------------------------------------
def test_a_quote_taken_while_its_market_is_closed_is_the_close_of_its_last_session():
    samsung, soxl, btc = catalog.get("samsung"), catalog.get("soxl"), catalog.get("btc")
    fetched = Quote("samsung", 75_800.0, 75_000.0, "KRW", "kis", SUNDAY.astimezone(dt.UTC), False)
    quote = market_clock.taken(samsung, fetched, market_clock.state(samsung, SUNDAY))
    assert (quote.kind, quote.session, quote.market_state) == (CLOSE, FRIDAY, "closed")
    us = Quote("soxl", 30.0, 29.0, "USD", "kis", SUNDAY.astimezone(dt.UTC), False)
    assert market_clock.taken(soxl, us, market_clock.state(soxl, SUNDAY)).session == FRIDAY  # Friday in New York
    coin = Quote("btc", 1e8, 9.9e7, "KRW", "upbit", SUNDAY.astimezone(dt.UTC), True)
    assert market_clock.taken(btc, coin, market_clock.state(btc, SUNDAY)).kind == LIVE
    trading = dt.datetime(2026, 12, 4, 10, 0, tzinfo=KST)
    during = Quote("samsung", 75_800.0, 75_000.0, "KRW", "kis", trading.astimezone(dt.UTC), False)
    assert market_clock.taken(samsung, during, market_clock.state(samsung, trading)).kind == LIVE


def test_a_store_from_before_relabels_its_closed_market_quotes_as_closes(tmp_path):
    path = tmp_path / "old.duckdb"
    store = Store(path)
    store.add_snapshots([
        Quote("samsung", 75_800.0, 75_000.0, "KRW", "kis", SUNDAY.astimezone(dt.UTC), False, "closed"),
        Quote("samsung", 75_700.0, 75_000.0, "KRW", "kis", SUNDAY.astimezone(dt.UTC) - dt.timedelta(days=2), False,
              "open"),
    ])  # fmt: skip
    store.close()
    kinds = Store(path).snapshots().set_index("market_state")["quote_kind"]  # a new process opens the store
    assert kinds.to_dict() == {"closed": CLOSE, "open": LIVE}


def test_two_polls_storing_one_sessions_close_at_once_keep_one_row(tmp_path):
    """A close is stored at its session's close time, so a page's poller and another poll store the same key at the
    same moment; the second writer once failed with a constraint error instead of leaving the row as it was."""
    store = Store(tmp_path / "race.duckdb")
    errors: list[str] = []
    for minute in range(10):
        close = Quote("silver", 30.0, 29.0, "USD", "kis", dt.datetime(2026, 11, 27, 22, minute, tzinfo=dt.UTC), False,
                      "closed", CLOSE, dt.date(2026, 11, 27))  # fmt: skip
        gate = threading.Barrier(4)

        def put(quote: Quote = close, gate: threading.Barrier = gate) -> None:
            gate.wait()
            try:
                store.add_snapshots([quote])
            except Exception as exc:  # the failure is what this test looks for
                errors.append(type(exc).__name__)

        threads = [threading.Thread(target=put) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == [] and len(store.snapshots()) == 10, errors


@pytest.fixture
def sunday(monkeypatch):
    """The app with keys against local servers on the walk's Sunday (the clock pinned there), history stored."""
    from tests.kis_server import APP_KEY, APP_SECRET, KisServer
    from tests.upbit_server import UpbitServer

    with clock.pinned(SUNDAY):
        kis = KisServer(history_start=dt.date(2026, 9, 1), today=SUNDAY.date()).start()
        upbit = UpbitServer(first_day=dt.date(2026, 9, 1), last_day=SUNDAY.date(), clock=clock.now,
                            ticker_price=60_000_000.0).start()  # fmt: skip
        monkeypatch.delenv("DASHBOARD_OFFLINE")
        for name, value in {"KIS_BASE_URL": kis.url, "KIS_APP_KEY": APP_KEY, "KIS_APP_SECRET": APP_SECRET,
                            "UPBIT_BASE_URL": upbit.url, "BITHUMB_BASE_URL": "http://127.0.0.1:9",
                            "KIS_MASTER_URL": "http://127.0.0.1:9"}.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        try:
            yield kis, upbit
        finally:
            kis.stop()
            upbit.stop()


def test_on_a_sunday_the_snapshots_hold_closes_and_today_holds_only_bitcoin(sunday):
    from marketdash.web import ui

    run_page("app.py")
    svc = ui.service()
    lines = {r.asset_id: r.line() for r in svc.live.poll(list(catalog.COMPARED), everything=True)}
    assert lines["samsung"].endswith("closed, close of 2026-12-04"), lines  # what `snapshot` prints
    stored = svc.live.recent(7).set_index("asset_id")
    closed = [a for a in catalog.COMPARED if a != "btc"]
    assert (stored.loc[closed, "quote_kind"] == CLOSE).all(), stored[["quote_kind", "market_state"]]
    assert (stored.loc[closed, "session"].dt.date == FRIDAY).all()
    assert list(svc.live.today(list(catalog.COMPARED)).columns) == ["btc"]


def test_the_1d_view_on_a_sunday_shows_fridays_closes_as_the_cards_do(sunday):
    """Issue 29.2 as the newcomer met it: 오늘 titled Sunday's date plotted Samsung, SOXL… at the quotes KIS gave on
    Sunday while the cards said "12.04 종가" with other figures. Now each bar is the card's figure, labelled with
    its session's date, and the closed markets are named."""
    from marketdash.web import live_view, ui

    at = run_page("app.py", lang="ko")
    svc = ui.service()
    svc.update(list(catalog.COMPARED), start=dt.date(2026, 9, 1))
    svc.live.poll(list(catalog.COMPARED), everything=True)
    at.run()
    cards = {m.label: m.delta.rsplit("(", 1)[1].rstrip(")") for m in at.metric}
    at.switch_page("pages/1_compare.py").run()
    at.get("segmented_control")[0].set_value("1D").run()
    assert not at.exception, [e.value for e in at.exception]
    bars = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]["y"]  # "삼성전자 -0.78%<br>12.04 종가"
    shown = {y.split("<br>")[0].rsplit(" ", 1)[0]: (y.split("<br>")[0].rsplit(" ", 1)[1], y.split("<br>")[1])
             for y in bars}  # fmt: skip
    assert shown["삼성전자"] == (cards["삼성전자"], "12.04 종가")
    assert shown["SOXL"] == (cards["SOXL"], "12.04 종가")
    assert shown["비트코인"] == (cards["비트코인"], "실시간")
    closed = next(c.value for c in at.caption if c.value.startswith("장이 닫힌 시장"))
    assert "삼성전자" in closed and "12.04 종가" in closed and "비트코인" not in closed
    lines = json.loads(at.get("plotly_chart")[1].proto.spec)
    assert [t["name"] for t in lines["data"]] == ["비트코인"]  # today's moves: only the market that traded
    csv = live_view.day_changes(svc.live.board(list(catalog.COMPARED)), clock.now())  # the bars' CSV
    assert csv.loc["samsung", "kind"] == "close" and csv.loc["samsung", "session"] == FRIDAY
    assert csv.loc["btc", "kind"] == "traded"


# -- 29.5 text -----------------------------------------------------------------------------------------------------
def test_a_particle_after_a_lone_consonant_is_settled_as_read_aloud():
    assert josa("'ㅎㄷㅊ'와(과) 맞는") == "'ㅎㄷㅊ'과 맞는"  # 치읓과
    assert josa("'ㄹ'(으)로") == "'ㄹ'로" and josa("'ㅏ'이(가)") == "'ㅏ'가"


def test_the_offline_search_settles_its_particle_and_never_counts_zero_stored_symbols():
    at = run_page("pages/1_compare.py", lang="ko")
    at.text_input(key="sym_q").input("ㅎㄷㅊ").run()
    said = " ".join(c.value for c in at.caption)
    assert "'ㅎㄷㅊ'과 맞는 종목이 없습니다" in said, said
    assert "0개" not in said and "기본 자산에서만 찾았습니다" in said, said


def test_the_offline_integrity_check_says_it_once_with_advice_that_works_offline():
    at = run_page("pages/4_data.py", lang="ko")
    at.toggle(key="check").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    said = [e.value for e in [*at.info, *at.warning, *at.markdown] if "일봉" in e.value]
    assert len([s for s in said if "저장된 일봉이 아직 없" in s]) == 1, said
    assert not any("지금 업데이트" in s for s in said), said
    assert any("DASHBOARD_OFFLINE 없이" in s for s in said), said


def test_a_url_value_is_quoted_as_typed():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.query_params.update(lang="en", ccy="EUR")
    at.run()
    at.switch_page("pages/1_compare.py").run()
    notes = [c.value for c in at.caption if "ccy=" in c.value]
    assert notes and "ccy=EUR" in notes[0], notes


def test_the_usage_line_names_the_command_as_called(subprocess_env):
    for package in ("marketdash", "collectors"):
        run = [sys.executable, "-m", package]
        helped = subprocess.run([*run, "--help"], env=subprocess_env, capture_output=True, text=True, timeout=120)
        assert helped.stdout.startswith(f"usage: python -m {package} "), helped.stdout[:200]
        bad = subprocess.run([*run, "update", "--nope"], env=subprocess_env, capture_output=True, text=True,
                             timeout=120)  # fmt: skip
        assert bad.returncode == 2 and f"`python -m {package} --help`" in bad.stderr, bad.stderr
