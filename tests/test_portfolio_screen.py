"""The Portfolio page as the second newcomer walk found it (issue 29.3, 29.4, 29.6) and as issue 30 wants it: amounts
that follow the currency, what is switched on said outside the fold, one money unit through a table, figures that
do not mislead, stale data said, withdrawals, rolling returns and drawdowns; the command line on a fresh clone."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from marketdash.analysis import correlations
from marketdash.domain.i18n import Translator
from marketdash.web import ui
from tests.conftest import run_cli
from tests.test_pages import figure, values
from tests.test_portfolio_page import LINK, open_link

KO = {**LINK, "lang": "ko"}


def captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


# -- 29.3 amounts that follow the currency ----------------------------------------------------------------------
def test_switching_to_dollars_converts_the_amounts_at_the_days_rate():
    at = open_link(**KO)
    assert at.number_input(key="initial").value == 10_000_000
    at.segmented_control(key="ccy").set_value("USD").run()
    rate = ui.latest_usd_krw()
    initial, amount = at.number_input(key="initial").value, at.number_input(key="amount").value
    assert initial == pytest.approx(10_000_000 / rate, rel=0.05) and initial == round(initial, -2)
    assert amount == pytest.approx(500_000 / rate, rel=0.05)
    table = at.dataframe[0].value
    assert not [c for c in table.iloc[:, 0] if "10,000,000" in str(c)]  # ten million won never becomes dollars
    at.segmented_control(key="ccy").set_value("KRW").run()
    assert at.number_input(key="initial").value == pytest.approx(10_000_000, rel=0.05)


def test_a_dollar_link_starts_from_dollar_amounts():
    at = open_link(**{**KO, "ccy": "USD"})
    at.query_params.pop("amount", None)
    assert at.number_input(key="initial").value == 10_000
    assert "1만 달러" in captions(at) or "10,000.00달러" in captions(at)


# -- 29.4 what the page says -------------------------------------------------------------------------------------
def test_costs_and_whole_shares_that_are_on_and_url_errors_are_said_outside_the_fold():
    at = open_link(**{**KO, "fee_krx": "50", "fxs": "-3", "tax": "maybe", "whole": "1"})
    said = captions(at)
    for raw in ("fee_krx=50", "fxs=-3", "tax=maybe"):
        assert raw in said, raw
    t = Translator("ko")
    assert t("pf.costs_active", items=t("pf.whole")) in said
    assert t("pf.whole_rule") in said


def test_a_negative_weight_is_said_in_korean_and_counts_zero():
    at = open_link(**{**KO, "p1": "samsung=50,soxl=-5,btc=50"})
    assert "비중은 0 이상이어야" in captions(at)
    at.number_input(key="p1_w_samsung").set_value(-10).run()
    assert not at.exception and not at.error
    said = captions(at)
    assert "삼성전자의 비중 -10%는 쓸 수 없어 0%로 계산합니다" in said
    assert "Press Enter" not in said


def test_the_stats_table_writes_money_in_one_unit_and_says_what_cagr_is():
    at = open_link(**KO)
    table = at.dataframe[0].value
    cells = [str(c) for c in table.to_numpy().ravel()]
    assert not [c for c in cells if re.search(r"\d{1,3}(,\d{3}){2,}원", c)], cells  # 86,130,716원 beside 1억 …
    assert any(re.search(r"\d억( [\d,]+만)? 원|[\d,]+만 원", c) for c in cells)
    assert not [i for i in table.index if "CAGR" in i and "시간가중" not in i]  # one row, not two
    assert Translator("ko")("pf.cagr_is_twr") in captions(at)
    assert not [c for c in cells if c in ("-0.00%", "-0.0")]


def test_the_current_year_is_said_as_so_far_and_part_years_are_no_years():
    at = open_link(**{**KO, "range": "YTD"})
    assert not at.exception
    table = at.dataframe[0].value
    assert table.loc["최고의 해"].iloc[0] == "—"  # this year is not over
    years = next(df.value for df in at.dataframe if "연말 평가금액" in df.value.columns)
    assert str(years.index[-1]).endswith("(현재)")


def test_the_value_axis_is_labelled_in_man_and_eok_to_its_top():
    at = open_link(**{**KO, "n": "3"})
    spec = figure(at, 0)
    axis = spec["layout"]["yaxis"]
    top = max(max(values(trace["y"])) for trace in spec["data"])
    assert axis["tickvals"][-1] >= top * 0.8 and len(axis["tickvals"]) >= 4
    assert all(text.endswith("원") for text in axis["ticktext"]) and any("만" in t for t in axis["ticktext"])


def test_losses_by_asset_are_in_the_falling_colour():
    at = open_link(**{**KO, "view": "assets", "p1": "soxl=50,gold=50", "range": "3Y"})
    spec = next(figure(at, i) for i in range(len(at.get("plotly_chart")))
                if "자산별 손익" in figure(at, i)["layout"]["title"]["text"])  # fmt: skip
    bars = spec["data"][0]
    t = Translator("ko")
    colours = dict(zip(bars["x"], bars["marker"]["color"], strict=True))
    for name, profit in zip(bars["x"], values(bars["y"]), strict=True):
        assert colours[name] == t.change_color(profit), (name, profit)


def test_equal_and_inverse_weights_add_to_one_hundred_exactly():
    at = open_link(**KO)
    next(b for b in at.button if b.label == "역변동성").click().run()
    weights = [at.number_input(key=f"p1_w_{a}").value for a in ("samsung", "soxl", "btc")]
    assert round(sum(weights), 2) == 100.0
    assert "100%가 되도록" not in captions(at)


def test_a_reset_note_writes_the_amount_used_as_money():
    at = open_link(**{**KO, "initial": "abc"})
    said = captions(at)
    assert "initial=abc" in said and "1,000만 원" in said and "10000000" not in said


def test_the_lead_lag_sentence_never_says_minus_zero():
    table = pd.DataFrame({"correlation": [0.01, -0.001, 0.02], "observations": [250, 250, 250]},
                         index=pd.Index([-1, 0, 1], name="lag"))  # fmt: skip
    said = Translator("ko").text(correlations.lead_lag_reading(table, "samsung", "soxl"))
    assert "-0.00" not in said and "0.00" in said


# -- issue 30 on the page ----------------------------------------------------------------------------------------
def test_a_stale_exchange_rate_is_said_with_its_date():
    """On the sample data USD/KRW (the ECB's shipped history) ends weeks before today: SOXL, in the default
    portfolio, is converted at that rate, and the page says so."""
    at = open_link(**KO)
    assert "원/달러 환율이" in captions(at) and "SOXL" in captions(at)


def test_withdrawals_rolling_returns_and_the_largest_drawdowns():
    at = open_link(**{**KO, "range": "5Y", "wevery": "monthly", "wamount": "300000", "chart": "rolling",
                      "view": "drawdowns"})  # fmt: skip
    assert not at.exception and not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value
    assert "인출한 돈" in table.index
    titles = [figure(at, i)["layout"]["title"]["text"] for i in range(len(at.get("plotly_chart")))]
    assert any("롤링 수익률" in t for t in titles)
    drawdowns = next(df.value for df in at.dataframe if "낙폭 (%)" in df.value.columns)
    assert 1 <= len(drawdowns) <= 5


def test_dividends_are_an_option_and_counted_on_the_sample():
    at = open_link(**{**KO, "p1": "samsung=100", "range": "3Y"})
    table = at.dataframe[0].value
    assert "받은 배당 (세후)" in table.index  # the sample's 삼성전자 pays
    none = open_link(**{**KO, "p1": "samsung=100", "range": "3Y", "div": "none"})
    assert "받은 배당 (세후)" not in none.dataframe[0].value.index


# -- 29.6 the command line on a fresh clone ---------------------------------------------------------------------
def test_the_command_runs_on_the_sample_where_the_page_does_and_says_so(tmp_path, subprocess_env):
    done = run_cli(subprocess_env, "portfolio", "--weights", "samsung=50,btc=50", "--start", "2022-01-01",
                   "--out", str(tmp_path / "out"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "sample data" in done.stderr
    stats = pd.read_csv(tmp_path / "out" / "stats.csv", encoding="utf-8-sig", index_col="metric")["value"]
    assert stats["data"] == "sample"
    assert "sample data" in (tmp_path / "out" / "notes.txt").read_text()
