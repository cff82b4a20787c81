"""What a newcomer saw (issue 26): each screen fault as a test of the piece that makes it, or of the page as a
reader opens it (AppTest). Faults only a browser shows are in test_browser.py and test_browser_live.py."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from marketdash.domain import catalog, clock
from marketdash.domain.i18n import Translator, josa
from marketdash.domain.market_clock import CLOSED, MarketState
from marketdash.domain.records import Quote
from marketdash.services.live import NowRow
from marketdash.web import charts, live_view, notices
from tests.conftest import ROOT

KO, EN = Translator("ko"), Translator("en")
KST = dt.timezone(dt.timedelta(hours=9))


def open_page(page: str, **params: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(params)
    if page != "app.py":
        at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# -- 3, 4, 7, 8: the cards -----------------------------------------------------------------------------------------
def test_the_cards_range_change_is_the_charts_end_label():
    at = open_page("app.py", lang="ko", range="Custom", start="2024-03-01", end="2025-03-01")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    ends = {a["text"].rsplit(" ", 1)[0]: a["text"].rsplit(" ", 1)[1] for a in spec["layout"]["annotations"]}
    captions = [c.value for c in at.caption if "기간 " in c.value]
    soxl = next(c for c in captions if c == captions[3])  # the cards are in catalog order: SOXL is the fourth
    assert f"기간 {ends['SOXL']}" in soxl, (soxl, ends["SOXL"])


def test_the_range_change_ends_at_the_price_the_card_shows_or_says_its_close():
    daily = pd.Series({"last_date": pd.Timestamp("2026-12-03"), "range_base": 1000.0, "range_change_pct": 57.6,
                       "last_close": 1576.0, "stale": False})  # fmt: skip
    now = dt.datetime(2026, 12, 4, 2, 0, tzinfo=dt.UTC)
    live = Quote("kospi200", 1605.0, 1600.0, "KRW", "kis", now, False)
    # The live price, not 1,576, said so (the chart's end label is close to close); at the close itself, plain.
    assert live_view.span_text(KO, daily, 1605.0, live, now) == "기간 +60.5% (현재가까지)"
    assert live_view.span_text(KO, daily, 1576.0, live, now) == "기간 +57.6%"
    old = Quote("kospi200", 1605.0, 1600.0, "KRW", "kis", now + dt.timedelta(days=30), False)
    assert live_view.span_text(KO, daily, 1605.0, old, now) == "기간 +57.6% (~12.03 종가)"


def _row(asset_id: str, quote: Quote | None, state: str = CLOSED) -> NowRow:
    return NowRow(asset_id, MarketState(state, None, True), quote, None, None)


def test_a_closed_market_is_never_labelled_live():
    """Saturday 00:15 KST: a KRX quote fetched after Friday's close is that session's close; one fetched during the
    session, its last price before the close."""
    saturday = dt.datetime(2026, 12, 5, 0, 15, tzinfo=KST)
    after = Quote("samsung", 75_800.0, 75_000.0, "KRW", "kis", dt.datetime(2026, 12, 4, 15, 40, tzinfo=KST), False)
    assert live_view.quote_kind(after, _row("samsung", after), saturday) == ("close", dt.date(2026, 12, 4))
    during = Quote("samsung", 75_700.0, 75_000.0, "KRW", "kis", dt.datetime(2026, 12, 4, 15, 10, tzinfo=KST), False)
    assert live_view.quote_kind(during, _row("samsung", during), saturday)[0] == "last_of_session"
    assert live_view.quote_kind(during, _row("samsung", during, "open"), saturday)[0] == "fetched"


def test_a_past_range_card_carries_its_year_and_no_market_state():
    at = open_page("app.py", lang="ko", range="Custom", start="2025-01-02", end="2025-02-28")
    captions = [c.value for c in at.caption if "기간 " in c.value]
    assert captions and all("2025.02." in c for c in captions), captions
    assert not any(word in c for c in captions for word in ("장중", "장\u00a0마감", "장 마감", "휴장")), captions


# -- 9, 10: charts -------------------------------------------------------------------------------------------------
def _wide(columns: list[str], ends: list[float]) -> pd.DataFrame:
    days = pd.date_range("2026-01-01", periods=50, freq="D")
    return pd.DataFrame({c: np.linspace(100, e, len(days)) for c, e in zip(columns, ends, strict=True)}, index=days)


def test_a_log_axis_labels_round_whole_numbers_in_the_readers_format():
    wide = _wide(["soxl", "samsung"], [1000, 40])
    fig = charts.line_chart(wide, KO, title="t", yaxis_title="y", log_y=True).to_dict()["layout"]["yaxis"]
    assert fig["type"] == "log" and fig["tickvals"] == [50.0, 100.0, 200.0, 500.0, 1000.0]
    assert fig["ticktext"] == ["50", "100", "200", "500", "1,000"]
    wide = _wide(["soxl", "samsung"], [20_000, 10])
    ticks = charts.line_chart(wide, KO, title="t", yaxis_title="y", log_y=True).to_dict()["layout"]["yaxis"]
    assert "10,000" in ticks["ticktext"] and not any("k" in s for s in ticks["ticktext"])
    assert len(ticks["tickvals"]) <= 10


def test_end_labels_never_overlap_and_twelve_lines_have_twelve_colours():
    ids = [*catalog.COMPARED, "krx:005380", "krx:000270", "us:NVDA", "coin:ETH", "kidx:1001"]
    wide = _wide(ids, [115 + 0.1 * i for i in range(len(ids))])  # twelve lines ending within 1 %
    fig = charts.line_chart(wide, KO, title="t", yaxis_title="y", end_labels={a: a for a in ids}).to_dict()
    ys = sorted(a["y"] for a in fig["layout"]["annotations"])
    assert len(ys) == 12 and min(np.diff(ys)) >= charts.LABEL_GAP - 1e-9 and max(ys) <= 1
    colours = [t["line"]["color"] for t in fig["data"]]
    assert len(set(colours)) == 12 and not any("dash" in t["line"] for t in fig["data"])


def test_the_1d_view_has_end_labels_too(live_env):
    from marketdash.web import ui

    at = open_page("pages/1_compare.py", lang="ko", range="1D", assets="samsung,btc")
    ui.service().live.poll(["samsung", "btc"], everything=True)
    at.run()
    spec = json.loads(at.get("plotly_chart")[-1].proto.spec)  # after the bars of each asset's change
    texts = [a["text"] for a in spec["layout"].get("annotations", [])]
    assert any(t.startswith("비트코인 ") for t in texts), texts


# -- 11, 12: numbers -----------------------------------------------------------------------------------------------
def test_won_has_no_decimals_but_under_100_won_and_a_change_is_in_the_prices_units():
    assert KO.price(6_199_800, "coin:ETH") == "6,199,800원" and KO.price(7_081_930, "coin:ETH") == "7,081,930원"
    assert KO.price(0.4215, "coin:XYZ") == "0.42원"
    assert KO.change_amount(75_297_000, "btc") == "7,530만 원"
    assert KO.change_amount(447, "samsung") == "447원" and KO.change_amount(2.68, "kospi200") == "2.68"


# -- 14: Korean that reads as written by a person -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "said"),
    [("현대차이(가) 비어", "현대차가 비어"), ("삼성전자을(를) 추가", "삼성전자를 추가"), ("SOXL이(가)", "SOXL이"),
     ("'삼성'와(과) 맞는", "'삼성'과 맞는"), ("`kospi200`(으)로", "`kospi200`으로"), ("서울(으)로", "서울로"),
     ("이더리움은(는)", "이더리움은"), ("엔비디아을(를)", "엔비디아를")],
)  # fmt: skip
def test_korean_particles_follow_the_word_before_them(text, said):
    assert josa(text) == said


def test_monthly_words_say_months():
    at = open_page("pages/2_correlations.py", lang="ko", range="Max", align="monthly", window="120", ewm="true")
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert any("120개월 지수가중" in t for t in titles), titles
    lags = json.loads(at.get("plotly_chart")[1].proto.spec)["layout"]["xaxis"]["title"]["text"]
    assert "개월" in lags and "t일" not in lags
    help_texts = [w.proto.help for w in at.get("toggle")]
    assert not any("span" in h for h in help_texts)


def test_offline_search_says_why_it_searched_so_little():
    at = open_page("pages/1_compare.py", lang="ko")
    at.text_input(key="sym_q").input("현대").run()
    said = " ".join(c.value for c in at.caption)
    assert "오프라인" in said and "0개 종목에서만" not in said


def test_the_integrity_report_says_the_command_once_and_names_calendars_in_words():
    from marketdash.analysis import integrity

    bars = pd.DataFrame(
        {
            "asset_id": "btc",
            "date": pd.to_datetime(["2026-01-01", "2026-01-05"]),
            "open": 1.0,
            "high": 1.0,
            "low": 1.0,
            "close": 1.0,
            "volume": 1.0,
            "currency": "KRW",
            "source": "upbit",
        }
    )
    report = integrity.check(bars)
    details = [KO.text(integrity.Msg.from_json(k)) for k in report["detail_key"]]
    assert not any("python -m" in d for d in details)
    assert any("매일 거래되는 시장의 거래일" in d for d in details) and not any("24/7" in d for d in details)


# -- 5, 6, 13, 15, 16, 17: the Data page, tables and inputs --------------------------------------------------------
def _strings(tree: dict):
    for value in tree.values():
        yield from _strings(value) if isinstance(value, dict) else [value] if isinstance(value, str) else []


def test_no_title_counts_the_assets_and_the_update_help_says_what_it_fetches():
    """Issue 26.13 and 26.14: "7개 자산 한눈에 보기" with 11 assets; the update button's help spoke of a live source."""
    import tomllib

    for lang in ("ko", "en"):
        words = tomllib.loads((ROOT / "marketdash" / "domain" / "locales" / f"{lang}.toml").read_text("utf-8"))
        texts = list(_strings(words))
        assert len(texts) > 300
        counted = [t for t in texts if any(w in t for w in ("7개", "seven", "Seven", "7 asset"))]
        assert counted == [], counted
    assert "일봉" in KO("data.update_help") and "실시간" not in KO("data.update_help")


def test_offline_update_now_names_what_it_did_not_touch():
    at = open_page("pages/4_data.py", lang="ko")
    next(b for b in at.button if b.label == "지금 업데이트").click().run()
    said = " ".join(m.value for m in at.markdown)
    assert ("받지 않았습니다" in said and "코스피200" in said and "오프라인" in said) or "DASHBOARD_OFFLINE" in said


def test_an_update_of_one_series_names_it():
    """Offline, Compare read the bundled USD/KRW and said "✓ 1개 중 1개 업데이트 완료": which one?"""
    at = open_page("pages/1_compare.py", lang="ko")
    assert [s.label for s in at.status] == ["원/달러 업데이트 완료"]


def test_added_symbols_quotes_are_in_the_snapshot_table(tmp_path):
    from marketdash.domain.config import load_settings
    from marketdash.services.market import MarketService

    svc = MarketService(load_settings())
    svc.store.add_snapshots([Quote("coin:ETH", 6_199_800.0, 6_000_000.0, "KRW", "upbit", clock.now(), True)])
    assert "coin:ETH" in svc.live.coverage()["asset_id"].tolist()


def test_an_empty_table_is_a_line_and_the_backup_is_named_by_the_korean_date():
    at = open_page("pages/4_data.py", lang="ko")
    assert any(c.value == "표시할 행이 없습니다." for c in at.caption)
    with clock.pinned(dt.datetime(2026, 12, 4, 15, 30, tzinfo=dt.UTC)):  # 00:30 on 12.05 in Seoul
        assert notices.backup_name() == "market-store-20261205.zip"


@pytest.mark.parametrize("value", ["abc", "-5000"])
def test_a_risk_free_rate_that_cannot_be_used_is_named(value):
    at = open_page("pages/3_statistics.py", lang="en", rf=value)
    assert any(f"rf={value}" in c.value for c in at.caption), [c.value for c in at.caption]


def test_an_unknown_id_is_named_as_the_url_spells_it():
    at = open_page("pages/1_compare.py", lang="en", assets="samsung,us:ZZZZ!")
    assert any("us:ZZZZ!" in c.value for c in at.caption), [c.value for c in at.caption]


def test_swapped_dates_are_swapped_in_the_fields_too():
    at = open_page("pages/1_compare.py", lang="en", range="Custom", start="2026-03-02", end="2026-01-05")
    assert at.date_input(key="start").value == dt.date(2026, 1, 5)
    assert at.date_input(key="end").value == dt.date(2026, 3, 2)
    assert any("swapped" in w.value.lower() for w in at.warning)
    at.date_input(key="start").set_value(dt.date(2026, 2, 20))
    at.date_input(key="end").set_value(dt.date(2026, 2, 10))
    next(b for b in at.button if b.label == "Show").click().run()
    assert (at.date_input(key="start").value, at.date_input(key="end").value) == (dt.date(2026, 2, 10),
                                                                                 dt.date(2026, 2, 20))  # fmt: skip
