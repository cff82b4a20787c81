"""The portfolio engine as real money behaves (issue 30): decisions with only what was known at that close, whole
shares that pool their remainder, stale data said, every won counted, figures that do not mislead. Each case is
small enough to work out by hand; the oracle (test_portfolio_oracle.py) covers random plans."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from marketdash.analysis.portfolio import breakdown, engine, measures, schedule
from marketdash.analysis.portfolio.plan import Costs, Plan, PlanError, check, equal_weights, hundredths
from tests.test_portfolio import REL, fx_fixings, long_bars, walk


def krx_days(start: str, end: str) -> pd.DatetimeIndex:
    return pd.bdate_range(start, end)


# -- decisions use only what is known -------------------------------------------------------------------------------
def test_a_krx_leg_is_sized_before_the_us_close_of_the_same_date():
    """A quarterly rebalance of 삼성전자/SOXL is decided at the KRX close (15:30 KST), hours before SOXL closes that
    date: raising only SOXL's close of the decision date leaves the 삼성전자 trade as it was (it once went from 5.8
    to 24.6 shares)."""
    days = krx_days("2024-01-02", "2024-06-28")
    closes = {"samsung": walk(days, 1, 70_000), "soxl": walk(days, 2, 40)}
    fx = fx_fixings({str(d.date()): 1300.0 for d in days})
    plan = Plan({"samsung": 50, "soxl": 50}, initial=10_000_000, rebalance="quarterly")
    before = engine.run(plan, long_bars(closes), fx)
    april = pd.Timestamp("2024-04-01")
    moved = dict(closes)
    moved["soxl"] = closes["soxl"].copy()
    moved["soxl"].loc[april] *= 1.3
    after = engine.run(plan, long_bars(moved), fx)

    def samsung_trade(run: engine.Backtest) -> pd.Series:
        trades = run.trades
        return trades[(trades["date"] == april) & (trades["asset_id"] == "samsung")].iloc[0]

    assert samsung_trade(before)["units"] == pytest.approx(samsung_trade(after)["units"], rel=REL)
    # and SOXL's own leg, traded at its own close of that date, is an amount decided at the KRX close
    soxl = lambda run: run.trades[(run.trades["date"] == april) & (run.trades["asset_id"] == "soxl")].iloc[0]  # noqa: E731
    assert soxl(before)["amount"] == pytest.approx(soxl(after)["amount"], rel=REL)


def test_a_band_breach_seen_at_the_us_close_trades_krx_the_next_session():
    days = krx_days("2024-01-02", "2024-01-12")
    soxl = pd.Series([40.0, 40, 40, 60, 60, 60, 60, 60, 60], index=days[:9])
    closes = {"samsung": pd.Series(70_000.0, index=days[:9]), "soxl": soxl}
    fx = fx_fixings({str(d.date()): 1000.0 for d in days})
    run = engine.run(Plan({"samsung": 50, "soxl": 50}, initial=10_000_000, rebalance="bands", bands=(5.0, 100.0)),
                     long_bars(closes), fx)  # fmt: skip
    trades = run.trades[run.trades["side"] != "buy"].set_index("asset_id")
    # SOXL jumps on 01-05 (its close, 06:00 KST the next morning): sold that night; 삼성전자 bought at 01-08's KRX close
    assert trades.loc["soxl", "date"] == pd.Timestamp("2024-01-05")
    buys = run.trades[(run.trades["side"] == "buy") & (run.trades["asset_id"] == "samsung")]
    assert buys["date"].tolist()[-1] == pd.Timestamp("2024-01-08")


# -- whole shares ---------------------------------------------------------------------------------------------------
def test_whole_shares_pool_their_remainder_and_a_coin_stays_fractional():
    days = krx_days("2023-01-02", "2023-12-29")
    closes = {"samsung": pd.Series(70_000.0, index=days), "skhynix": pd.Series(90_000.0, index=days)}
    plan = Plan({"samsung": 50, "skhynix": 50}, initial=0, every="monthly", day=10, amount=100_000,
                whole_shares=True)  # fmt: skip
    run = engine.run(plan, long_bars(closes))
    # 50,000원 a month each: 삼성전자 every second month at 70,000, SK하이닉스 about every second at 90,000
    buys = run.trades[run.trades["side"] == "buy"]
    assert len(buys[buys["asset_id"] == "samsung"]) >= 5
    assert len(buys[buys["asset_id"] == "skhynix"]) >= 4
    assert (buys["units"] == buys["units"].round()).all()
    # idle cash stays under one share of each plus the month's money
    assert (run.values["cash"] < 70_000 + 90_000 + 100_000).all()
    spent = (buys["amount"] + buys["fee"]).sum()
    assert run.values["cash"].iloc[-1] == pytest.approx(1_200_000 - spent, abs=1e-6)
    every = pd.date_range("2023-01-01", "2023-12-31")
    coin_bars = long_bars({"btc": pd.Series(60_000_000.0, index=every), "samsung": closes["samsung"]})
    coin = engine.run(Plan({"btc": 50, "samsung": 50}, initial=1_000_000, whole_shares=True), coin_bars)
    bought = coin.trades.set_index("asset_id")["units"]
    assert bought["btc"] == pytest.approx(500_000 / 60_000_000, rel=REL)  # fractional
    assert bought["samsung"] == 7.0


def test_a_breach_whole_shares_cannot_narrow_trades_nothing():
    """삼성전자 at 2,000,000원 a share in a 3,000,000원 portfolio: one share is two thirds of it, so the 50/50 target
    can never be met in whole shares. Bands must not rebalance every day (1,017 trading days once)."""
    days = krx_days("2024-01-02", "2024-12-31")
    closes = {"samsung": walk(days, 3, 2_000_000), "kospi200": walk(days, 4, 350)}
    run = engine.run(Plan({"samsung": 50, "kospi200": 50}, initial=3_000_000, rebalance="bands", bands=(5.0, 25.0),
                          whole_shares=True), long_bars(closes))  # fmt: skip
    trading_days = run.trades["date"].nunique()
    assert trading_days < 20, trading_days


# -- every won counted ----------------------------------------------------------------------------------------------
def test_money_due_after_the_last_bar_is_counted():
    """12 monthly payments in a year whose last due day (Dec 31) is a KRX holiday: all 12 count, the last waiting
    as cash."""
    days = krx_days("2024-01-02", "2024-12-30")
    closes = {"samsung": walk(days, 5, 70_000)}
    run = engine.run(Plan({"samsung": 100}, start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31), initial=0,
                          every="monthly", day=31, amount=100_000), long_bars(closes))  # fmt: skip
    assert run.values["invested"].iloc[-1] == 1_200_000
    assert run.values.index[-1] == pd.Timestamp("2024-12-31")
    assert run.values["cash"].iloc[-1] == pytest.approx(100_000)


def test_bands_are_checked_while_money_waits():
    """A contribution on a Saturday waits for Monday's KRX session while the coin buys on Saturday: the bands are
    still checked at the coin's closes meanwhile (they once were skipped while any money waited)."""
    every = pd.date_range("2024-01-01", "2024-01-31")
    weekdays = every[every.dayofweek < 5]
    btc = pd.Series(100.0, index=every)
    btc.loc["2024-01-06":] = 200.0  # doubles on the Saturday the money arrives
    closes = {"btc": btc, "samsung": pd.Series(100.0, index=weekdays)}
    plan = Plan({"btc": 50, "samsung": 50}, start=dt.date(2024, 1, 1), initial=1000, every="weekly", weekday=5,
                amount=0.0, rebalance="bands", bands=(5.0, 100.0), flows=((dt.date(2024, 1, 6), 1000.0),))  # fmt: skip
    run = engine.run(plan, long_bars(closes))
    sells = run.trades[run.trades["side"] == "sell"]
    assert sells["date"].min() == pd.Timestamp("2024-01-06")


def test_an_asset_named_twice_adds_up_and_a_zero_weight_moves_nothing():
    days = krx_days("2024-01-02", "2024-03-29")
    late = krx_days("2024-03-01", "2024-03-29")
    closes = {"samsung": walk(days, 6, 70_000), "skhynix": walk(late, 7, 90_000)}
    plan = Plan({"samsung": 100, "skhynix": 0}, start=dt.date(2024, 1, 2), initial=1_000_000, rebalance="monthly")
    notes = check(plan)
    assert [n.key for n in notes] == ["pf.zero_dropped"]
    run = engine.run(plan, long_bars(closes))
    assert run.start == dt.date(2024, 1, 2)  # 0-weight SK하이닉스 from March does not move the start
    assert list(run.units.columns) == ["samsung"]


def test_equal_and_inverse_weights_add_to_exactly_100():
    assert sum(equal_weights(["samsung", "soxl", "btc"]).values()) == pytest.approx(100.0, abs=1e-12)
    shares = hundredths({"samsung": 1 / 0.013, "soxl": 1 / 0.021, "btc": 1 / 0.034, "gold": 1 / 0.007})
    assert round(sum(shares.values()), 2) == 100.0
    assert not [n for n in check(Plan(shares)) if n.key == "pf.scaled"]


# -- taxes ----------------------------------------------------------------------------------------------------------
def test_taxes_never_make_cash_negative_and_the_us_tax_year_follows_settlement():
    """A SOXL sale on 2024-12-31 settles on 2025-01-02 (T+1): its gain is 2025's, not 2024's. A tax larger than
    the cash is owed, counted against the value, and raised by selling."""
    us = pd.bdate_range("2024-06-03", "2025-03-31").drop(pd.DatetimeIndex(["2024-12-25", "2025-01-01"]))
    soxl = pd.Series(40.0, index=us)
    soxl.loc["2024-12-31":] = 80.0
    closes = {"soxl": soxl, "samsung": pd.Series(70_000.0, index=us)}
    fx = fx_fixings({str(d.date()): 1000.0 for d in us})
    plan = Plan({"soxl": 50, "samsung": 50}, initial=100_000_000, rebalance="bands", bands=(5.0, 100.0),
                costs=Costs(tax=True))  # fmt: skip
    run = engine.run(plan, long_bars(closes), fx)
    sale = run.trades[(run.trades["side"] == "sell") & (run.trades["asset_id"] == "soxl")].iloc[0]
    assert sale["date"] == pd.Timestamp("2024-12-31")
    assert run.values.loc["2024-12-31", "owed"] == 0  # nothing taxed in 2024
    gain = sale["units"] * (80.0 - 40.0) * 1000.0
    assert sale["tax"] == pytest.approx(0.22 * (gain - 2_500_000), rel=REL)  # paid on 2025's last day
    assert (run.values["cash"] >= -1e-6).all()
    v = run.values
    np.testing.assert_allclose(v["value"], v["cash"] + v["receivable"] - v["owed"] + v[["soxl", "samsung"]].sum(axis=1),
                               rtol=1e-12)  # fmt: skip


# -- money out ------------------------------------------------------------------------------------------------------
def test_withdrawals_sell_in_proportion_and_say_when_the_money_ran_out():
    days = krx_days("2024-01-02", "2024-12-31")
    closes = {"samsung": pd.Series(70_000.0, index=days), "skhynix": pd.Series(100_000.0, index=days)}
    plan = Plan({"samsung": 50, "skhynix": 50}, initial=1_000_000, withdraw=300_000, withdraw_every="monthly",
                withdraw_from=dt.date(2024, 3, 15))  # fmt: skip
    run = engine.run(plan, long_bars(closes))
    sells = run.trades[run.trades["side"] == "sell"]
    first = sells[sells["date"] == sells["date"].min()]
    assert first["amount"].sum() == pytest.approx(300_000, rel=REL)  # half from each, in proportion to value
    assert first["amount"].iloc[0] == pytest.approx(first["amount"].iloc[1], rel=REL)
    assert run.values["withdrawn"].iloc[-1] == pytest.approx(1_000_000, rel=REL)  # 3 whole, the 4th what is left
    assert [n.key for n in run.notes] == ["pf.note_ran_out"]
    assert run.values["value"].iloc[-1] == pytest.approx(0.0, abs=1e-6)
    stats = measures.summary(run)
    assert stats["profit"] == pytest.approx(0.0, abs=1e-6)
    assert stats["mwr_annual_pct"] == pytest.approx(0.0, abs=1e-6)


def test_withdrawal_and_contribution_days():
    plan = Plan({"a": 1}, every="monthly", day=31, amount=1, withdraw=1, withdraw_every="yearly",
                withdraw_from=dt.date(2024, 2, 29))  # fmt: skip
    start, end = dt.date(2023, 12, 31), dt.date(2026, 3, 1)
    assert schedule.withdrawal_dates(plan, start, end) == [dt.date(2024, 2, 29), dt.date(2025, 2, 28),
                                                           dt.date(2026, 2, 28)]  # fmt: skip
    assert schedule.contribution_dates(plan, start, end) == [dt.date(2024, 1, 31)]  # stop at withdrawals
    assert schedule.rebalance_dates("semiannual", dt.date(2024, 2, 10), dt.date(2025, 8, 1)) == [
        dt.date(2024, 7, 1), dt.date(2025, 1, 1), dt.date(2025, 7, 1)]  # fmt: skip


# -- stale data said ------------------------------------------------------------------------------------------------
def test_an_asset_whose_bars_stop_ends_the_run_and_is_named():
    days = krx_days("2024-01-02", "2024-12-31")
    us = pd.bdate_range("2024-01-02", "2024-06-28")
    closes = {"samsung": walk(days, 8, 70_000), "silver": walk(us, 9, 23)}
    fx = fx_fixings({str(d.date()): 1300.0 for d in days})
    run = engine.run(Plan({"samsung": 50, "silver": 50}, initial=1_000_000, rebalance="quarterly"),
                     long_bars(closes), fx)  # fmt: skip
    assert run.end <= dt.date(2024, 6, 30)
    note = next(n for n in run.notes if n.key == "pf.note_stops")
    assert note.params["last"] == dt.date(2024, 6, 28)


def test_a_gap_in_an_assets_bars_and_a_stale_rate_are_named():
    days = krx_days("2024-01-02", "2024-06-28")
    holed = days[(days < "2024-03-04") | (days > "2024-03-22")]
    closes = {"samsung": walk(holed, 10, 70_000), "soxl": walk(days, 11, 40)}
    fx = fx_fixings({str(d.date()): 1300.0 for d in days if d < pd.Timestamp("2024-05-01")})
    run = engine.run(Plan({"samsung": 50, "soxl": 50}, initial=1_000_000), long_bars(closes), fx)
    keys = {n.key: n for n in run.notes}
    assert keys["pf.note_gap"].params["n"] >= 14
    assert keys["pf.note_fx_stale"].params["day"] == dt.date(2024, 4, 30)


# -- figures that do not mislead ------------------------------------------------------------------------------------
def test_annual_figures_are_blank_under_60_days_and_part_years_are_not_years():
    days = krx_days("2024-12-12", "2025-01-31")
    closes = {"samsung": walk(days, 12, 70_000)}
    run = engine.run(Plan({"samsung": 100}, initial=1_000_000), long_bars(closes))
    stats = measures.summary(run)
    for key in measures.ANNUAL_KEYS:
        assert math.isnan(stats[key]), key
    assert math.isnan(stats["best_year_pct"])  # neither 20 days of 2024 nor January 2025 is a year
    assert stats["best_month_pct"] == stats["worst_month_pct"]  # January 2025 is the one whole month


def test_sharpe_subtracts_the_risk_free_rate():
    days = krx_days("2023-01-02", "2024-12-31")
    run = engine.run(Plan({"samsung": 100}, initial=1_000_000), long_bars({"samsung": walk(days, 13, 70_000)}))
    plain, with_rf = measures.summary(run), measures.summary(run, rf_pct=3.5)
    assert with_rf["sharpe"] == pytest.approx(plain["sharpe"] - 3.5 / plain["volatility_pct"], rel=1e-9)


def test_rolling_returns_and_the_largest_drawdowns():
    index = pd.Series([1.0, 1.2, 0.9, 1.3, 1.1, 1.0, 1.4, 1.2], index=pd.date_range("2020-01-01", periods=8,
                                                                                      freq="180D"))  # fmt: skip
    table = breakdown.drawdown_table(index)
    assert table["depth_pct"].round(6).tolist() == [-25.0, round((1.0 / 1.3 - 1) * 100, 6),
                                                    round((1.2 / 1.4 - 1) * 100, 6)]  # fmt: skip
    assert table.loc[0, "peak"] == index.index[1] and table.loc[0, "recovery"] == index.index[3]
    assert table.loc[1, "trough"] == index.index[5] and table.loc[1, "days"] == 3 * 180
    assert pd.isna(table.loc[2, "recovery"])
    rolling = breakdown.rolling_returns(index, (1,))
    d = index.index[3]
    back = index.loc[: d - pd.DateOffset(years=1)].index[-1]
    expected = (index[d] / index[back]) ** (365.25 / (d - back).days) - 1
    assert rolling.loc[d, "1y"] == pytest.approx(expected * 100, rel=REL)


# -- input that ends in one sentence --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"weights": {"samsung": 1e308, "btc": 50}}, "pf.err_weight_large"),
        ({"initial": float("inf")}, "pf.err_negative_money"),
        ({"initial": float("nan")}, "pf.err_negative_money"),
        ({"withdraw": -5.0, "withdraw_every": "monthly"}, "pf.err_negative_money"),
        ({"bands": (5.0, float("inf")), "rebalance": "bands"}, "pf.err_band"),
    ],
)
def test_absurd_numbers_are_one_sentence(changes, key):
    plan = Plan(**{"weights": {"samsung": 50, "btc": 50}, "initial": 1_000_000, **changes})
    with pytest.raises(PlanError) as caught:
        check(plan)
    assert caught.value.msg.key == key


def test_an_all_dollar_portfolio_in_dollars_runs():
    days = krx_days("2024-01-02", "2024-12-31")
    run = engine.run(Plan({"soxl": 100}, initial=10_000, currency="USD"), long_bars({"soxl": walk(days, 14, 40)}))
    assert run.values["value"].iloc[0] == pytest.approx(10_000, rel=REL)


def test_withdrawals_starting_after_the_end_are_said():
    days = krx_days("2024-01-02", "2024-06-28")
    plan = Plan({"samsung": 100}, initial=1_000_000, withdraw=100_000, withdraw_every="monthly",
                withdraw_from=dt.date(2030, 1, 1))  # fmt: skip
    run = engine.run(plan, long_bars({"samsung": walk(days, 15, 70_000)}))
    assert [n.key for n in run.notes] == ["pf.note_withdraw_after"]
    assert run.values["withdrawn"].iloc[-1] == 0


def test_a_rebalance_that_waited_for_an_assets_bars_says_until_when():
    days = krx_days("2024-03-04", "2024-06-28")
    holed = days[(days < "2024-04-01") | (days > "2024-04-12")]  # the source skipped two weeks of 삼성전자
    closes = {"samsung": walk(holed, 16, 70_000), "skhynix": walk(days, 17, 90_000)}
    run = engine.run(Plan({"samsung": 50, "skhynix": 50}, initial=1_000_000, rebalance="monthly"), long_bars(closes))
    waited = next(n for n in run.notes if n.key == "pf.note_waited")
    assert waited.params["due"] == dt.date(2024, 4, 1) and waited.params["day"] == dt.date(2024, 4, 15)


def test_the_window_end_never_decides_a_past_days_exchange_rate(tmp_path, monkeypatch):
    """USD/KRW from the store over its whole span, the ECB's only outside it: 2024-12-31 (KRX closed, the ECB
    fixing) is valued the same whether the window ends that day or ten days later."""
    from marketdash.domain.config import load_settings
    from marketdash.services.market import MarketService
    from marketdash.services.store import Store
    from tests.test_portfolio_page import _store_bars

    db = tmp_path / "m.duckdb"
    _store_bars(db, ["soxl"])
    store = Store(db)
    with store.connect(write=True) as con:  # KIS fixes no rate on a KRX holiday: the store has no Dec 31
        con.execute("DELETE FROM prices WHERE asset_id = 'usdkrw' AND date = DATE '2024-12-31'")
    store.close()
    monkeypatch.setenv("MARKET_DB", str(db))
    svc = MarketService(load_settings())
    try:
        short = svc.usd_krw(dt.date(2024, 12, 1), dt.date(2024, 12, 31))
        long = svc.usd_krw(dt.date(2024, 12, 1), dt.date(2025, 1, 10))
        assert set(short["source"]) == {"kis"}  # no ECB day inside the store's span
        pd.testing.assert_frame_equal(short.reset_index(drop=True),
                                      long[long["date"] <= "2024-12-31"].reset_index(drop=True))  # fmt: skip
    finally:
        svc.close()
