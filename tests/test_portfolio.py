"""The portfolio engine against independent libraries and against cases computed by hand (issue 23).

- bt (`integer_positions=False`) runs the same money through its own accounting: contributions by `adjust`, each
  part bought at its asset's next session by `allocate`, calendar rebalancing by `Rebalance`; the value series
  agree to 1e-9 relative on a table mixing a KRX-like calendar, another with other holidays, and a 24/7 one.
- pyxirr computes the money-weighted return, ffn the CAGR.
- FX conversion, spreads, fees, whole shares, bands, 적립금으로만 and both taxes on small tables by hand.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from marketdash.analysis.portfolio import breakdown, engine, measures, schedule, simulation, taxes
from marketdash.analysis.portfolio import plan as plans
from marketdash.analysis.portfolio.plan import Costs, Plan, PlanError

REL = 1e-9


def long_bars(closes: dict[str, pd.Series]) -> pd.DataFrame:
    """asset id -> closes on its own session dates, as the store's long bars."""
    frames = [pd.DataFrame({"asset_id": a, "date": s.index, "close": s.to_numpy(), "source": "kis"})
              for a, s in closes.items()]  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def walk(days: pd.DatetimeIndex, seed: int, start: float) -> pd.Series:
    rng = np.random.default_rng(seed)
    return pd.Series(start * np.exp(np.cumsum(rng.normal(0.0005, 0.02, len(days)))), index=days)


def mixed_calendars(start: str = "2024-01-01", end: str = "2025-06-30") -> dict[str, pd.Series]:
    """A KRX-like stock (weekdays, its holidays), an index on weekdays with other holidays, and a coin every day."""
    every = pd.date_range(start, end, freq="D")
    weekdays = every[every.day_of_week < 5]
    rng = np.random.default_rng(7)
    krx_holidays = set(rng.choice(weekdays, 12, replace=False))
    other_holidays = set(rng.choice(weekdays, 10, replace=False))
    krx = weekdays[~weekdays.isin(krx_holidays)]
    other = weekdays[~weekdays.isin(other_holidays)]
    return {"samsung": walk(krx, 1, 70_000), "kospi200": walk(other, 2, 350), "btc": walk(every, 3, 60_000_000)}


# -- bt: the value series -------------------------------------------------------------------------------------------
def bt_values(closes: dict[str, pd.Series], weights: dict[str, float], arrivals: dict[pd.Timestamp, float],
              rebalance_on: list[pd.Timestamp]) -> pd.Series:  # fmt: skip
    """The same plan in bt: money arrives by `adjust`; each asset's part waits (as cash) for that asset's next
    session and is bought there by `allocate`; on the rebalance dates bt's own Rebalance trades everything."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import bt

    table = pd.DataFrame(closes).sort_index()
    sessions = table.notna()
    prices = table.ffill().dropna()
    first = prices.index[0]
    total = sum(weights.values())
    targets = {a: w / total for a, w in weights.items()}

    class Arrivals(bt.Algo):
        def __init__(self) -> None:
            super().__init__()
            self.waiting: dict[str, float] = {}

        def __call__(self, target) -> bool:
            now = target.now
            if now in arrivals:
                if now != first:  # the initial amount is bt's initial capital
                    target.adjust(arrivals[now])
                for a, w in targets.items():
                    self.waiting[a] = self.waiting.get(a, 0.0) + arrivals[now] * w
            if now in rebalance_on:
                self.waiting.clear()
                return True
            for a in list(self.waiting):
                if sessions.loc[now, a]:
                    target.allocate(self.waiting.pop(a), child=a)
            return True

    algos = [Arrivals(), bt.algos.RunOnDate(*rebalance_on), bt.algos.SelectAll(),
             bt.algos.WeighSpecified(**targets), bt.algos.Rebalance()]  # fmt: skip
    strategy = bt.Strategy("p", algos)
    test = bt.Backtest(strategy, prices, initial_capital=arrivals.get(first, 0.0), integer_positions=False,
                       progress_bar=False)  # fmt: skip
    result = bt.run(test)
    return result.backtests["p"].strategy.values.loc[first:]


def first_all_open_on_or_after(closes: dict[str, pd.Series], days: list[dt.date]) -> list[pd.Timestamp]:
    """Independently of the engine: for each due day, the first date every asset traded on or after it."""
    common = sorted(set.intersection(*(set(s.index) for s in closes.values())))
    out = []
    for day in days:
        found = next((d for d in common if d >= pd.Timestamp(day)), None)
        if found is not None and found not in out:
            out.append(found)
    return out


@pytest.mark.parametrize(
    ("rule", "weights"),
    [
        ("none", {"samsung": 40.0, "kospi200": 30.0, "btc": 30.0}),
        # Calendar legs trade at each asset's own close of the decision date, sized at the earliest close (SPEC):
        # bt trades every leg at one row, so it checks the rule where the closes coincide (two KRX series with
        # different holidays); the oracle (test_portfolio_oracle.py) checks closes hours apart.
        ("quarterly", {"samsung": 60.0, "kospi200": 40.0}),
        ("monthly", {"samsung": 60.0, "kospi200": 40.0}),
        ("semiannual", {"samsung": 60.0, "kospi200": 40.0}),
    ],
)
def test_values_equal_bts_with_contributions_on_mixed_calendars(rule, weights):
    closes = {a: s for a, s in mixed_calendars().items() if a in weights}
    plan = Plan(weights, start=dt.date(2024, 1, 1), initial=10_000_000, every="monthly", day=10, amount=500_000,
                rebalance=rule)  # fmt: skip
    ours = engine.run(plan, long_bars(closes))
    due = schedule.rebalance_dates(rule, ours.start, ours.values.index[-1].date())
    rows = pd.DatetimeIndex(sorted(set().union(*(s.index for s in closes.values()))))
    arrivals: dict[pd.Timestamp, float] = {}
    for day, amount in ours.flows.items():  # bt has rows only for trading days: money due on a holiday arrives on
        row = rows[rows.searchsorted(day)]  # its next row, where ours has it as cash meanwhile
        arrivals[row] = arrivals.get(row, 0.0) + amount
    theirs = bt_values(closes, weights, arrivals, first_all_open_on_or_after(closes, due))
    # bt values only its price table's dates; ours adds days money arrives on which nothing traded.
    assert theirs.index.isin(ours.values.index).all()
    np.testing.assert_allclose(ours.values.loc[theirs.index, "value"].to_numpy(), theirs.to_numpy(), rtol=REL)
    if rule == "none":
        assert ours.values.index.equals(theirs.index)  # the coin trades every day
        assert len(ours.trades[ours.trades["side"] == "sell"]) == 0
    else:
        assert len(ours.trades[ours.trades["side"] == "sell"]) > 0


def test_a_contribution_on_a_day_nothing_trades_is_cash_until_each_assets_next_session():
    every = pd.date_range("2024-01-01", "2024-03-31", freq="D")
    weekdays = every[every.day_of_week < 5]
    closes = {"samsung": walk(weekdays, 4, 70_000), "kospi200": walk(weekdays, 5, 350)}
    plan = Plan({"samsung": 50, "kospi200": 50}, initial=1_000_000, every="monthly", day=10, amount=100_000)
    run = engine.run(plan, long_bars(closes))
    saturday = pd.Timestamp("2024-02-10")  # the 10th of February 2024 is a Saturday
    assert saturday in run.values.index  # valued on the day money arrives, though nothing trades
    assert run.values.loc[saturday, "cash"] == pytest.approx(100_000)
    buys = run.trades[(run.trades["side"] == "buy") & (run.trades["date"] > saturday)]
    assert buys["date"].iloc[0] == pd.Timestamp("2024-02-12")  # Monday: each asset's first session after it


# -- MWR, CAGR, TWR -------------------------------------------------------------------------------------------------
def test_mwr_equals_pyxirr_and_cagr_equals_ffn():
    import ffn
    from pyxirr import xirr

    closes = mixed_calendars()
    plan = Plan({"samsung": 50, "btc": 50}, initial=5_000_000, every="weekly", weekday=2, amount=100_000)
    run = engine.run(plan, long_bars(closes))
    dates = [*run.flows.index, run.values.index[-1]]
    amounts = [*(-run.flows.to_numpy()), run.values["value"].iloc[-1]]
    assert measures.mwr(run) == pytest.approx(xirr([d.date() for d in dates], amounts), rel=REL)
    index = measures.twr_index(run.values["value"], run.flows)
    stats = measures.summary(run)
    assert stats["cagr_pct"] / 100 == pytest.approx(ffn.calc_cagr(index), rel=REL)
    assert stats["twr_annual_pct"] == stats["cagr_pct"]


def test_twr_is_the_chain_of_daily_returns_net_of_the_days_flows():
    days = pd.date_range("2024-01-01", periods=4, freq="D")
    closes = {"btc": pd.Series([100.0, 110.0, 99.0, 120.0], index=days)}
    plan = Plan({"btc": 100}, initial=1000, every="weekly", weekday=days[2].weekday(), amount=500)
    run = engine.run(plan, long_bars(closes))
    # V: 1000, 1100, 990 + 500 (bought at 99), 1200 + 500 * 120 / 99
    v = [1000, 1100, 1490, 1200 + 500 * 120 / 99]
    np.testing.assert_allclose(run.values["value"], v, rtol=REL)
    r = [1100 / 1000 - 1, (1490 - 500) / 1100 - 1, v[3] / 1490 - 1]
    assert measures.summary(run)["twr_pct"] / 100 == pytest.approx(np.prod([1 + x for x in r]) - 1, rel=REL)
    assert measures.summary(run)["twr_pct"] == pytest.approx(20.0, rel=REL)  # the price's own change


def test_xirr_solves_known_cases():
    days = pd.DatetimeIndex(["2024-01-01", "2025-01-01"])
    assert measures.xirr(days, np.array([-100.0, 110.0])) == pytest.approx((1.1) ** (365 / 366) - 1, rel=REL)
    assert math.isnan(measures.xirr(days, np.array([100.0, 110.0])))


# -- currencies, costs, shares, bands, cashflow, taxes --------------------------------------------------------------
def fx_fixings(rates: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame({"date": pd.to_datetime(list(rates)), "close": list(rates.values()), "source": "kis"})


def test_a_usd_asset_is_bought_at_the_fixing_of_its_session_date_plus_the_spread_and_valued_without_it():
    days = pd.DatetimeIndex(["2024-03-04", "2024-03-05", "2024-03-06"])
    closes = {"soxl": pd.Series([40.0, 44.0, 42.0], index=days)}
    fx = fx_fixings({"2024-03-04": 1300.0, "2024-03-05": 1310.0, "2024-03-06": 1320.0})
    costs = Costs(fees={"us": 0.25}, fx_spread=1.0, fx_discount=90.0)
    run = engine.run(Plan({"soxl": 100}, initial=1_000_000, costs=costs), long_bars(closes), fx)
    buy = run.trades.iloc[0]
    rate = 1300.0 * (1 + 0.01 * 0.1)  # the spread of 1 % with 90 % 우대: 0.1 %
    assert buy["fx"] == pytest.approx(rate, rel=REL)
    units = 1_000_000 / (40.0 * rate * 1.0025)
    assert buy["units"] == pytest.approx(units, rel=REL)
    assert buy["amount"] == pytest.approx(units * 40.0 * rate, rel=REL)
    assert buy["fee"] == pytest.approx(buy["amount"] * 0.0025, rel=REL)
    np.testing.assert_allclose(run.values["soxl"], units * np.array([40 * 1300, 44 * 1310, 42 * 1320]), rtol=REL)
    assert not measures.summary(run)["taxes"]


def test_a_usd_portfolio_converts_a_krw_asset_at_the_krx_close_and_sells_get_less():
    days = pd.DatetimeIndex(["2024-03-04", "2024-03-05", "2024-04-01", "2024-04-02"])
    closes = {"samsung": pd.Series([70_000.0, 72_000.0, 71_000.0, 73_000.0], index=days),
              "soxl": pd.Series([40.0, 44.0, 42.0, 41.0], index=days)}  # fmt: skip
    fx = fx_fixings({str(d.date()): 1300.0 + 10 * i for i, d in enumerate(days)})
    plan = Plan({"samsung": 50, "soxl": 50}, initial=10_000, currency="USD", rebalance="monthly",
                costs=Costs(fx_spread=1.0))  # fmt: skip
    run = engine.run(plan, long_bars(closes), fx)
    first = run.trades[run.trades["asset_id"] == "samsung"].iloc[0]
    assert first["fx"] == pytest.approx(1 / 1300.0 * 1.01, rel=REL)  # dollars per won, a buy pays more
    april = run.trades[run.trades["date"] == pd.Timestamp("2024-04-01")]
    sold = april[april["side"] == "sell"].iloc[0]
    rate = 1 / 1320.0 if sold["asset_id"] == "samsung" else 1.0
    assert sold["fx"] == pytest.approx(rate * (0.99 if sold["asset_id"] == "samsung" else 1), rel=REL)
    assert run.values["value"].iloc[0] == pytest.approx(10_000 - 5_000 * (1 - 1 / 1.01), rel=REL)


def test_whole_shares_keep_the_remainder_as_cash():
    days = pd.DatetimeIndex(["2024-03-04", "2024-03-05"])
    closes = {"samsung": pd.Series([70_000.0, 71_000.0], index=days)}
    run = engine.run(Plan({"samsung": 100}, initial=1_000_000, whole_shares=True), long_bars(closes))
    assert run.trades["units"].tolist() == [14.0]
    assert run.values["cash"].iloc[-1] == pytest.approx(1_000_000 - 14 * 70_000)
    assert run.values["value"].iloc[-1] == pytest.approx(1_000_000 - 14 * 70_000 + 14 * 71_000)


def test_bands_rebalance_the_day_a_weight_leaves_its_band_and_not_before():
    days = pd.date_range("2024-01-01", periods=6, freq="D")
    closes = {"btc": pd.Series([100.0, 110, 120, 140, 140, 140], index=days),
              "samsung": pd.Series([100.0] * 6, index=days)}  # fmt: skip
    plan = Plan({"btc": 50, "samsung": 50}, initial=1000, rebalance="bands", bands=(5.0, 100.0))
    run = engine.run(plan, long_bars(closes))
    # btc's weight: 110/210 = 52.4 % (in), 120/220 = 54.5 % (in), 140/240 = 58.3 % (out by 8.3 %p)
    sells = run.trades[run.trades["side"] == "sell"]
    assert sells["date"].tolist() == [days[3]]
    # The breach is seen at btc's close (UTC midnight), after samsung's close that day (15:30 Seoul): btc sells
    # there, and samsung buys at its own next close, the next day; until then the money is cash.
    buys = run.trades[(run.trades["side"] == "buy") & (run.trades["asset_id"] == "samsung")]
    assert buys["date"].tolist() == [days[0], days[4]]
    assert run.values.loc[days[3], "cash"] == pytest.approx(sells["amount"].iloc[0], rel=REL)
    after = run.values.loc[days[4]]
    assert after["btc"] == pytest.approx(after["samsung"], rel=REL)
    relative = engine.run(Plan({"btc": 50, "samsung": 50}, initial=1000, rebalance="bands", bands=(50.0, 5.0)),
                          long_bars(closes))  # fmt: skip
    # Relative 5 % of a 50 % target is 2.5 %p: 52.4 % stays in; 54.5 % leaves (rebalanced to 110 + 110); then
    # btc's 120 -> 140 makes 128.3 of 238.3, 53.8 %: out again.
    assert relative.trades[relative.trades["side"] == "sell"]["date"].tolist() == [days[2], days[3]]


def test_cashflow_rebalancing_buys_the_furthest_below_target_and_never_sells():
    held, goal = np.array([60.0, 30.0, 10.0]), np.array([40.0, 40.0, 20.0])
    buys = simulation.water_fill(held, goal, 20.0)
    # fractions of goal: 1.5, 0.75, 0.5: the third comes up first, to 0.75, then both together
    assert buys.sum() == pytest.approx(20.0)
    assert buys[0] == 0.0
    f = (20 + 30 + 10) / 60
    np.testing.assert_allclose(buys, [0.0, f * 40 - 30, f * 20 - 10])
    days = pd.date_range("2024-01-01", "2024-04-30", freq="D")
    closes = {"btc": walk(days, 9, 100), "samsung": walk(days, 10, 100)}
    run = engine.run(Plan({"btc": 50, "samsung": 50}, initial=1000, every="monthly", day=15, amount=300,
                          rebalance="cashflow"), long_bars(closes))  # fmt: skip
    assert (run.trades["side"] == "buy").all()


def test_krx_sale_tax_follows_the_settlement_date():
    assert taxes.krx_sale_tax(dt.date(2019, 5, 31)) == 0.0030
    assert taxes.krx_sale_tax(dt.date(2019, 6, 3)) == 0.0025
    assert taxes.krx_sale_tax(dt.date(2024, 12, 31)) == 0.0018
    assert taxes.krx_sale_tax(dt.date(2025, 1, 2)) == 0.0015
    assert taxes.krx_sale_tax(dt.date(2026, 1, 2)) == 0.0020
    days = pd.DatetimeIndex(["2024-12-02", "2024-12-23", "2024-12-26", "2024-12-27", "2025-01-02"])
    closes = {"samsung": pd.Series([100.0, 100.0, 100.0, 100.0, 100.0], index=days),
              "skhynix": pd.Series([100.0, 100.0, 200.0, 100.0, 100.0], index=days)}  # fmt: skip
    run = engine.run(Plan({"samsung": 50, "skhynix": 50}, initial=1000, rebalance="bands", bands=(1.0, 1.0),
                          costs=Costs(tax=True)), long_bars(closes))  # fmt: skip
    sells = run.trades[run.trades["side"] == "sell"].set_index("asset_id")
    # skhynix doubles on 12-26 and is sold that day: settled 12-30 (T+2), the 2024 rate. It falls back on 12-27
    # and samsung is sold: KRX is closed on 12-31, so that sale settles on 2025-01-02 and pays the 2025 rate.
    assert sells.loc["skhynix", "date"] == pd.Timestamp("2024-12-26")
    assert sells.loc["skhynix", "tax"] == pytest.approx(sells.loc["skhynix", "amount"] * 0.0018, rel=REL)
    assert sells.loc["samsung", "date"] == pd.Timestamp("2024-12-27")
    assert sells.loc["samsung", "tax"] == pytest.approx(sells.loc["samsung", "amount"] * 0.0015, rel=REL)


def test_overseas_gains_tax_is_22_percent_above_the_deduction_with_fifo_lots_and_fx_gains():
    lots = taxes.Lots()
    lots.buy(10, 10 * 100 * 1000)  # 10 units at $100 with 1,000 won a dollar
    lots.buy(10, 10 * 150 * 1000)
    assert lots.sell(10, 10 * 120 * 1300) == pytest.approx(10 * 120 * 1300 - 10 * 100 * 1000)  # first in, first out
    assert taxes.overseas_tax(3_000_000) == pytest.approx(0.22 * 500_000)
    assert taxes.overseas_tax(2_000_000) == 0.0
    days = pd.DatetimeIndex(["2024-03-04", "2024-06-03", "2024-12-02", "2024-12-03"])
    closes = {"soxl": pd.Series([100.0, 200.0, 200.0, 200.0], index=days),
              "samsung": pd.Series([100.0, 100.0, 100.0, 100.0], index=days)}  # fmt: skip
    fx = fx_fixings({"2024-03-04": 1000.0, "2024-06-03": 1100.0, "2024-12-02": 1100.0, "2024-12-03": 1100.0})
    plan = Plan({"soxl": 50, "samsung": 50}, initial=20_000_000, rebalance="yearly", costs=Costs(tax=True),
                start=dt.date(2024, 3, 4))  # fmt: skip
    run = engine.run(plan, long_bars(closes), fx)
    assert run.trades[run.trades["side"] == "sell"].empty  # no sale, no tax
    plan = Plan({"soxl": 50, "samsung": 50}, initial=20_000_000, rebalance="bands", bands=(5.0, 100.0),
                costs=Costs(tax=True))  # fmt: skip
    run = engine.run(plan, long_bars(closes), fx)
    sale = run.trades[(run.trades["side"] == "sell") & (run.trades["asset_id"] == "soxl")].iloc[0]
    units = 10_000_000 / (100 * 1000)
    # On 06-03 soxl is worth 100 units x $200 x 1,100 = 22,000,000 and samsung 10,000,000: sell to 16,000,000 each.
    sold = 6_000_000 / (200 * 1100)
    assert sale["units"] == pytest.approx(sold, rel=REL)
    gain = sold * 200 * 1100 - sold * 100 * 1000  # the won gain includes the dollar's rise from 1,000 to 1,100
    assert sale["tax"] == pytest.approx(0.22 * (gain - 2_500_000), rel=REL)
    assert run.taxes_paid == pytest.approx(sale["tax"], rel=REL)
    last = run.values.loc[days[-1]]
    # The tax is paid on the year's last valuation day; what cash cannot pay is owed (cash never negative).
    assert last["value"] == pytest.approx(last[["soxl", "samsung"]].sum() + last["cash"] - last["owed"], rel=REL)
    assert last["owed"] > 0 and (run.values["cash"] >= -1e-6).all()
    assert units > sold


# -- bad input ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"weights": {"samsung": -10, "btc": 50}}, "pf.err_negative"),
        ({"weights": {"samsung": 0, "btc": 0}}, "pf.err_zero_weights"),
        ({"initial": 0, "amount": 0, "every": "monthly"}, "pf.err_no_money"),
        ({"start": dt.date(2025, 1, 1), "end": dt.date(2024, 1, 1)}, "pf.err_end_before_start"),
        ({"rebalance": "bands", "bands": (0.0, 25.0)}, "pf.err_band"),
        ({"weights": {"ovs:FX@JPY": 100}}, "pf.err_currency"),
    ],
)
def test_bad_plans_are_one_sentence(changes, key):
    base = {"weights": {"samsung": 50, "btc": 50}, "initial": 1_000_000}
    with pytest.raises(PlanError) as caught:
        plans.check(Plan(**{**base, **changes}))
    assert caught.value.msg.key == key


def test_weights_not_adding_to_100_are_scaled_with_a_line_one_asset_and_twenty_are_allowed():
    notes = plans.check(Plan({"samsung": 2, "btc": 2}))
    assert [n.key for n in notes] == ["pf.scaled"]
    assert Plan({"samsung": 2, "btc": 2}).targets().tolist() == [0.5, 0.5]
    assert plans.check(Plan({"samsung": 100})) == []
    twenty = {f"krx:{i:06d}": 5 for i in range(1, 21)}
    assert plans.check(Plan(twenty)) == []
    with pytest.raises(PlanError):
        plans.check(Plan({**twenty, "btc": 5}))


def test_a_range_shorter_than_one_contribution_period_and_an_asset_without_bars_are_named():
    closes = {"samsung": walk(pd.date_range("2024-01-02", periods=5, freq="B"), 1, 100)}
    with pytest.raises(PlanError) as caught:
        engine.run(Plan({"samsung": 100}, initial=0, every="monthly", amount=100_000, day=1), long_bars(closes))
    assert caught.value.msg.key == "pf.err_short"
    with pytest.raises(PlanError) as caught:
        engine.run(Plan({"samsung": 50, "btc": 50}), long_bars(closes))
    assert caught.value.msg.key == "pf.err_no_bars"


def test_contribution_days_fall_on_the_months_last_day_when_it_lacks_n():
    plan = Plan({"btc": 100}, every="monthly", day=31, amount=1)
    days = schedule.contribution_dates(plan, dt.date(2024, 1, 1), dt.date(2024, 4, 30))
    assert days == [dt.date(2024, 1, 31), dt.date(2024, 2, 29), dt.date(2024, 3, 31), dt.date(2024, 4, 30)]
    weekly = Plan({"btc": 100}, every="weekly", weekday=4, amount=1)
    assert schedule.contribution_dates(weekly, dt.date(2024, 1, 5), dt.date(2024, 1, 20)) == [
        dt.date(2024, 1, 12), dt.date(2024, 1, 19)]  # fmt: skip
    assert schedule.rebalance_dates("quarterly", dt.date(2024, 2, 5), dt.date(2024, 12, 31)) == [
        dt.date(2024, 4, 1), dt.date(2024, 7, 1), dt.date(2024, 10, 1)]  # fmt: skip


def test_equal_and_inverse_volatility_weights():
    assert plans.equal_weights(["a", "b", "c"]) == {"a": 33.34, "b": 33.33, "c": 33.33}
    days = pd.date_range("2023-01-01", "2023-12-31", freq="D")
    rng = np.random.default_rng(1)
    calm = pd.Series(np.exp(np.cumsum(rng.normal(0, 0.01, len(days)))), index=days)
    wild = pd.Series(np.exp(np.cumsum(rng.normal(0, 0.03, len(days)))), index=days)
    weights, short = plans.inverse_volatility(pd.DataFrame({"calm": calm, "wild": wild}), dt.date(2024, 1, 1))
    vol = {k: float(np.log(s).diff().std(ddof=1)) for k, s in (("calm", calm), ("wild", wild))}
    assert weights["calm"] == pytest.approx(100 * (1 / vol["calm"]) / (1 / vol["calm"] + 1 / vol["wild"]), abs=0.01)
    assert short == []


def test_drawdown_dates_and_the_longest_time_under_water():
    days = pd.date_range("2024-01-01", periods=8, freq="D")
    index = pd.Series([1, 1.2, 1.0, 0.9, 1.1, 1.25, 1.1, 1.3], index=days)
    found = measures._max_drawdown(index)
    assert found["max_drawdown_pct"] == pytest.approx(-25.0)
    assert (found["max_drawdown_peak"], found["max_drawdown_trough"], found["max_drawdown_recovery"]) == (
        dt.date(2024, 1, 2), dt.date(2024, 1, 4), dt.date(2024, 1, 6))  # fmt: skip
    assert found["longest_underwater_days"] == 4  # 01-02 to 01-06, when 1.2 is passed
    still = measures._max_drawdown(index.iloc[:4])
    assert still["max_drawdown_recovery"] is None and still["longest_underwater_days"] == 2
    assert measures._max_drawdown(pd.Series([1.0, 1.1], index=days[:2]))["max_drawdown_peak"] is None


def test_calendar_returns_and_the_monthly_table():
    days = pd.DatetimeIndex(["2024-01-15", "2024-01-31", "2024-02-29", "2024-12-31", "2025-01-31"])
    index = pd.Series([1.0, 1.1, 0.99, 1.2, 1.32], index=days)
    monthly = measures.period_returns(index, "ME")
    np.testing.assert_allclose(monthly.to_numpy(), [0.1, 0.99 / 1.1 - 1, 1.2 / 0.99 - 1, 0.1])
    table = breakdown.monthly_table(index)
    assert table.loc[2024, "total"] == pytest.approx(20.0)
    assert list(table.columns).count("total") == 1 and "year" not in table.columns  # the CSV once had two `year`s
    assert table.loc[2025, 1] == pytest.approx(10.0) and math.isnan(table.loc[2025, 2])


def test_each_assets_profit_adds_up_to_the_portfolios_and_splits_into_price_fx_and_costs():
    closes = mixed_calendars()
    closes["soxl"] = closes.pop("kospi200") / 10  # a USD asset on a weekday calendar
    days = pd.date_range("2024-01-01", "2025-06-30", freq="D")
    fx = fx_fixings({str(d.date()): 1300 + 50 * math.sin(i / 40) for i, d in enumerate(days) if d.weekday() < 5})
    plan = Plan(
        {"samsung": 40, "soxl": 30, "btc": 30},
        initial=10_000_000,
        every="monthly",
        day=10,
        amount=500_000,
        rebalance="quarterly",
        costs=Costs({"krx": 0.015, "us": 0.25, "coin": 0.05}, 1.0, 50.0, True),
    )
    run = engine.run(plan, long_bars(closes), fx)
    parts = breakdown.contributions(run)
    total = run.values["value"].iloc[-1] - run.values["invested"].iloc[-1]
    assert parts["profit"].sum() == pytest.approx(total, rel=1e-9)
    split = parts["asset_part"] + parts["fx_part"] + parts["dividend_part"] - parts["costs"]
    np.testing.assert_allclose(split.to_numpy(), parts["profit"].to_numpy(), rtol=1e-9)
    assert parts.loc["soxl", "fx_part"] != 0 and parts.loc["samsung", "fx_part"] == 0
    yearly = breakdown.yearly_summary(run)
    assert yearly["contributed"].sum() == pytest.approx(run.values["invested"].iloc[-1])
    assert yearly["profit"].sum() == pytest.approx(total, rel=1e-9)
    assert yearly["fees"].sum() + yearly["taxes"].sum() == pytest.approx(run.trades[["fee", "tax"]].sum().sum())
