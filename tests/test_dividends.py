"""Dividends as data (issue 33, parts 1 and 3): the ex-date rules and the total-return arithmetic by hand cases
(marketdash/analysis/dividends.py), the store's merge rule, the sample's dividends, and what pages show."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from marketdash.analysis import dividends, integrity
from marketdash.domain import calendars
from marketdash.domain.records import Dividend, dividends_to_frame
from marketdash.services.store import Store

D = dt.date
KRX = calendars.all_sessions("XKRX")


def row(asset_id: str, record: dt.date, amount: float, *, ex=None, pay=None, fixed=True, kind="quarterly",
        currency="KRW", source="kis") -> Dividend:  # fmt: skip
    return Dividend(asset_id, record, ex, pay or record + dt.timedelta(days=40), amount, currency, kind, fixed, source)


def bars_of(asset_id: str, days) -> pd.DataFrame:
    days = pd.DatetimeIndex(days)
    return pd.DataFrame({"asset_id": asset_id, "date": days, "close": np.linspace(100, 110, len(days))})


# -- the KRX ex-date (shared/kis-dividends.md §1.5) -------------------------------------------------------------
def test_a_record_date_on_a_session_goes_ex_the_session_before():
    assert dividends.krx_ex_date(D(2025, 6, 30), KRX) == D(2025, 6, 27)  # Monday record -> Friday ex


def test_a_record_date_on_a_closed_dec_31_goes_ex_two_sessions_before_the_last_one():
    """KSD's 2024 year end: Dec 31 closed, the last session Dec 30, buy by Dec 26: ex-date Dec 27 (the naive
    "record - 1 business day" would say Dec 30)."""
    assert dividends.krx_ex_date(D(2024, 12, 31), KRX) == D(2024, 12, 27)


def test_the_ex_date_skips_holidays_before_the_record_date():
    """2025 Chuseok: Oct 3 and Oct 6-9 closed; a record date of Friday Oct 10 goes ex on Thursday Oct 2."""
    assert dividends.krx_ex_date(D(2025, 10, 10), KRX) == D(2025, 10, 2)


def test_a_2023_style_record_date_in_february_or_march_is_ruled_like_any_other():
    """선배당 후기준일 (2023+): year-end dividends with record dates after the AGM. Mar 1 2025 (삼일절, a Saturday)
    -> S = Feb 28 -> ex-date Feb 27; a Tuesday Feb 20 2024 -> Feb 19."""
    assert dividends.krx_ex_date(D(2025, 3, 1), KRX) == D(2025, 2, 27)
    assert dividends.krx_ex_date(D(2024, 2, 20), KRX) == D(2024, 2, 19)


def test_an_ex_date_needs_a_session_before_the_record_one():
    with pytest.raises(ValueError):
        dividends.krx_ex_date(D(2020, 1, 2), pd.DatetimeIndex(["2020-01-02", "2020-01-03"]))


# -- resolve -----------------------------------------------------------------------------------------------------
def test_resolve_derives_krx_ex_dates_from_the_assets_own_bars():
    """The bars decide (a day missing from them moves the ex-date), the calendar stands in only where the bars do
    not reach the record date yet; the stored ex-date is only a fallback."""
    bars = bars_of("samsung", ["2026-03-25", "2026-03-26", "2026-03-27", "2026-03-31"])  # no bar on the 30th
    frame = dividends_to_frame([
        row("samsung", D(2026, 3, 31), 361, ex=D(2026, 3, 30)),  # bars reach it: the bar before S (Mar 31)
        row("samsung", D(2026, 6, 30), 361, ex=D(2000, 1, 1)),  # bars end before it: the calendar, Jun 29
    ])  # fmt: skip
    out = dividends.resolve(frame, bars, calendars.all_sessions)
    assert list(out.columns) == ["asset_id", "ex_date", "record_date", "pay_date", "amount", "currency"]
    assert list(out["ex_date"].dt.date) == [D(2026, 3, 27), D(2026, 6, 29)]
    without_calendar = dividends.resolve(frame, bars).set_index("record_date")["ex_date"].dt.date
    assert without_calendar.to_dict() == {pd.Timestamp("2026-03-31"): D(2026, 3, 27),
                                          pd.Timestamp("2026-06-30"): D(2000, 1, 1)}  # fmt: skip


def test_resolve_keeps_us_ex_dates_as_stored_even_when_equal_to_the_record_date():
    """From 2024-05-28 (T+1) a US ex-date is the record date itself; before, the source's own date stays too."""
    bars = bars_of("soxl", pd.bdate_range("2024-06-03", "2024-06-28"))
    frame = dividends_to_frame([
        row("soxl", D(2024, 6, 18), 0.021, ex=D(2024, 6, 18), currency="USD", kind="cash"),
        row("soxl", D(2024, 3, 19), 0.013, ex=D(2024, 3, 18), currency="USD", kind="cash"),
    ])  # fmt: skip
    out = dividends.resolve(frame, bars, calendars.all_sessions)
    assert list(zip(out["record_date"].dt.date, out["ex_date"].dt.date, strict=True)) == [
        (D(2024, 3, 19), D(2024, 3, 18)), (D(2024, 6, 18), D(2024, 6, 18)),
    ]  # fmt: skip


def test_resolve_leaves_out_unfixed_zero_and_non_payers_rows():
    frame = dividends_to_frame([
        row("samsung", D(2025, 3, 31), 361, fixed=False),  # not fixed yet
        row("samsung", D(2025, 6, 30), 0),  # a stock dividend: no cash
        row("kospi200", D(2025, 6, 30), 5),  # an index pays nothing
        row("btc", D(2025, 6, 30), 5),  # nor does a coin
        row("samsung", D(2025, 9, 30), 361),
    ])  # fmt: skip
    out = dividends.resolve(frame, pd.DataFrame(columns=["asset_id", "date", "close"]), calendars.all_sessions)
    assert list(zip(out["asset_id"], out["record_date"].dt.date, strict=True)) == [("samsung", D(2025, 9, 30))]
    assert out["ex_date"].iloc[0].date() == D(2025, 9, 29)


# -- total return ------------------------------------------------------------------------------------------------
def test_total_return_reinvests_at_the_close_before_the_ex_date():
    closes = pd.Series([100.0, 102.0, 99.0, 101.0, 103.0], index=pd.bdate_range("2026-01-05", periods=5), name="x")
    paid = pd.DataFrame({"asset_id": ["x", "x"], "ex_date": pd.to_datetime(["2026-01-07", "2026-01-09"]),
                         "amount": [2.0, 1.0]})  # fmt: skip
    tr = dividends.total_return(closes, paid)
    first, second = 1 + 2.0 / 102.0, 1 + 1.0 / 101.0
    assert list(tr) == pytest.approx([100.0, 102.0, 99.0 * first, 101.0 * first, 103.0 * first * second], rel=1e-12)
    assert tr.index.equals(closes.index)


def test_total_return_counts_an_ex_date_on_a_day_without_a_close_from_the_next_close():
    """In a frame of several markets an asset has NaN on days it did not trade: an ex-date there counts from its
    next close, at the close before it; a dividend gone ex before the series starts does not count."""
    idx = pd.date_range("2026-01-05", periods=5)
    closes = pd.Series([100.0, np.nan, 104.0, np.nan, 106.0], index=idx, name="x")
    paid = pd.DataFrame({"asset_id": ["x", "x", "y"], "ex_date": pd.to_datetime(["2026-01-01", "2026-01-06",
                                                                                  "2026-01-06"]),
                         "amount": [50.0, 4.0, 99.0]})  # fmt: skip
    factor = dividends.reinvestment(closes, paid)
    assert list(factor) == pytest.approx([1.0, 1.04, 1.04, 1.04, 1.04])
    assert dividends.total_return(closes, paid).iloc[-1] == pytest.approx(106.0 * 1.04)


def test_total_return_frame_takes_the_factor_in_the_paying_currency():
    """A USD dividend on a USD price, then the won view of that price times the same factor: the factor is a
    ratio in the currency paid, never of a dollar amount to a won price."""
    idx = pd.bdate_range("2026-02-02", periods=3)
    native = pd.DataFrame({"soxl": [40.0, 41.0, 40.5], "btc": [1e8, 1.01e8, 1.02e8]}, index=idx)
    won = native.assign(soxl=native["soxl"] * 1400.0)
    paid = pd.DataFrame({"asset_id": ["soxl"], "ex_date": [idx[2]], "amount": [0.41]})
    out = dividends.total_return_frame(native, paid, won)
    assert out["soxl"].iloc[2] == pytest.approx(40.5 * 1400.0 * (1 + 0.41 / 41.0))
    assert out["btc"].equals(won["btc"])
    assert dividends.total_return_frame(native, paid)["soxl"].iloc[2] == pytest.approx(40.5 * (1 + 0.01))


def test_history_and_the_trailing_twelve_month_yield():
    idx = pd.bdate_range("2025-01-01", "2026-01-30")
    closes = pd.Series(100.0, index=idx, name="samsung")
    closes.loc["2025-06-27":] = 200.0
    paid = pd.DataFrame({"asset_id": "samsung", "ex_date": pd.to_datetime(["2025-01-30", "2025-06-30", "2025-12-29"]),
                         "record_date": pd.to_datetime(["2025-01-31", "2025-07-01", "2025-12-30"]),
                         "pay_date": pd.to_datetime(["2025-03-01", "2025-08-01", "2026-02-01"]),
                         "amount": [1.0, 3.0, 5.0], "currency": "KRW"})  # fmt: skip
    table = dividends.history(paid, closes)
    assert list(table["ex_date"].dt.date) == [D(2025, 12, 29), D(2025, 6, 30), D(2025, 1, 30)]
    assert list(table["close_before_ex"]) == [200.0, 200.0, 100.0]
    assert list(table["yield_pct"]) == pytest.approx([2.5, 1.5, 1.0])
    # the year up to 2026-01-30 holds the last two: (3 + 5) / 200
    assert dividends.trailing_yield(paid, closes) == pytest.approx(4.0)
    assert dividends.trailing_yield(paid, closes, pd.Timestamp("2025-06-30")) == pytest.approx(2.0)


# -- the store ---------------------------------------------------------------------------------------------------
def test_a_fixed_dividend_is_never_replaced_by_an_unfixed_one(isolated_env):
    store = Store(isolated_env / "m.duckdb")
    fixed = row("soxl", D(2025, 12, 16), 0.021, ex=D(2025, 12, 16), currency="USD", kind="cash")
    store.upsert_dividends(dividends_to_frame([fixed]))
    worse = Dividend("soxl", D(2025, 12, 16), D(2025, 12, 16), None, 0.5, "USD", "cash", False, "kis")
    newer = Dividend("soxl", D(2026, 3, 17), D(2026, 3, 17), None, 0.03, "USD", "cash", False, "kis")
    store.upsert_dividends(dividends_to_frame([worse, newer]))
    held = store.read_dividends(["soxl"])
    assert list(held["amount"]) == [0.021, 0.03] and list(held["fixed"]) == [True, False]
    confirmed = Dividend("soxl", D(2026, 3, 17), D(2026, 3, 17), D(2026, 3, 24), 0.031, "USD", "cash", True, "kis")
    store.upsert_dividends(dividends_to_frame([confirmed]))
    assert list(store.read_dividends(["soxl"])["amount"]) == [0.021, 0.031]
    assert store.unfixed_since("soxl") is None


def test_check_names_dividends_that_cannot_be_right(isolated_env):
    frame = dividends_to_frame([
        row("samsung", D(2025, 3, 31), 361, pay=D(2025, 3, 1)),  # paid before its record date
        row("samsung", D(2025, 6, 30), 361, ex=D(2025, 7, 1)),  # ex after its record date
        row("samsung", D(2025, 9, 30), 361),  # fine
        row("kospi200", D(2025, 9, 30), 5),  # an index pays nothing
    ])  # fmt: skip
    report = integrity.check(pd.DataFrame(columns=["asset_id", "date", "close", "open", "high", "low", "source"]),
                             expected=(), dividends=frame)  # fmt: skip
    found = {r.asset_id: r.dates for r in report.itertuples()}
    assert found == {"kospi200": "2025-09-30", "samsung": "2025-03-31 2025-06-30"}
    assert set(report["problem"]) == {integrity.BAD_DIVIDEND}
