"""The Portfolio page (AppTest, a link as the reader opens it) and `python -m collectors portfolio` (issue 23).

The page's figures are the engine's on the same bars; the command line writes SPEC's three files from the store
only; bad input is one sentence, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import io
import math

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from collectors.sample import SampleCollector
from marketdash.analysis.portfolio import engine, measures, timeline
from marketdash.analysis.portfolio.plan import Plan
from marketdash.domain import catalog, clock
from marketdash.domain.records import bars_to_frame
from marketdash.services.store import Store
from tests.conftest import ROOT, run_cli
from tests.test_pages import figure, values

LINK = {"lang": "en", "p1": "samsung=40,soxl=30,btc=30", "range": "3Y", "every": "monthly", "day": "10",
        "amount": "500000", "rebal": "quarterly"}  # fmt: skip


def open_link(**params: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(params)
    at.switch_page("pages/6_portfolio.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_link_opens_the_portfolio_with_its_statistics_charts_and_csv():
    at = open_link(**LINK, n="2", p2="kospi200=50,gold=50")
    assert not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value
    assert list(table.columns) == ["Portfolio 1", "Portfolio 2", "Benchmark: KOSPI 200"]
    assert "Money-weighted return (annual, XIRR)" in table.index
    assert table.loc["Money put in", "Portfolio 1"] == table.loc["Money put in", "Benchmark: KOSPI 200"]
    titles = []
    for chart, view in (("value", "monthly"), ("growth", "weights"), ("drawdown", "assets"), ("yearly", "monthly")):
        at.segmented_control(key="chart").set_value(chart)
        at.segmented_control(key="view").set_value(view).run()
        assert not at.exception, [e.value for e in at.exception]
        titles += [figure(at, i)["layout"]["title"]["text"] for i in range(len(at.get("plotly_chart")))]
    for wanted in ("Value and money put in", "Time-weighted growth", "Drawdown", "Returns by year",
                   "monthly returns", "weights over time", "Profit by asset"):  # fmt: skip
        assert any(wanted in title for title in titles), (wanted, titles)
    assert at.query_params["chart"] == "yearly"
    assert any("Sample data" in w.value for w in at.warning)
    assert any("Before fees and taxes" in c.value for c in at.caption)
    labels = [b.proto.label for b in at.get("download_button")]
    assert len(labels) >= 6 and all("CSV" in label for label in labels)
    assert at.query_params["p2"] == "kospi200=50,gold=50"


def test_the_page_shows_the_engines_figures_on_the_same_bars():
    """The value line equals the engine run directly on the sample bars the page loaded."""
    from marketdash.web import ui

    at = open_link(**LINK)
    spec = figure(at, 0)
    line = next(t for t in spec["data"] if t["name"] == "Portfolio 1")
    drawn = values(line["y"])
    svc = ui.get_service()
    ids = ["samsung", "soxl", "btc", "kospi200"]
    start = clock.today_kst() - dt.timedelta(days=3 * 365 + 1)
    data = svc.load(ids, start, None)
    plan = Plan({"samsung": 40, "soxl": 30, "btc": 30}, start, None, every="monthly", day=10, amount=500_000,
                rebalance="quarterly")  # fmt: skip
    first = max(timeline.effective_start(data.bars, p, start, None) for p in (plan.assets, ["kospi200"]))
    run = engine.run(Plan(**{**plan.__dict__, "start": first}), data.bars, svc.usd_krw(first - dt.timedelta(14)),
                     data.dividends)  # fmt: skip
    assert drawn[-1] == pytest.approx(run.values["value"].iloc[-1], rel=1e-9)
    assert len(drawn) == len(run.values)


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"p1": "samsung=0,btc=0"}, "Every weight is 0"),
        ({"initial": "0", "every": "none"}, "No money goes in"),
        ({"initial": "0", "every": "monthly", "amount": "0"}, "No money goes in"),
        ({"p1": "ovs:FX@JPY=100"}, "cannot be converted to KRW or USD"),
    ],
)
def test_bad_input_is_one_sentence(params, said):
    at = open_link(**{**LINK, **params})
    assert [e.value for e in at.error if said in e.value], [e.value for e in at.error]


def test_a_url_value_that_cannot_be_used_is_named_and_the_rest_of_the_portfolio_stands():
    at = open_link(**{**LINK, "initial": "abc", "p1": "samsung=50,nope=10,btc=50,soxl=-5"})
    said = " ".join(c.value for c in at.caption)
    assert "initial=abc" in said and "nope=10" in said and "soxl=-5" in said  # a weight field takes 0 or more
    assert not at.error
    assert at.dataframe[0].value.loc["Money put in", "Portfolio 1"] == at.dataframe[0].value.loc[
        "Money put in", "Benchmark: KOSPI 200"]  # fmt: skip
    assert at.query_params["p1"] == "samsung=50,btc=50"


def test_one_asset_and_twenty_assets_are_allowed():
    one = open_link(**{**LINK, "p1": "btc=100"})
    assert not one.error and one.get("plotly_chart")
    many = ",".join(f"{a}=5" for a in [*catalog.COMPARED, "kospi200"]) + ",soxl=5"
    at = open_link(**{**LINK, "p1": many})
    assert not at.error


# -- the command line -----------------------------------------------------------------------------------------------
def _store_bars(db, ids: list[str]) -> pd.DataFrame:
    """The store filled as if fetched: the sample paths of `ids` and USD/KRW, since 2019."""
    store = Store(db)
    end = dt.date(2026, 11, 30)
    frames = []
    for asset_id in [*ids, "usdkrw"]:
        pages = SampleCollector().pages(catalog.get(asset_id), dt.date(2019, 1, 1), end)  # USD/KRW: ECB's rates
        bars = bars_to_frame([b for page in pages for b in page])
        bars["source"] = "upbit" if asset_id == "btc" else "kis"
        store.upsert_bars(bars)
        frames.append(bars)
    store.close()
    return pd.concat(frames, ignore_index=True)


def _csv(path) -> pd.DataFrame:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM: Excel shows Korean
    return pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig")


@pytest.mark.parametrize("entry", ["collectors", "marketdash"])
def test_cli_writes_values_trades_and_stats_from_the_store(entry, tmp_path, subprocess_env):
    bars = _store_bars(tmp_path / "market.duckdb", ["samsung", "soxl", "btc"])
    out = tmp_path / "out"
    args = ["portfolio", "--weights", "samsung=40,soxl=30,btc=30", "--start", "2020-01-01", "--end", "2025-12-31",
            "--every", "monthly", "--day", "10", "--amount", "500000", "--rebalance", "quarterly",
            "--fee", "krx=0.015,us=0.25,coin=0.05", "--fx-spread", "1", "--fx-discount", "90", "--tax",
            "--out", str(out)]  # fmt: skip
    if entry == "collectors":
        done = run_cli(subprocess_env, *args)
    else:
        import subprocess
        import sys

        done = subprocess.run([sys.executable, "-m", "marketdash", *args], env=subprocess_env, capture_output=True,
                              text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    values = _csv(out / "values.csv")
    trades = _csv(out / "trades.csv")
    stats = _csv(out / "stats.csv").set_index("metric")["value"]
    assert list(values.columns) == ["date", "invested", "withdrawn", "cash", "receivable", "owed", "dividends", "value",
                                    "samsung", "soxl", "btc"]  # fmt: skip
    assert list(trades.columns) == ["date", "asset_id", "side", "units", "price", "currency", "fx", "amount", "fee",
                                    "tax"]  # fmt: skip
    assert set(measures.STAT_KEYS) <= set(stats.index)
    assert values["date"].iloc[0] == "2020-01-02" and values["date"].iloc[-1] == "2025-12-31"
    assert float(stats["final_value"]) == pytest.approx(values["value"].iloc[-1], rel=1e-9)
    assert set(trades["side"]) == {"buy", "sell"} and (trades.loc[trades["currency"] == "USD", "fx"] > 1000).all()
    # the same engine, in this process, on the same bars
    plan_args = {"every": "monthly", "day": 10, "amount": 500_000, "rebalance": "quarterly"}
    from marketdash.analysis.portfolio.plan import Costs

    plan = Plan({"samsung": 40, "soxl": 30, "btc": 30}, dt.date(2020, 1, 2), dt.date(2025, 12, 31), **plan_args,
                costs=Costs({"krx": 0.015, "us": 0.25, "coin": 0.05}, 1.0, 90.0, True))  # fmt: skip
    fx = bars[bars["asset_id"] == "usdkrw"]
    run = engine.run(plan, bars, fx)
    assert float(stats["twr_pct"]) == pytest.approx(measures.summary(run)["twr_pct"], rel=1e-8)
    printed = dict(line.split(None, 1) for line in done.stdout.splitlines() if line.strip())
    assert set(printed) == {*measures.STAT_KEYS, "data"} and printed["data"] == "store"
    assert not math.isnan(float(printed["mwr_annual_pct"]))


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--weights", "samsung=40,zz=60"], "Unknown asset 'zz'"),
        (["--weights", "samsung=40,krx:123456=60"], "no stored daily bars"),
        (["--weights", "samsung=100", "--end", "2019-01-01"], "is before the start"),
        (["--weights", "samsung=-5,btc=10"], "weights are 0 or more"),
        (["--weights", "samsung=100", "--initial", "0"], "No money goes in"),
    ],
)
def test_cli_bad_input_is_one_sentence(args, said, tmp_path, subprocess_env):
    _store_bars(tmp_path / "market.duckdb", ["samsung", "btc"])
    done = run_cli(subprocess_env, "portfolio", "--start", "2020-01-01", "--out", str(tmp_path / "out"), *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert said in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_equal_and_inverse_volatility_fill_the_weights_in_one_click():
    at = open_link(**LINK)
    next(b for b in at.button if b.label == "Equal weights").click().run()
    weights = {a: at.number_input(key=f"p1_w_{a}").value for a in ("samsung", "soxl", "btc")}
    assert weights == {"samsung": 33.34, "soxl": 33.33, "btc": 33.33}
    assert at.query_params["p1"] == "samsung=33.34,soxl=33.33,btc=33.33"
    next(b for b in at.button if b.label == "Inverse volatility").click().run()
    assert not at.exception
    weights = {a: at.number_input(key=f"p1_w_{a}").value for a in ("samsung", "soxl", "btc")}
    assert sum(weights.values()) == pytest.approx(100, abs=0.02)
    assert weights["soxl"] < weights["samsung"]  # a 3x leveraged fund swings more than a stock
