"""Issue 33's "done when": the portfolio's total return on a store filled from a KIS-like server (삼성전자's quarterly
361원, SOXL's dollar distributions, each with KIS's wire traps) equals the oracle's computation of SPEC.md's rules,
values to 1e-9 and TWR to 1e-6 %p, for reinvest, cash and none, with and without withholding, in won, through the
real command line. Plus the rules' hand cases: an ex-date across a holiday, a record date after a closed Dec 31, a
pay date after the window's end, reinvest with whole shares, a dollar dividend in a won portfolio."""

from __future__ import annotations

import datetime as dt
import io
import math

import pandas as pd
import pytest

from marketdash.analysis.portfolio import engine, measures
from marketdash.analysis.portfolio.plan import Costs, Plan
from marketdash.domain import clock
from marketdash.domain.config import load_settings
from marketdash.services.market import MarketService
from tests import oracle_portfolio as oracle
from tests.conftest import run_cli
from tests.kis_server import KisServer, cli_env
from tests.test_portfolio import long_bars

TODAY = dt.date(2026, 7, 10)
NOW = dt.datetime(2026, 7, 10, 18, 0, tzinfo=clock.KST)
START, END = dt.date(2024, 1, 2), dt.date(2025, 12, 31)


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A store filled by `update` from the local KIS server: bars, USD/KRW and the dividends of both payers."""
    tmp = tmp_path_factory.mktemp("kis")
    server = KisServer(today=TODAY, history_start=dt.date(2023, 10, 2)).start()
    try:
        env = cli_env(server, tmp, MARKET_DB=str(tmp / "m.duckdb"), DASHBOARD_NOW=NOW.isoformat())
        done = run_cli(env, "update", "--assets", "samsung,soxl,usdkrw", "--start", "2023-10-01")
        assert done.returncode == 0, done.stdout + done.stderr
        yield env, tmp
    finally:
        server.stop()


def _store_inputs(env: dict[str, str], monkeypatch) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    svc = MarketService(load_settings())
    try:
        data = svc.load(["samsung", "soxl"], START, END)
        return data.bars, svc.usd_krw(START - dt.timedelta(days=14), END), data.dividends
    finally:
        svc.close()


@pytest.mark.parametrize("tax", [False, True], ids=["gross", "withheld"])
@pytest.mark.parametrize("mode", ["reinvest", "cash", "none"])
def test_the_command_lines_total_return_equals_the_oracles(filled, tmp_path, monkeypatch, mode, tax):
    env, _ = filled
    args = ["portfolio", "--weights", "samsung=60,soxl=40", "--start", str(START), "--end", str(END),
            "--initial", "10000000", "--dividends", mode, "--out", str(tmp_path)]  # fmt: skip
    done = run_cli(env, *args, *(["--tax"] if tax else []))
    assert done.returncode == 0, done.stderr
    values = pd.read_csv(tmp_path / "values.csv", encoding="utf-8-sig", index_col="date", parse_dates=["date"])
    stats = pd.read_csv(tmp_path / "stats.csv", encoding="utf-8-sig", index_col="metric")["value"]
    bars, fx, dividends = _store_inputs(env, monkeypatch)
    plan = oracle.OPlan(weights={"samsung": 60.0, "soxl": 40.0}, start=START, end=END, initial=10_000_000.0,
                        dividends=mode, costs=oracle.OCosts(tax=tax))  # fmt: skip
    want, _ = oracle.simulate(plan, bars, fx, dividends)
    assert list(values.index) == list(want.index)
    for column in ("value", "cash", "receivable", "dividends", "samsung", "soxl"):
        pd.testing.assert_series_equal(values[column], want[column], rtol=1e-9, atol=1e-6, check_names=False,
                                       check_index_type=False, check_dtype=False)  # fmt: skip
    twr = oracle.stats(want)["twr_pct"]
    assert abs(float(stats["twr_pct"]) - twr) < 1e-6
    if mode == "none":
        assert values["dividends"].iloc[-1] == 0
    else:  # 삼성전자 paid every quarter in the window, and SOXL in dollars
        assert values["dividends"].iloc[-1] > 0
        assert float(stats["dividend_tax"]) > 0 if tax else float(stats["dividend_tax"]) == 0


def test_dividends_add_to_the_price_return(filled, tmp_path):
    env, _ = filled
    finals = {}
    for mode in ("none", "reinvest", "cash"):
        out = tmp_path / mode
        done = run_cli(env, "portfolio", "--weights", "samsung=100", "--start", str(START), "--end", str(END),
                       "--dividends", mode, "--out", str(out))  # fmt: skip
        assert done.returncode == 0, done.stderr
        finals[mode] = float(pd.read_csv(out / "stats.csv", encoding="utf-8-sig", index_col="metric")["value"]
                             ["final_value"])  # fmt: skip
    assert finals["reinvest"] > finals["none"] and finals["cash"] > finals["none"]


# -- the rules by hand ------------------------------------------------------------------------------------------
def _table(rows: list[tuple]) -> pd.DataFrame:
    columns = ["asset_id", "record_date", "ex_date", "pay_date", "amount", "currency", "kind", "fixed", "source",
               "fetched_at"]  # fmt: skip
    stamp = lambda d: pd.Timestamp(d) if d else pd.NaT  # noqa: E731
    return pd.DataFrame([(a, stamp(r), stamp(e), stamp(p), amt, ccy, "cash", True, "kis", pd.Timestamp("2026-01-01"))
                         for a, r, e, p, amt, ccy in rows], columns=columns)  # fmt: skip


def _krx(start: str, end: str, closed: tuple[str, ...] = ()) -> pd.DatetimeIndex:
    days = pd.bdate_range(start, end)
    return days[~days.isin(pd.DatetimeIndex(list(closed)))]


def test_a_record_date_after_a_closed_dec_31_goes_ex_on_the_27th_and_pays_in_april():
    """2024-12-31 record date, KRX closed on the 31st: the last session on or before it is the 30th, the ex-date the
    27th; the units held at the 26th's close are entitled; a receivable from the 27th; paid 2025-04-17."""
    days = _krx("2024-12-02", "2025-04-30", ("2024-12-25", "2024-12-31", "2025-01-01", "2025-01-28", "2025-01-29",
                                             "2025-01-30"))  # fmt: skip
    closes = pd.Series(50_000.0, index=days)
    closes.loc["2024-12-27":] = 49_639.0  # the ex-date's drop
    table = _table([("samsung", "2024-12-31", "2024-12-30", "2025-04-17", 361.0, "KRW")])
    run = engine.run(Plan({"samsung": 100}, initial=5_000_000, dividends="reinvest"), long_bars({"samsung": closes}),
                     None, table)  # fmt: skip
    v = run.values
    assert v.loc["2024-12-26", "receivable"] == 0 and v.loc["2024-12-27", "receivable"] == pytest.approx(100 * 361)
    paid = run.trades[run.trades["side"] == "dividend"].iloc[0]
    assert paid["date"] == pd.Timestamp("2025-04-17") and paid["units"] == 100
    # the price drop and the receivable offset each other on the ex-date
    assert v.loc["2024-12-27", "value"] == pytest.approx(v.loc["2024-12-26", "value"], rel=1e-12)


def test_a_pay_date_after_the_end_stays_a_receivable_in_the_value():
    days = _krx("2025-03-03", "2025-04-30")
    table = _table([("samsung", "2025-03-31", None, "2025-05-20", 361.0, "KRW")])
    run = engine.run(Plan({"samsung": 100}, initial=7_000_000, end=dt.date(2025, 4, 30)),
                     long_bars({"samsung": pd.Series(70_000.0, index=days)}), None, table)  # fmt: skip
    assert run.values["receivable"].iloc[-1] == pytest.approx(100 * 361)
    assert run.trades[run.trades["side"] == "dividend"].empty
    assert measures.summary(run)["final_value"] == pytest.approx(7_000_000 + 36_100)


def test_reinvest_with_whole_shares_pools_the_dividend_with_the_remainder():
    days = _krx("2025-03-03", "2025-06-30")
    table = _table([("samsung", "2025-03-31", None, "2025-05-20", 361.0, "KRW")])
    plan = Plan({"samsung": 100}, initial=7_050_000, whole_shares=True, dividends="reinvest",
                costs=Costs(tax=True))  # fmt: skip
    run = engine.run(plan, long_bars({"samsung": pd.Series(70_000.0, index=days)}), None, table)
    buys = run.trades[run.trades["side"] == "buy"]
    # 100 shares and 50,000 left; the dividend: 100 x 361 less 15.4 % = 30,539.4; with the 50,000, one share more
    assert buys["units"].tolist() == [100.0, 1.0]
    assert run.values["cash"].iloc[-1] == pytest.approx(50_000 + 36_100 * (1 - 0.154) - 70_000)


def test_a_dollar_dividend_in_a_won_portfolio_is_reinvested_without_conversion_or_counted_at_the_fixing():
    us = pd.bdate_range("2024-06-03", "2024-07-31").drop(pd.DatetimeIndex(["2024-06-19", "2024-07-04"]))
    fx = pd.DataFrame({"date": us, "close": 1380.0, "source": "kis"})
    table = _table([("soxl", "2024-06-25", "2024-06-25", "2024-07-02", 0.05, "USD")])
    bars = long_bars({"soxl": pd.Series(40.0, index=us)})
    cash = engine.run(Plan({"soxl": 100}, initial=5_520_000, dividends="cash", costs=Costs(fx_spread=1.0, tax=True)),
                      bars, fx, table)  # fmt: skip
    row = cash.trades[cash.trades["side"] == "dividend"].iloc[0]
    units = 5_520_000 / (40 * 1380 * 1.01)
    assert row["units"] == pytest.approx(units) and row["fx"] == pytest.approx(1380 * 0.99)
    assert row["tax"] == pytest.approx(units * 0.05 * 1380 * 0.99 * 0.15)
    again = engine.run(Plan({"soxl": 100}, initial=5_520_000, dividends="reinvest", costs=Costs(fx_spread=1.0)),
                       bars, fx, table)  # fmt: skip
    buy = again.trades[again.trades["side"] == "buy"].iloc[-1]
    assert buy["date"] == pd.Timestamp("2024-07-02") and buy["fx"] == pytest.approx(1380.0)  # no spread
    assert buy["units"] == pytest.approx(units * 0.05 / 40)
    assert not math.isnan(measures.summary(again)["twr_pct"])


def test_an_index_a_coin_and_a_future_pay_nothing():
    days = pd.date_range("2024-06-03", "2024-07-31")
    table = _table([(a, "2024-06-28", "2024-06-27", "2024-07-10", 5.0, "KRW") for a in ("kospi200", "btc")])
    bars = long_bars({"kospi200": pd.Series(350.0, index=days[days.dayofweek < 5]), "btc": pd.Series(1e8, index=days)})
    run = engine.run(Plan({"kospi200": 50, "btc": 50}, initial=1_000_000), bars, None, table)
    assert run.values["dividends"].iloc[-1] == 0 and run.values["receivable"].max() == 0


def test_the_dividends_csv_reads_back(filled):
    env, _ = filled
    shown = run_cli(env, "dividends", "--assets", "samsung")
    assert shown.returncode == 0
    assert len(pd.read_csv(io.StringIO(shown.stdout))) > 0
