"""Total return on the pages (issue 33.3), on sample data: Compare's 가격 / 총수익 switch and the Risk page that
follows it (`?ret=total`), the asset page's dividends with their yields, and the Data page's dividends. The
expected figures are computed here from the sample's dividends and bars by the rule itself, not by the app's code."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from collectors.sample import sample_bars, sample_dividends
from marketdash.domain import catalog
from marketdash.domain.i18n import Translator
from tests.conftest import ROOT
from tests.test_pages import figure, values

EN = Translator("en")
START, END = dt.date(2025, 1, 2), dt.date(2025, 12, 30)
RANGE = {"range": "Custom", "start": START.isoformat(), "end": END.isoformat()}


def open_page(page: str, **params: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.query_params.update(lang="en", **params)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def growth(asset_id: str, after: dt.date, through: dt.date) -> float:
    """By hand: the product of (1 + D / close before the ex-date) over the sample's dividends going ex in
    (after, through]. A KRX ex-date is the bar before the last bar on or before the record date."""
    asset = catalog.get(asset_id)
    later = through + dt.timedelta(days=10)  # a record date just after the range may go ex inside it
    bars = sample_bars(asset, dt.date(2015, 1, 1), later)
    days, closes = [b.date for b in bars], [b.close for b in bars]
    factor = 1.0
    for d in sample_dividends(asset, later):
        if asset.calendar == "XKRX":
            s = max(i for i, day in enumerate(days) if day <= d.record_date)
            ex = days[s - 1]
        else:
            ex = d.ex_date
        prev = max(i for i, day in enumerate(days) if day < ex)
        if after < ex <= through:
            factor *= 1 + d.amount / closes[prev]
    return factor


def last_values(at: AppTest) -> dict[str, float]:
    return {t["name"]: float(values(t["y"])[-1]) for t in figure(at)["data"]}


def test_compare_total_return_reinvests_the_sample_dividends_and_says_what_it_is():
    price = open_page("pages/1_compare.py", assets="kospi200,samsung,soxl,btc", **RANGE)
    total = open_page("pages/1_compare.py", assets="kospi200,samsung,soxl,btc", ret="total", **RANGE)
    assert total.query_params["ret"] == "total"
    title = figure(total)["layout"]["title"]["text"]
    assert "total return (dividends reinvested)" in title
    anchor = dt.date.fromisoformat(title.split("Rebased to 100 on ")[1][:10])
    p, t = last_values(price), last_values(total)
    for asset_id in ("samsung", "soxl"):
        name = f"{EN.name(asset_id)} (sample)"
        expected = growth(asset_id, anchor, END)
        assert expected > 1.001  # the range holds dividends
        assert t[name] / p[name] == pytest.approx(expected, rel=1e-9), asset_id
    for asset_id in ("kospi200", "btc"):  # a price index and a coin pay nothing
        name = f"{EN.name(asset_id)} (sample)"
        assert t[name] == p[name]
    said = " ".join(c.value for c in total.caption)
    assert "KOSPI 200: a price index, without dividends" in said
    assert "reinvested at the close of the session before each ex-date" in said
    assert "Assets that pay no dividends follow their price: Bitcoin." in said
    assert "Dividends of Samsung Elec., SOXL are sample data." in said
    assert "a price index" not in " ".join(c.value for c in price.caption)


def test_the_risk_page_follows_the_same_switch():
    price = open_page("pages/3_statistics.py", assets="samsung,btc", **RANGE)
    total = open_page("pages/3_statistics.py", assets="samsung,btc", ret="total", **RANGE)
    column = EN("col.total_return_pct")
    shown = {at: at.dataframe[0].value[column] for at in (price, total)}
    p, t = (float(shown[at]["Samsung Elec."].rstrip("%").replace(",", "")) for at in (price, total))
    bars = sample_bars(catalog.get("samsung"), START, END)
    expected = growth("samsung", bars[0].date, bars[-1].date)
    assert (1 + t / 100) / (1 + p / 100) == pytest.approx(expected, abs=2e-4)  # figures shown to 0.01 %
    assert shown[total]["Bitcoin"] == shown[price]["Bitcoin"]
    assert any("sample data" in c.value for c in total.caption)


def test_the_asset_page_lists_each_dividend_with_its_yield_and_the_trailing_year():
    at = open_page("pages/5_asset.py", id="samsung")
    table = next(df.value for df in at.dataframe if EN("col.yield_pct") in df.value.columns)
    assert list(table.columns) == [EN(f"col.{c}") for c in ("ex_date", "pay_date", "dividend", "close_before_ex",
                                                             "yield_pct")]  # fmt: skip
    first = table.iloc[0]
    amount = float(first[EN("col.dividend")].replace("KRW", "").replace(",", "").strip())
    close = float(first[EN("col.close_before_ex")].replace("KRW", "").replace(",", "").strip())
    assert amount == 361.0
    assert float(first[EN("col.yield_pct")]) == pytest.approx(amount / close * 100, rel=1e-3)
    metric = next(m for m in at.metric if m.label.startswith("Trailing 12-month yield"))
    assert math.isfinite(float(metric.value.rstrip("%")))
    assert any(b.proto.label.endswith("Dividends (CSV)") or "Dividends" in b.proto.label
               for b in at.get("download_button"))  # fmt: skip
    index = open_page("pages/5_asset.py", id="kospi200")
    assert not any(EN("col.yield_pct") in df.value.columns for df in index.dataframe)


def test_the_data_page_lists_the_payers_dividends():
    at = open_page("pages/4_data.py")
    coverage = next(df.value for df in at.dataframe if EN("col.first_record") in df.value.columns)
    assert list(coverage.index) == [EN.name(a) for a in ("samsung", "skhynix", "soxl")]
    assert any("once a day per asset" in c.value for c in at.caption)


def test_a_paper_key_is_said_once_on_the_data_page(monkeypatch):
    monkeypatch.setenv("KIS_APP_KEY", "PSpaperKEY000000000000000000000000001")
    monkeypatch.setenv("KIS_APP_SECRET", "s" * 40)
    monkeypatch.setenv("KIS_ENV", "paper")
    at = open_page("pages/4_data.py")
    said = [i.value for i in at.info if "real-account keys only" in i.value]
    assert len(said) == 1


def test_sample_dividends_never_enter_the_users_store(isolated_env):
    from marketdash.domain.config import load_settings
    from marketdash.services.market import MarketService

    svc = MarketService(load_settings())
    data = svc.load(["samsung", "soxl", "kospi200"], START, END)
    assert set(data.dividends["source"]) == {"sample"} and set(data.dividends["asset_id"]) == {"samsung", "soxl"}
    assert data.dividends["ex_date"].notna().all()
    assert svc.store.read_dividends().empty
    assert pd.api.types.is_datetime64_any_dtype(data.dividends["record_date"])
