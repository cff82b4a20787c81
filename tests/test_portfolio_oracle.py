"""The portfolio engine against an independent oracle written from SPEC.md "Portfolio" alone
(tests/oracle_portfolio.py).

Three kinds of tests:
- the oracle alone (identities, money conservation, TWR of a buy-and-hold equal to the price return, and a few
  cases whose numbers are worked out by hand in the comments): these say the oracle reads the SPEC;
- the engine against hand-computed numbers for the trickiest rules;
- the engine against the oracle on named cases over real KRX / NYSE / CME calendars and a coin (the catalog's own
  samsung, skhynix, kospi200, soxl, gold and btc, so close times and currencies are real) and on ~100 seeded random
  plans: values (every column) to 1e-9 relative (1e-6 absolute near zero), trades row by row, TWR to 1e-6 %p and
  the statistics.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from oracle_portfolio import OCosts, OPlan, OracleError, flows_of, simulate, stats

from marketdash.domain import calendars, catalog

D = dt.date
IDS = ("samsung", "skhynix", "kospi200", "soxl", "gold", "btc")
BASE = {"samsung": 70_000.0, "skhynix": 130_000.0, "kospi200": 350.0, "soxl": 30.0, "gold": 2_000.0, "btc": 5e7}
VOL = {"samsung": 0.02, "skhynix": 0.03, "kospi200": 0.012, "soxl": 0.05, "gold": 0.01, "btc": 0.035}
DIV_COLUMNS = [
    "asset_id",
    "record_date",
    "ex_date",
    "pay_date",
    "amount",
    "currency",
    "kind",
    "fixed",
    "source",
    "fetched_at",
]


# -- data ----------------------------------------------------------------------------------------------------------
def sessions(asset_id: str, start: dt.date, end: dt.date) -> list[dt.date]:
    return [d.date() for d in calendars.sessions(catalog.get(asset_id).calendar, start, end)]


DATA_START, DATA_END = dt.date(2023, 6, 1), dt.date(2025, 3, 31)
KIS_SPAN = (dt.date(2023, 11, 1), dt.date(2024, 11, 29))
FX_START = dt.date(2023, 5, 1)


def make_bars(
    seed: int, start=DATA_START, end=DATA_END, stop: dict | None = None, drift: dict | None = None, holes: int = 0
) -> pd.DataFrame:
    """Random walks on each asset's real calendar; `stop` ends an asset's bars early, `holes` drops a few bars
    (a source that skipped a session)."""
    rng = random.Random(seed)
    rows = []
    for a in IDS:
        price = BASE[a] * math.exp(rng.gauss(0, 0.2))
        days = sessions(a, start, (stop or {}).get(a, end))
        dropped = set(rng.sample(days[5:-5], holes)) if holes else set()
        for d in days:
            price *= math.exp(rng.gauss((drift or {}).get(a, 0.0), VOL[a]))
            if d not in dropped:
                rows.append((a, pd.Timestamp(d), price, "test"))
    return pd.DataFrame(rows, columns=["asset_id", "date", "close", "source"])


def ecb_days(start: dt.date, end: dt.date) -> list[dt.date]:
    """TARGET days, near enough: weekdays but New Year, 1 May and Christmas."""
    days = [start + dt.timedelta(k) for k in range((end - start).days + 1)]
    return [d for d in days if d.weekday() < 5 and (d.month, d.day) not in ((1, 1), (5, 1), (12, 25), (12, 26))]


def make_fx(seed: int, kis=KIS_SPAN, start=FX_START, end=DATA_END):
    """KIS fixings on KRX sessions inside `kis`, ECB fixings on every TARGET day of the whole span (the engine must
    use them only before or after the KIS span)."""
    rng = random.Random(seed)
    rows, rate = [], 1300.0
    for d in ecb_days(start, end):
        rate *= math.exp(rng.gauss(0, 0.004))
        rows.append((pd.Timestamp(d), rate * (1 + rng.gauss(0, 0.002)), "ecb"))
    rate = 1310.0
    for d in sessions("usdkrw", *kis):
        rate *= math.exp(rng.gauss(0, 0.004))
        rows.append((pd.Timestamp(d), rate, "kis"))
    return pd.DataFrame(rows, columns=["date", "close", "source"]).sort_values(["date", "source"], ignore_index=True)


def div_row(asset, record, ex, pay, amount, fixed=True):
    ts = lambda d: pd.Timestamp(d) if d else pd.NaT  # noqa: E731
    ccy = catalog.get(asset).currency
    return (asset, ts(record), ts(ex), ts(pay), amount, ccy, "cash", fixed, "test", pd.Timestamp("2025-04-01"))


def make_dividends() -> pd.DataFrame:
    rows = [
        div_row("samsung", D(2023, 12, 31), D(2023, 12, 27), D(2024, 4, 19), 361.0),  # KRX Dec 29 closed as well
        div_row("samsung", D(2024, 3, 31), None, D(2024, 5, 20), 361.0),  # record on a Sunday
        div_row("samsung", D(2024, 6, 30), None, D(2024, 8, 20), 361.0),
        div_row("samsung", D(2024, 9, 19), None, D(2024, 11, 20), 361.0),  # the session before is across 추석
        div_row("samsung", D(2024, 12, 31), D(2024, 12, 30), D(2025, 4, 17), 363.0),  # closed Dec 31; stored ex ignored
        div_row("samsung", D(2024, 10, 31), None, D(2024, 11, 29), 999.0, fixed=False),  # not fixed: ignored
        div_row("skhynix", D(2024, 6, 30), None, D(2024, 8, 8), 300.0),
        div_row("skhynix", D(2024, 12, 31), None, D(2025, 1, 20), 0.0),  # amount 0: ignored
        div_row("soxl", D(2024, 3, 19), D(2024, 3, 19), D(2024, 3, 26), 0.08),
        div_row("soxl", D(2024, 6, 25), D(2024, 6, 25), D(2024, 7, 2), 0.05),
        div_row("soxl", D(2024, 7, 5), D(2024, 7, 5), D(2024, 7, 12), 0.04),  # ex the day after a US holiday
        div_row("soxl", D(2024, 12, 23), D(2024, 12, 23), D(2024, 12, 31), 0.11),
        div_row("kospi200", D(2024, 6, 30), None, D(2024, 8, 1), 5.0),  # an index pays nothing
        div_row("gold", D(2024, 6, 30), D(2024, 6, 28), D(2024, 7, 5), 1.0),  # a future pays nothing
        div_row("btc", D(2024, 6, 30), D(2024, 6, 28), D(2024, 7, 5), 1.0),  # a coin pays nothing
    ]
    return pd.DataFrame(rows, columns=DIV_COLUMNS)


BARS = make_bars(7)
FX = make_fx(8)
DIVS = make_dividends()
NO_DIVS = pd.DataFrame(columns=DIV_COLUMNS)


# -- running both ----------------------------------------------------------------------------------------------------
def oracle_plan(**kw) -> OPlan:
    costs = kw.pop("costs", {})
    return OPlan(costs=OCosts(**costs), **kw)


def engine_plan(**kw):
    from marketdash.analysis.portfolio.plan import Costs, Plan

    costs = kw.pop("costs", {})
    return Plan(costs=Costs(**costs), **kw)


def run_engine(kw: dict, bars, fx, divs, rf: float = 0.0):
    from marketdash.analysis.portfolio import engine, measures

    bt = engine.run(engine_plan(**dict(kw)), bars, fx, divs)
    return bt.values, bt.trades, measures.summary(bt, rf_pct=rf)


def run_oracle(kw: dict, bars, fx, divs, rf: float = 0.0):
    values, trades = simulate(oracle_plan(**dict(kw)), bars, fx, divs)
    return values, trades, stats(values, flows_of(values), rf, trades)


def _num(x) -> float | None:
    if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NaT:
        return None
    return float(x)


def _when(x) -> dt.date | None:
    if x is None or x is pd.NaT or (isinstance(x, float) and math.isnan(x)) or x == "":
        return None
    return pd.Timestamp(x).date()


def assert_values_equal(got: pd.DataFrame, want: pd.DataFrame) -> None:
    got = got.copy()
    got.index = pd.DatetimeIndex(pd.to_datetime(got.index), name="date")
    assert list(got.index) == list(want.index), "valuation days differ"
    assert set(want.columns) <= set(got.columns), f"missing columns {set(want.columns) - set(got.columns)}"
    for col in want.columns:
        a, b = got[col].to_numpy(float), want[col].to_numpy(float)
        bad = ~np.isclose(a, b, rtol=1e-9, atol=1e-6)
        assert not bad.any(), f"{col} on {want.index[bad][0].date()}: engine {a[bad][0]!r}, oracle {b[bad][0]!r}"


def assert_trades_equal(got: pd.DataFrame, want: pd.DataFrame) -> None:
    order = lambda t: t.assign(date=pd.to_datetime(t["date"])).sort_values(["date", "asset_id"], kind="stable")  # noqa: E731
    got, want = order(got).reset_index(drop=True), order(want).reset_index(drop=True)
    key = ["date", "asset_id", "side"]
    assert got[key].astype(str).values.tolist() == want[key].astype(str).values.tolist(), "trade rows differ"
    assert got["currency"].tolist() == want["currency"].tolist()
    for col in ["units", "price", "fx", "amount", "fee", "tax"]:
        a, b = got[col].to_numpy(float), want[col].to_numpy(float)
        bad = ~np.isclose(a, b, rtol=1e-9, atol=1e-6)
        assert not bad.any(), f"trades.{col} row {np.flatnonzero(bad)[0]}: engine {a[bad][0]!r}, oracle {b[bad][0]!r}"


def assert_stats_equal(got: dict, want: dict) -> None:
    assert abs(_num(got["twr_pct"]) - want["twr_pct"]) < 1e-6, "TWR"
    for key, w in want.items():
        assert key in got, f"stats has no {key}"
        g = got[key]
        if key.startswith("max_drawdown_") and key != "max_drawdown_pct":
            assert _when(g) == w, f"{key}: engine {g!r}, oracle {w!r}"
        elif w is None:
            assert _num(g) is None, f"{key} should be blank, engine {g!r}"
        else:
            assert _num(g) is not None and math.isclose(_num(g), w, rel_tol=1e-7, abs_tol=1e-6), (
                f"{key}: engine {g!r}, oracle {w!r}"
            )


def assert_agree(kw: dict, bars=BARS, fx=FX, divs=DIVS, rf: float = 0.0) -> None:
    want_values, want_trades, want_stats = run_oracle(kw, bars, fx, divs, rf)
    got_values, got_trades, got_stats = run_engine(kw, bars, fx, divs, rf)
    assert_values_equal(got_values, want_values)
    assert_trades_equal(got_trades, want_trades)
    assert_stats_equal(got_stats, want_stats)


# -- named cases: the engine against the oracle ------------------------------------------------------------------
MIX = {"samsung": 40.0, "soxl": 30.0, "btc": 30.0}
ALL = {"samsung": 20.0, "skhynix": 10.0, "kospi200": 15.0, "soxl": 20.0, "gold": 15.0, "btc": 20.0}
FEES = {"fees": {"krx": 0.015, "us": 0.25, "coin": 0.05}, "fx_spread": 1.0, "fx_discount": 50.0}
TAXED = {**FEES, "tax": True}
W = dict(start=D(2024, 1, 1), end=D(2024, 6, 30))

NAMED = {
    "lump sum": dict(weights=MIX, **W, initial=1e7),
    "lump sum, every asset, costs": dict(weights=ALL, **W, initial=1e7, costs=FEES),
    "weights named with zeros and not adding to 100": dict(weights={"samsung": 2, "gold": 0, "btc": 6}, **W),
    "monthly on the 15th (Chuseok, a Sunday)": dict(
        weights=MIX, start=D(2024, 7, 1), end=D(2024, 12, 20), every="monthly", day=15, amount=5e5
    ),
    "monthly on the 31st": dict(weights=ALL, **W, every="monthly", day=31, amount=1e6, costs=FEES),
    "weekly on Saturday": dict(weights=MIX, **W, every="weekly", weekday=5, amount=2e5),
    "weekly on Wednesday, no initial": dict(weights=ALL, **W, initial=0.0, every="weekly", weekday=2, amount=2e5),
    "money due after the last bar (KRX closed Dec 31)": dict(
        weights={"samsung": 50, "soxl": 50},
        start=D(2024, 10, 1),
        end=D(2024, 12, 31),
        every="monthly",
        day=31,
        amount=1e6,
    ),
    **{
        f"rebalance {rule}": dict(
            weights=ALL,
            start=D(2023, 12, 10),
            end=D(2024, 12, 20),
            rebalance=rule,
            every="monthly",
            day=1,
            amount=5e5,
            costs=FEES,
        )
        for rule in ("monthly", "quarterly", "semiannual", "yearly")
    },
    "bands": dict(weights=MIX, **W, rebalance="bands", bands=(5.0, 25.0), costs=FEES),
    "bands, narrow, while money waits": dict(
        weights=ALL, **W, rebalance="bands", bands=(2.0, 10.0), every="weekly", weekday=6, amount=3e5, costs=FEES
    ),
    "whole shares with contributions": dict(
        weights=ALL, **W, initial=2e6, every="monthly", day=10, amount=3e5, whole_shares=True, costs=FEES
    ),
    "whole shares, bands a small portfolio cannot narrow": dict(
        weights={"skhynix": 50, "btc": 50},
        **W,
        initial=4e5,
        rebalance="bands",
        bands=(2.0, 5.0),
        whole_shares=True,
    ),
    "whole shares, quarterly": dict(weights=MIX, **W, initial=3e6, rebalance="quarterly", whole_shares=True),
    "cashflow": dict(weights=ALL, **W, rebalance="cashflow", every="weekly", weekday=0, amount=5e5, costs=FEES),
    "cashflow, whole shares": dict(
        weights=MIX, **W, initial=1e6, rebalance="cashflow", every="monthly", day=5, amount=5e5, whole_shares=True
    ),
    "USD portfolio across the KIS span's end (ECB days)": dict(
        weights=ALL,
        start=D(2024, 10, 1),
        end=D(2025, 2, 28),
        currency="USD",
        initial=1e4,
        every="monthly",
        day=3,
        amount=500.0,
        rebalance="monthly",
        costs=FEES,
    ),
    "KRW portfolio from ECB into KIS fixings": dict(
        weights={"soxl": 50, "gold": 30, "samsung": 20},
        start=D(2023, 9, 1),
        end=D(2024, 1, 31),
        rebalance="monthly",
        costs=FEES,
    ),
    "taxes: 증권거래세 across New Year rates": dict(
        weights={"samsung": 50, "skhynix": 50},
        start=D(2024, 11, 1),
        end=D(2025, 2, 28),
        rebalance="monthly",
        costs=TAXED,
        # sold Thu Dec 26 (settles Mon Dec 30: 0.18 %) and Mon Dec 30 (settles Thu Jan 2, 2025: 0.15 %)
        flows=((D(2024, 12, 25), -1e6), (D(2024, 12, 28), -1e6)),
    ),
    "withdrawals monthly": dict(
        weights=MIX,
        **W,
        withdraw=3e5,
        withdraw_every="monthly",
        withdraw_from=D(2024, 3, 9),
        every="monthly",
        day=1,
        amount=1e6,
        costs=FEES,
    ),
    "withdrawals yearly": dict(
        weights=ALL,
        start=D(2023, 7, 1),
        end=D(2025, 2, 28),
        withdraw=1e6,
        withdraw_every="yearly",
        withdraw_from=D(2024, 2, 29),
        rebalance="quarterly",
    ),
    "one-off flows in and out": dict(
        weights=MIX, **W, flows=((D(2024, 2, 3), 2e6), (D(2024, 3, 20), -1.5e6), (D(2024, 5, 6), -5e5)), costs=FEES
    ),
    "running out of money": dict(
        weights=MIX, **W, initial=3e6, withdraw=1e6, withdraw_every="monthly", withdraw_from=D(2024, 2, 15)
    ),
    "dividends reinvested": dict(weights=ALL, start=D(2023, 12, 1), end=D(2024, 12, 31), dividends="reinvest"),
    "dividends reinvested, withholding, whole shares": dict(
        weights=ALL,
        start=D(2023, 12, 1),
        end=D(2024, 12, 31),
        dividends="reinvest",
        whole_shares=True,
        costs=TAXED,
    ),
    "dividends as cash, USD portfolio": dict(
        weights=ALL,
        start=D(2023, 12, 1),
        end=D(2024, 12, 31),
        dividends="cash",
        currency="USD",
        initial=1e4,
        costs=TAXED,
    ),
    "dividends as cash then rebalanced": dict(
        weights=MIX, start=D(2023, 12, 1), end=D(2024, 12, 31), dividends="cash", rebalance="quarterly"
    ),
    "dividends ignored": dict(weights=ALL, start=D(2023, 12, 1), end=D(2024, 12, 31), dividends="none"),
}


@pytest.mark.parametrize("name", list(NAMED))
def test_engine_agrees_with_the_oracle(name):
    assert_agree(NAMED[name])


def test_engine_agrees_on_sharpe_and_sortino_with_a_risk_free_rate():
    assert_agree(NAMED["rebalance quarterly"], rf=3.5)


# data made for one rule each
GAINS = make_bars(11, drift={"soxl": 0.01})  # SOXL gains 1 % a day: 양도소득세 is due every year


@pytest.mark.parametrize(
    "kw",
    [
        # US tax year by settlement date across New Year, T+2: a sale of Wed 2023-12-27 settles Fri Dec 29 (2023),
        # one of Thu Dec 28 settles Tue 2024-01-02 (2024).
        dict(
            weights={"soxl": 50, "samsung": 50},
            start=D(2023, 6, 1),
            end=D(2024, 3, 31),
            rebalance="monthly",
            initial=3e7,
            costs=TAXED,
            flows=((D(2023, 12, 27), -2e6), (D(2023, 12, 28), -2e6)),
        ),
        # T+1 from 2024-05-28: a sale of Mon 2024-12-30 settles Dec 31 (2024), one of Dec 31 settles in 2025.
        dict(
            weights={"soxl": 50, "btc": 50},
            start=D(2024, 5, 1),
            end=D(2025, 2, 28),
            rebalance="bands",
            bands=(2.0, 5.0),
            initial=3e7,
            costs=TAXED,
            flows=((D(2024, 12, 30), -1e6),),
        ),
        # the tax is larger than the cash: it becomes owed and holdings are sold for it
        dict(
            weights={"soxl": 80, "gold": 20},
            start=D(2023, 6, 1),
            end=D(2025, 3, 31),
            rebalance="quarterly",
            initial=5e7,
            costs=TAXED,
            whole_shares=True,
        ),
    ],
    ids=["T+2 across New Year", "T+1 across New Year", "tax owed"],
)
def test_engine_agrees_on_overseas_tax(kw):
    assert_agree(kw, bars=GAINS)


def test_engine_agrees_when_an_assets_bars_stop_and_the_end_moves_back():
    bars = make_bars(7, stop={"skhynix": D(2024, 10, 15)})
    assert_agree(dict(weights=ALL, start=D(2024, 6, 1), every="monthly", day=20, amount=5e5), bars=bars)


def test_engine_agrees_when_a_source_skipped_sessions():
    bars = make_bars(13, holes=6)
    assert_agree(
        dict(weights=ALL, **W, every="weekly", weekday=3, amount=2e5, rebalance="monthly", costs=TAXED), bars=bars
    )


# -- random plans ----------------------------------------------------------------------------------------------
DATASETS = [
    (BARS, FX),
    (make_bars(21, holes=4), make_fx(22)),
    (make_bars(31), make_fx(32, kis=(D(2023, 5, 1), D(2025, 3, 31)))),
]


def random_plan(seed: int) -> tuple[dict, int]:
    rng = random.Random(seed)
    ids = rng.sample(IDS, rng.randint(1, 4))
    weights = {a: float(rng.choice([0, 5, 10, 20, 25, 30, 40, 60])) for a in ids}
    if not any(weights.values()):
        weights[ids[0]] = 10.0
    start = D(2023, 9, 1) + dt.timedelta(rng.randint(0, 420))
    end = start + dt.timedelta(rng.randint(30, 200))
    usd = rng.random() < 0.3
    unit = 1 / 1300 if usd else 1.0
    kw = dict(
        weights=weights,
        start=start,
        end=end,
        currency="USD" if usd else "KRW",
        initial=rng.choice([0.0, 1e6, 1e7, 5e7]) * unit,
        rebalance=rng.choice(["none", "monthly", "quarterly", "semiannual", "yearly", "bands", "cashflow"]),
        bands=rng.choice([(5.0, 25.0), (2.0, 10.0), (10.0, 50.0)]),
        whole_shares=rng.random() < 0.4,
        dividends=rng.choice(["reinvest", "cash", "none"]),
    )
    every = rng.choice(["none", "monthly", "weekly"]) if kw["initial"] else rng.choice(["monthly", "weekly"])
    kw.update(every=every, day=rng.randint(1, 31), weekday=rng.randint(0, 6), amount=rng.choice([1e5, 5e5, 2e6]) * unit)
    if rng.random() < 0.6:
        kw["costs"] = dict(
            fees={"krx": rng.choice([0.0, 0.015]), "us": rng.choice([0.0, 0.25]), "coin": rng.choice([0.0, 0.05])},
            fx_spread=rng.choice([0.0, 1.0]),
            fx_discount=rng.choice([0.0, 50.0, 90.0]),
            tax=rng.random() < 0.5,
        )
    if rng.random() < 0.25:
        kw.update(
            withdraw=max(kw["initial"], 1e6 * unit) * 0.02,
            withdraw_every=rng.choice(["monthly", "yearly"]),
            withdraw_from=start + dt.timedelta(rng.randint(5, 60)),
        )
    if rng.random() < 0.25:
        kw["flows"] = tuple(
            (start + dt.timedelta(rng.randint(1, (end - start).days)), rng.choice([1, -0.1]) * 1e6 * unit)
            for _ in range(rng.randint(1, 3))
        )
    return kw, rng.randrange(len(DATASETS))


RANDOM = [random_plan(seed) for seed in range(100)]


@pytest.mark.parametrize("seed", range(len(RANDOM)))
def test_engine_agrees_with_the_oracle_on_random_plans(seed):
    kw, k = RANDOM[seed]
    bars, fx = DATASETS[k]
    near = bars.date.between(
        pd.Timestamp(kw["start"]) - pd.Timedelta(days=40), pd.Timestamp(kw["end"]) + pd.Timedelta(days=20)
    )
    assert_agree(kw, bars=bars[near], fx=fx)


@pytest.mark.parametrize(
    "kw",
    [
        dict(weights={"samsung": -10, "btc": 50}),
        dict(weights={"samsung": 0}),
        dict(weights=MIX, start=D(2024, 6, 1), end=D(2024, 5, 1)),
        dict(weights=MIX, start=D(2026, 1, 1)),
        dict(weights=MIX, initial=0.0),
    ],
    ids=["negative weight", "all zero", "end before start", "no bars in range", "no money"],
)
def test_plans_neither_can_run(kw):
    from marketdash.analysis.portfolio.plan import PlanError

    with pytest.raises(OracleError):
        run_oracle(kw, BARS, FX, DIVS)
    with pytest.raises(PlanError):
        run_engine(kw, BARS, FX, DIVS)


# -- the oracle reads the SPEC: identities, conservation, buy and hold ---------------------------------------
def conservation(kw: dict, values: pd.DataFrame, trades: pd.DataFrame, bars: pd.DataFrame) -> None:
    """Rebuild units and cash − owed from the trades alone and compare them with values.csv."""
    fixed = ("invested", "withdrawn", "cash", "receivable", "owed", "dividends", "value")
    ids = [a for a in values.columns if a not in fixed]
    holdings = values[ids].sum(axis=1)
    assert np.allclose(values["value"], values["cash"] + values["receivable"] - values["owed"] + holdings, atol=1e-6)
    assert np.allclose(trades["amount"], trades["units"] * trades["price"] * trades["fx"], rtol=1e-12)
    sign = {"buy": 1.0, "sell": -1.0, "dividend": 0.0}
    money = {"buy": lambda r: -(r.amount + r.fee), "sell": lambda r: r.amount - r.fee - r.tax,
             "dividend": lambda r: r.amount - r.tax}  # fmt: skip
    has_us_tax = kw.get("costs", {}).get("tax") and any(catalog.get(a).kind == "overseas_stock" for a in ids)
    same = [a for a in ids if catalog.get(a).currency == kw.get("currency", "KRW")]
    closes = {a: bars[bars.asset_id == a].set_index("date").close for a in same}
    by_day: dict = {}
    for r in trades.itertuples():
        by_day.setdefault(r.date, []).append(r)
    units = dict.fromkeys(ids, 0.0)
    cash = 0.0
    for day, row in zip(values.index, values.itertuples(), strict=True):
        for r in by_day.get(day, []):
            units[r.asset_id] += sign[r.side] * r.units
            cash += money[r.side](r)
        assert all(u >= -1e-9 for u in units.values())
        if not has_us_tax:  # the overseas gains tax leaves no trade row
            assert cash + row.invested - row.withdrawn == pytest.approx(row.cash - row.owed, abs=1e-4)
        for a in ids:
            if not units[a]:
                assert getattr(row, a) == 0
            elif a in same:
                price = closes[a].asof(day)
                assert getattr(row, a) == pytest.approx(units[a] * price, rel=1e-12)


@pytest.mark.parametrize("seed", range(0, 100, 4))
def test_oracle_keeps_the_identities_and_conserves_money(seed):
    kw, k = RANDOM[seed]
    bars, fx = DATASETS[k]
    values, trades = simulate(oracle_plan(**dict(kw)), bars, fx, DIVS)
    conservation(kw, values, trades, bars)
    assert (values["owed"] >= -1e-9).all() and (values["receivable"] >= 0).all()


@pytest.mark.parametrize(
    "name",
    [
        "dividends reinvested, withholding, whole shares",
        "withdrawals monthly",
        "running out of money",
        "cashflow",
        "whole shares with contributions",
    ],
)
def test_oracle_conserves_money_on_named_cases(name):
    values, trades = simulate(oracle_plan(**dict(NAMED[name])), BARS, FX, DIVS)
    conservation(NAMED[name], values, trades, BARS)


def known_rate(day: dt.date) -> float:
    """USD/KRW known at a US close inside the KIS span: the KIS fixing of that date or the latest before."""
    kis = FX[(FX.source == "kis") & (FX.date <= pd.Timestamp(day))]
    return float(kis.close.iloc[-1])


@pytest.mark.parametrize("asset", ["btc", "samsung", "soxl"])
def test_oracle_twr_of_a_buy_and_hold_is_the_price_return(asset):
    """One asset, no costs: TWR is the asset's return from the first close to the last (a USD asset in won: each
    close at the rate known then). A coin also takes monthly money, which buys at the close of its due day, so the
    TWR stays the price return."""
    every = "monthly" if asset == "btc" else "none"
    values, _ = simulate(oracle_plan(weights={asset: 1}, **W, every=every, day=7, amount=1e6), BARS, FX, NO_DIVS)
    first, last = values.index[0].date(), values.index[-1].date()
    closes = BARS[BARS.asset_id == asset].set_index("date").close
    at = lambda d: closes[closes.index <= pd.Timestamp(d)].iloc[-1] * (known_rate(d) if asset == "soxl" else 1)  # noqa: E731
    if asset == "soxl":
        first = closes[closes.index >= pd.Timestamp(first)].index[0].date()
        last = closes[closes.index <= pd.Timestamp(last)].index[-1].date()
    assert stats(values)["twr_pct"] == pytest.approx((at(last) / at(first) - 1) * 100, rel=1e-9)
    assert values["invested"].iloc[-1] == (1e7 + 6e6 if every == "monthly" else 1e7)  # Jan 7 .. Jun 7


def test_oracle_mwr_of_a_lump_sum_is_its_annualised_growth():
    values, _ = simulate(oracle_plan(weights={"btc": 1}, start=D(2023, 7, 1), end=D(2024, 9, 30)), BARS, FX, NO_DIVS)
    s = stats(values)
    days = (values.index[-1] - values.index[0]).days
    growth = values["value"].iloc[-1] / values["value"].iloc[0]
    assert s["mwr_annual_pct"] == pytest.approx((growth ** (365 / days) - 1) * 100, rel=1e-9)
    assert s["twr_annual_pct"] == pytest.approx((growth ** (365.25 / days) - 1) * 100, rel=1e-9)
    assert s["best_year_pct"] is None  # no whole calendar year between 2023-07-01 and 2024-09-30
    short = simulate(oracle_plan(weights={"btc": 1}, start=D(2024, 1, 1), end=D(2024, 2, 28)), BARS, FX, NO_DIVS)[0]
    assert len(short) == 59 and stats(short)["mwr_annual_pct"] is None and stats(short)["sharpe"] is None


def test_oracle_counts_the_owed_in_the_value_until_sales_pay_it():
    values, trades = simulate(oracle_plan(**NAMED["withdrawals monthly"]), BARS, FX, DIVS)
    due = values.loc["2024-03-09"]  # a Saturday: the withdrawal is owed, btc sells at its close, the rest Monday
    assert due["withdrawn"] == 3e5 and due["owed"] > 0
    monday = trades[trades.date == "2024-03-11"]
    assert set(monday.asset_id) == {"samsung", "soxl"} and set(monday.side) == {"sell"}


# -- hand-computed cases --------------------------------------------------------------------------------------------
def hand_bars(prices: dict[str, dict[dt.date, float]]) -> pd.DataFrame:
    rows = [(a, pd.Timestamp(d), p, "test") for a, series in prices.items() for d, p in series.items()]
    return pd.DataFrame(rows, columns=["asset_id", "date", "close", "source"])


def flat_fx(start: dt.date, end: dt.date, rate=1000.0, changes: dict | None = None) -> pd.DataFrame:
    rows = [(pd.Timestamp(d), (changes or {}).get(d, rate), "kis") for d in sessions("usdkrw", start, end)]
    return pd.DataFrame(rows, columns=["date", "close", "source"])


def steps(asset: str, start: dt.date, end: dt.date, levels: dict[dt.date, float]) -> dict[dt.date, float]:
    """Bars on every session of the asset: each at the level of the latest key on or before it."""
    keys = sorted(levels)
    return {d: levels[max(k for k in keys if k <= d)] for d in sessions(asset, start, end)}


def run_case(who: str, kw: dict, bars, fx, divs=NO_DIVS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(values, trades) of the oracle or of the engine (the engine's fail until it implements the SPEC)."""
    if who == "oracle":
        return simulate(oracle_plan(**dict(kw)), bars, fx, divs)
    values, trades, _ = run_engine(kw, bars, fx, divs)
    values = values.copy()
    values.index = pd.DatetimeIndex(pd.to_datetime(values.index), name="date")
    return values, trades.assign(date=pd.to_datetime(trades["date"]))


CASE_A = dict(
    kw=dict(
        weights={"samsung": 50, "soxl": 50}, start=D(2024, 5, 29), end=D(2024, 6, 4), initial=2e6, rebalance="monthly"
    ),
    bars=hand_bars(
        {
            "samsung": steps("samsung", D(2024, 5, 29), D(2024, 6, 4), {D(2024, 5, 29): 100.0, D(2024, 6, 3): 120.0}),
            "soxl": steps("soxl", D(2024, 5, 29), D(2024, 6, 4), {D(2024, 5, 29): 10.0, D(2024, 6, 3): 8.0}),
        }
    ),
    fx=flat_fx(D(2024, 5, 20), D(2024, 6, 4), changes={D(2024, 6, 3): 1100.0, D(2024, 6, 4): 1100.0}),
)


@pytest.mark.parametrize("who", ["oracle", "engine"])
def test_hand_a_krx_us_rebalance_is_decided_at_the_krx_close_with_the_last_us_close(who):
    """50/50 samsung/SOXL, 2,000,000원 on Wed 2024-05-29; USD/KRW 1000, 1100 from the KIS fixing of Jun 3.
    May 29: samsung 1,000,000 / 100 = 10,000 units (KRX close); SOXL 1,000,000 / (10 × 1000) = 100 units.
    The June rebalance is due Sat Jun 1, on the first date every market trades: Mon Jun 3, decided at the KRX close
    (the earlier one) with samsung at 120 (Jun 3), SOXL at its last close then (Fri May 31: 10) and USD/KRW 1100
    (the Jun 3 fixing, 15:30 KST, the same instant): samsung 1,200,000, SOXL 100 × 10 × 1100 = 1,100,000,
    V = 2,300,000, each leg to 1,150,000: samsung sells 50,000 (416.67 units at 120), SOXL buys 50,000 at its own
    close of Jun 3 (8 × 1100): 5.681818 units. Jun 3: samsung 9,583.33 × 120 = 1,150,000; SOXL 105.681818 × 8 × 1100
    = 930,000; value 2,080,000 (a later close never sizes an earlier trade)."""
    values, trades = run_case(who, **CASE_A)
    jun3 = values.loc["2024-06-03"]
    assert jun3["samsung"] == pytest.approx(1_150_000, rel=1e-12)
    assert jun3["soxl"] == pytest.approx(930_000, rel=1e-12)
    assert jun3["value"] == pytest.approx(2_080_000, rel=1e-12) and abs(jun3["cash"]) < 1e-6
    legs = trades[trades.date == "2024-06-03"].set_index("asset_id")
    assert legs.loc["samsung", "side"] == "sell" and legs.loc["samsung", "units"] == pytest.approx(50_000 / 120)
    assert legs.loc["soxl", "side"] == "buy" and legs.loc["soxl", "units"] == pytest.approx(50_000 / 8_800)
    assert legs.loc["soxl", "fx"] == 1100.0


CASE_A2 = dict(
    kw=dict(
        weights={"samsung": 50, "soxl": 50},
        start=D(2024, 5, 29),
        end=D(2024, 6, 4),
        initial=2e6,
        rebalance="bands",
        bands=(5.0, 25.0),
    ),
    bars=hand_bars(
        {
            "samsung": steps("samsung", D(2024, 5, 29), D(2024, 6, 4), {D(2024, 5, 29): 100.0, D(2024, 6, 3): 125.0}),
            "soxl": steps("soxl", D(2024, 5, 29), D(2024, 6, 4), {D(2024, 5, 29): 10.0, D(2024, 5, 31): 14.0}),
        }
    ),
    fx=flat_fx(D(2024, 5, 20), D(2024, 6, 4)),
)


@pytest.mark.parametrize("who", ["oracle", "engine"])
def test_hand_a_band_breach_at_the_us_close_trades_its_krx_leg_the_next_krx_day(who):
    """As above with bands 5 %p / 25 %, USD/KRW 1000 throughout. SOXL closes at 14 on Fri May 31: at that US close
    SOXL is 100 × 14 × 1000 = 1,400,000 against samsung's 1,000,000: 58.3 % > 55 %, a breach. V = 2,400,000, each
    to 1,200,000: SOXL sells 200,000 at that close (14.2857 units), samsung buys 200,000 at its first close after:
    Mon Jun 3 at 125 (1,600 units). May 31: cash 200,000, SOXL 1,200,000, samsung 1,000,000, value 2,400,000.
    Jun 3: samsung 11,600 × 125 = 1,450,000 (54.7 %: inside the band), SOXL 1,200,000, value 2,650,000."""
    values, trades = run_case(who, **CASE_A2)
    may31, jun3 = values.loc["2024-05-31"], values.loc["2024-06-03"]
    assert may31["cash"] == pytest.approx(200_000) and may31["soxl"] == pytest.approx(1_200_000)
    assert may31["value"] == pytest.approx(2_400_000)
    assert jun3["samsung"] == pytest.approx(1_450_000) and jun3["value"] == pytest.approx(2_650_000)
    assert abs(jun3["cash"]) < 1e-6
    sell = trades[(trades.asset_id == "soxl") & (trades.side == "sell")]
    buy = trades[(trades.asset_id == "samsung") & (trades.side == "buy")]
    assert sell.date.dt.date.tolist() == [D(2024, 5, 31)] and sell.units.iloc[0] == pytest.approx(200_000 / 14_000)
    assert buy.date.dt.date.tolist()[-1] == D(2024, 6, 3) and buy.units.iloc[-1] == pytest.approx(1_600)


CASE_B = dict(
    kw=dict(
        weights={"samsung": 50, "btc": 50},
        start=D(2024, 1, 10),
        end=D(2024, 4, 12),
        initial=1e5,
        every="monthly",
        day=10,
        amount=1e5,
        whole_shares=True,
    ),
    bars=hand_bars(
        {
            "samsung": steps(
                "samsung",
                D(2024, 1, 10),
                D(2024, 4, 12),
                {
                    D(2024, 1, 10): 70_000.0,
                    D(2024, 2, 13): 60_000.0,
                    D(2024, 3, 11): 80_000.0,
                    D(2024, 4, 11): 55_000.0,
                },
            ),
            "btc": steps("btc", D(2024, 1, 10), D(2024, 4, 12), {D(2024, 1, 10): 5e7}),
        }
    ),
    fx=flat_fx(D(2024, 1, 2), D(2024, 4, 12)),
)


@pytest.mark.parametrize("who", ["oracle", "engine"])
def test_hand_whole_shares_pool_the_remainder_over_three_months(who):
    """samsung/btc 50/50, whole shares, 100,000원 on Wed Jan 10 and on the 10th of each month; no costs.
    Jan 10: samsung's 50,000 cannot buy one share at 70,000: remainder 50,000 (btc, a coin, buys 0.001).
    Sat Feb 10 (설날 to Mon Feb 12): the 50,000 waits, Tue Feb 13 at 60,000: 100,000 buys 1, remainder 40,000.
    Sun Mar 10 -> Mon Mar 11 at 80,000: 90,000 buys 1, remainder 10,000.
    Wed Apr 10 (election day, closed) -> Thu Apr 11 at 55,000: 60,000 buys 1, remainder 5,000.
    Apr 12: samsung 3 × 55,000 = 165,000; btc 0.004 × 5e7 = 200,000; cash 5,000; value 370,000 of 400,000 in."""
    values, trades = run_case(who, **CASE_B)
    end = values.loc["2024-04-12"]
    assert end["samsung"] == pytest.approx(165_000) and end["btc"] == pytest.approx(200_000)
    assert end["cash"] == pytest.approx(5_000) and end["value"] == pytest.approx(370_000)
    assert values.loc["2024-02-10", "cash"] == pytest.approx(100_000)  # 50,000 remainder + 50,000 waiting
    buys = trades[(trades.asset_id == "samsung") & (trades.side == "buy")]
    assert buys.date.dt.date.tolist() == [D(2024, 2, 13), D(2024, 3, 11), D(2024, 4, 11)]
    assert buys.units.tolist() == [1, 1, 1]


CASE_C = dict(
    kw=dict(
        weights={"samsung": 50, "btc": 50},
        start=D(2024, 6, 3),
        end=D(2024, 6, 11),
        initial=2e6,
        flows=((D(2024, 6, 8), -6e5),),
    ),
    bars=hand_bars(
        {
            "samsung": steps(
                "samsung",
                D(2024, 6, 3),
                D(2024, 6, 11),
                {D(2024, 6, 3): 50_000.0, D(2024, 6, 7): 60_000.0, D(2024, 6, 10): 72_000.0},
            ),
            "btc": steps("btc", D(2024, 6, 3), D(2024, 6, 11), {D(2024, 6, 3): 1e8, D(2024, 6, 8): 8e7}),
        }
    ),
    fx=flat_fx(D(2024, 5, 27), D(2024, 6, 11)),
)


@pytest.mark.parametrize("who", ["oracle", "engine"])
def test_hand_a_withdrawal_is_owed_then_raised_by_sales_in_proportion(who):
    """samsung/btc 50/50, 2,000,000원 on Mon Jun 3: samsung 20 units at 50,000, btc 0.01 at 1e8. 600,000원 out on
    Sat Jun 8: no free cash, so all of it is owed. The decision is at the earliest close among each asset's first
    session on or after Jun 8: btc's Saturday close. There samsung is 20 × 60,000 (Fri) = 1,200,000 and btc
    0.01 × 8e7 = 800,000: samsung raises 360,000, btc 240,000. btc sells 0.003 at once; samsung sells at Monday's
    close, 360,000 / 72,000 = 5 units. Sat: owed 360,000, samsung 1,200,000, btc 560,000, value 1,400,000.
    Mon: owed 0, samsung 15 × 72,000 = 1,080,000, btc 560,000, value 1,640,000."""
    values, trades = run_case(who, **CASE_C)
    sat, mon = values.loc["2024-06-08"], values.loc["2024-06-10"]
    assert sat["withdrawn"] == 6e5 and sat["owed"] == pytest.approx(360_000) and sat["value"] == pytest.approx(1.4e6)
    assert sat["btc"] == pytest.approx(560_000)
    assert mon["owed"] == pytest.approx(0, abs=1e-6) and mon["value"] == pytest.approx(1.64e6)
    sells = trades[trades.side == "sell"].set_index("asset_id")
    assert sells.loc["btc", "units"] == pytest.approx(0.003) and sells.loc["samsung", "units"] == pytest.approx(5)


CASE_D = dict(
    kw=dict(
        weights={"samsung": 1},
        start=D(2024, 3, 25),
        end=D(2024, 5, 21),
        initial=1e6,
        flows=((D(2024, 3, 28), 5e5),),
        costs={"tax": True},
    ),
    bars=hand_bars(
        {
            "samsung": steps(
                "samsung", D(2024, 3, 25), D(2024, 5, 21), {D(2024, 3, 25): 50_000.0, D(2024, 5, 20): 61_081.2}
            )
        }
    ),
    fx=flat_fx(D(2024, 3, 18), D(2024, 5, 21)),
    divs=pd.DataFrame([div_row("samsung", D(2024, 3, 31), None, D(2024, 5, 20), 361.0)], columns=DIV_COLUMNS),
)


@pytest.mark.parametrize("who", ["oracle", "engine"])
def test_hand_a_dividend_is_a_receivable_from_the_ex_date_then_reinvested(who):
    """samsung only, 1,000,000원 on Mon Mar 25 at 50,000: 20 units; 500,000원 more on Thu Mar 28: 10 units.
    Record date Sun Mar 31: S = Fri Mar 29, the ex-date is Thu Mar 28, so the 20 units held at Wednesday's close are
    entitled (not the 10 bought on the ex-date). 361원 a share, 15.4 % withheld: 20 × 361 × 0.846 = 6,108.12 is a
    receivable from Mar 28 until paid at the close of Mon May 20, where it buys 6,108.12 / 61,081.2 = 0.1 units.
    May 20: 30.1 × 61,081.2 = 1,838,544.12, dividends 6,108.12; the dividend row: 20 units, 361, amount 7,220,
    tax 1,111.88."""
    values, trades = run_case(who, **CASE_D)
    assert values.loc["2024-03-27", "receivable"] == 0
    assert values.loc["2024-03-28", "receivable"] == pytest.approx(6_108.12)
    assert values.loc["2024-05-17", "receivable"] == pytest.approx(6_108.12)
    may20 = values.loc["2024-05-20"]
    assert may20["receivable"] == 0 and may20["samsung"] == pytest.approx(1_838_544.12)
    assert may20["dividends"] == pytest.approx(6_108.12) and may20["value"] == pytest.approx(1_838_544.12)
    div = trades[trades.side == "dividend"].iloc[0]
    assert (div.units, div.price, div.fx) == (20, 361, 1) and div.amount == pytest.approx(7_220)
    assert div.tax == pytest.approx(1_111.88)
    reinvest = trades[(trades.side == "buy") & (trades.date == "2024-05-20")].iloc[0]
    assert reinvest.units == pytest.approx(0.1)
