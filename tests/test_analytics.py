import math

import numpy as np
import pandas as pd
import pytest

from marketdash.analysis import correlations, timeseries


def _wide(rows: dict[str, list[float | None]], dates: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, index=pd.DatetimeIndex(pd.to_datetime(dates), name="date"), dtype=float)


# Mon 2026-06-01 .. Fri 2026-06-05. KRX closed Wed 06-03 (local election); the US closed Fri (a made-up holiday);
# Bitcoin trades on Saturday too.
DATES = ["2026-06-01", "2026-06-02", "2026-06-03", "2026-06-04", "2026-06-05", "2026-06-06"]
WIDE = _wide(
    {
        "samsung": [100, 102, None, 99, 101, None],
        "soxl": [10, 11, 12, 11, None, None],
        "btc": [1000, 990, 1010, 1020, 1030, 1040],
    },
    DATES,
)


def test_to_wide_pivots_long_bars_in_the_requested_order():
    long = WIDE.stack().rename("close").reset_index().rename(columns={"level_1": "asset_id"})
    wide = timeseries.to_wide(long, ["btc", "samsung", "soxl"])
    assert wide.columns.tolist() == ["btc", "samsung", "soxl"]
    assert math.isnan(wide.loc["2026-06-03", "samsung"])
    assert wide.loc["2026-06-06", "btc"] == 1040


def test_to_wide_takes_the_later_of_two_rows_for_a_day_skips_missing_closes_and_sorts_dates():
    long = pd.DataFrame({
        "asset_id": ["btc", "soxl", "btc", "soxl", "btc"],
        "date": pd.to_datetime(["2026-06-02", "2026-06-01", "2026-06-01", "2026-06-02", "2026-06-02"]),
        "close": [1.0, 10.0, 5.0, np.nan, 2.0],
    })  # fmt: skip
    wide = timeseries.to_wide(long)
    assert wide.columns.tolist() == ["btc", "soxl"] and wide.index.tolist() == list(pd.to_datetime(DATES[:2]))
    assert wide["btc"].tolist() == [5.0, 2.0] and wide.loc["2026-06-01", "soxl"] == 10.0
    assert math.isnan(wide.loc["2026-06-02", "soxl"])
    assert timeseries.to_wide(long.iloc[:0], ["btc"]).columns.tolist() == ["btc"]


def test_rebase_uses_the_first_date_all_series_share():
    late = WIDE.copy()
    late.loc["2026-06-01", "soxl"] = None  # SOXL starts a day later
    rebased, anchor = timeseries.rebase(late)
    assert anchor == pd.Timestamp("2026-06-02")
    assert rebased.loc["2026-06-02"].tolist() == [100.0, 100.0, 100.0]
    assert rebased.loc["2026-06-04", "samsung"] == pytest.approx(99 / 102 * 100)
    assert rebased.loc["2026-06-01", "btc"] == pytest.approx(1000 / 990 * 100)


def test_rebase_without_a_common_date_falls_back_to_each_first_close():
    wide = _wide({"a": [1.0, None], "b": [None, 4.0]}, ["2026-01-01", "2026-01-02"])
    rebased, anchor = timeseries.rebase(wide)
    assert anchor is None
    assert rebased.loc["2026-01-01", "a"] == 100.0
    assert rebased.loc["2026-01-02", "b"] == 100.0


def test_daily_returns_only_between_dates_every_asset_traded():
    returns = timeseries.common_returns(WIDE, "daily")
    # Common dates: Mon, Tue, Thu. Wednesday (KRX holiday) is not filled, Friday (US holiday) is dropped.
    assert returns.index.strftime("%m-%d").tolist() == ["06-02", "06-04"]
    assert returns.loc["2026-06-02", "samsung"] == pytest.approx(math.log(102 / 100))
    assert returns.loc["2026-06-04", "samsung"] == pytest.approx(math.log(99 / 102))
    assert returns.loc["2026-06-04", "soxl"] == pytest.approx(math.log(11 / 11))
    assert returns.loc["2026-06-04", "btc"] == pytest.approx(math.log(1020 / 990))


def test_weekly_returns_use_each_assets_last_close_of_the_week():
    dates = pd.bdate_range("2026-06-01", "2026-06-19")
    a = pd.Series(np.arange(1, len(dates) + 1, dtype=float), index=dates)
    b = a * 2
    b.loc["2026-06-12"] = np.nan  # b's Friday is a holiday: its Thursday close stands for the week
    wide = pd.DataFrame({"a": a, "b": b}).rename_axis("date")
    returns = timeseries.common_returns(wide, "weekly")
    assert returns.index.strftime("%m-%d").tolist() == ["06-12", "06-19"]
    assert returns.loc["2026-06-12", "a"] == pytest.approx(math.log(10 / 5))
    assert returns.loc["2026-06-12", "b"] == pytest.approx(math.log(18 / 10))
    assert returns.loc["2026-06-19", "b"] == pytest.approx(math.log(30 / 18))


def test_unknown_frequency_is_refused():
    with pytest.raises(ValueError, match="frequency"):
        timeseries.common_returns(WIDE, "hourly")


def test_correlation_against_hand_computed_values():
    returns = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [1.0, 3.0, 2.0], "z": [3.0, 2.0, 1.0]})
    # Pearson(x, y): deviations (-1, 0, 1) and (-1, 1, 0): sum of products 1, sums of squares 2 and 2 -> 1/2.
    result = correlations.correlation(returns, "pearson")
    assert result.observations == 3
    assert result.matrix.loc["x", "y"] == pytest.approx(0.5)
    assert result.matrix.loc["x", "z"] == pytest.approx(-1.0)
    spearman = correlations.correlation(returns.assign(y=[10.0, 1000.0, 100.0]), "spearman")
    assert spearman.matrix.loc["x", "y"] == pytest.approx(0.5)


def test_correlation_counts_only_rows_all_assets_share():
    returns = pd.DataFrame({"x": [1.0, 2.0, 3.0, np.nan], "y": [1.0, 3.0, 2.0, 5.0]})
    assert correlations.correlation(returns).observations == 3


def test_overview_cards():
    long = WIDE.stack().dropna().rename("close").reset_index().rename(columns={"level_1": "asset_id"})
    table = timeseries.overview(long, ["samsung", "btc", "gold"])
    assert table.loc["samsung", "last_close"] == 101
    assert table.loc["samsung", "day_change_pct"] == pytest.approx((101 / 99 - 1) * 100)
    assert table.loc["btc", "range_change_pct"] == pytest.approx(4.0)
    assert table.loc["btc", "last_date"] == pd.Timestamp("2026-06-06")
    assert math.isnan(table.loc["gold", "last_close"])
