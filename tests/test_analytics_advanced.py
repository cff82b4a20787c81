"""Alignment modes, lead-lag, rolling and confidence, currency conversion, risk statistics: hand-computed cases."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math

import numpy as np
import pandas as pd
import pytest

from collectors.sample import sample_bars
from marketdash.analysis import conversion, correlations, risk, timeseries
from marketdash.domain.csvfiles import csv_bytes
from marketdash.domain.i18n import Translator, catalog
from marketdash.domain.records import bars_to_frame

D = pd.Timestamp
# Mon 2026-06-01 .. Tue 06-09. KRX closed Wed 06-03 (a US trading day); the US closed Fri 06-05 (a KRX day);
# Bitcoin trades through the weekend.
KRX = pd.DatetimeIndex(["2026-06-01", "2026-06-02", "2026-06-04", "2026-06-05", "2026-06-08", "2026-06-09"])
S = {"2026-06-01": 100, "2026-06-02": 101, "2026-06-04": 104, "2026-06-05": 105, "2026-06-08": 108}
U = {"2026-06-01": 11, "2026-06-02": 12, "2026-06-03": 13, "2026-06-04": 14, "2026-06-08": 18}
B = {f"2026-06-0{d}": 1000 + d for d in range(1, 9)}
WIDE = pd.DataFrame({"samsung": pd.Series(S), "soxl": pd.Series(U), "btc": pd.Series(B)}, dtype=float)
WIDE.index = pd.DatetimeIndex(WIDE.index, name="date")
CALENDARS = {"samsung": "XKRX", "soxl": "XNYS", "btc": "24/7"}


def test_kst_keys_pair_us_sessions_with_the_next_krx_session():
    keys = correlations.kst_session_keys(pd.DatetimeIndex(list(U)), "XNYS", KRX)
    assert keys.strftime("%m-%d").tolist() == ["06-02", "06-04", "06-04", "06-05", "06-09"]
    btc = correlations.kst_session_keys(pd.DatetimeIndex(list(B)), "24/7", KRX)
    assert btc.strftime("%m-%d").tolist() == ["06-01", "06-02", "06-04", "06-04", "06-05", "06-08", "06-08", "06-08"]


def test_kst_alignment_return_pairs():
    r = correlations.aligned_returns(WIDE, "kst", calendars=CALENDARS, krx_sessions=KRX)
    # Aligned closes on the KRX sessions all three share: 06-02 (S 101, SOXL 06-01 = 11, BTC 1002),
    # 06-04 (S 104, SOXL 06-03 = 13 wins over 06-02, BTC 06-04 = 1004 wins over 06-03),
    # 06-05 (S 105, SOXL 14, BTC 1005).
    assert r.index.strftime("%m-%d").tolist() == ["06-04", "06-05"]
    expected = {
        "samsung": [math.log(104 / 101), math.log(105 / 104)],
        "soxl": [math.log(13 / 11), math.log(14 / 13)],
        "btc": [math.log(1004 / 1002), math.log(1005 / 1004)],
    }
    for asset_id, values in expected.items():
        assert r[asset_id].tolist() == pytest.approx(values)


def test_common_dates_return_pairs():
    r = correlations.aligned_returns(WIDE, "common")
    # All three traded on 06-01, 06-02, 06-04 and 06-08: neither holiday is filled.
    assert r.index.strftime("%m-%d").tolist() == ["06-02", "06-04", "06-08"]
    assert r["samsung"].tolist() == pytest.approx([math.log(101 / 100), math.log(104 / 101), math.log(108 / 104)])
    assert r["soxl"].tolist() == pytest.approx([math.log(12 / 11), math.log(14 / 12), math.log(18 / 14)])


def test_forward_fill_is_explicit_and_limited():
    filled = correlations.aligned_returns(WIDE, "common", ffill_limit=1)
    # 06-03: Samsung carried from 06-02 (a zero return); 06-05: SOXL carried from 06-04; 06-06/07 SOXL beyond limit
    assert filled.index.strftime("%m-%d").tolist() == ["06-02", "06-03", "06-04", "06-05", "06-08"]
    assert filled.loc["2026-06-03", "samsung"] == 0.0
    assert filled.loc["2026-06-08", "soxl"] == pytest.approx(math.log(18 / 14))


def test_weekly_mode_and_bad_mode():
    weekly = correlations.aligned_returns(WIDE, "weekly")
    # Weeks end on Friday: each asset's last close of the week of 06-05, then of the week of 06-12 (so far 06-08).
    assert weekly.index.strftime("%m-%d").tolist() == ["06-12"]
    assert weekly.iloc[0].tolist() == pytest.approx([math.log(108 / 105), math.log(18 / 14), math.log(1008 / 1005)])
    with pytest.raises(ValueError, match="alignment"):
        correlations.aligned_returns(WIDE, "hourly")


def test_lead_lag_peaks_at_plus_one_when_b_copies_a_a_session_later():
    rng = np.random.default_rng(7)
    a = pd.Series(rng.standard_normal(300))
    returns = pd.DataFrame({"soxl": a, "skhynix": a.shift(1)})
    table = correlations.lead_lag(returns, "soxl", "skhynix")
    assert list(table.index) == list(range(-5, 6))
    assert int(table["correlation"].abs().idxmax()) == 1
    assert table.loc[1, "correlation"] == pytest.approx(1.0)
    assert abs(table.loc[0, "correlation"]) < 0.2
    text = correlations.lead_lag_reading(table, "soxl", "skhynix")
    assert str(text).startswith("SOXL's session shows up the same way in SK hynix's next session: 1.00 vs")
    assert Translator("ko").text(text).startswith(
        "SOXL의 움직임이 다음 거래일 SK하이닉스에 같은 방향으로 나타납니다: 상관계수 1.00")  # fmt: skip
    reverse = correlations.lead_lag_reading(correlations.lead_lag(returns, "skhynix", "soxl"), "skhynix", "soxl")
    assert str(reverse).startswith("SOXL's session shows up the same way in SK hynix's next session")


@pytest.mark.parametrize("n", [2, 4, 7, 60])
@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_lead_lag_equals_pandas_shifted_correlations_even_shorter_than_the_lags(n, method):
    """Each lag's r and count as pandas computes them from b shifted by -k (lead_lag works on arrays for speed)."""
    rng = np.random.default_rng(n)
    returns = pd.DataFrame({"a": rng.standard_normal(n + 1), "b": rng.standard_normal(n + 1)})
    returns.iloc[1, 0] = np.nan  # dropped as a pair first
    table = correlations.lead_lag(returns, "a", "b", method=method)
    pair = returns.dropna()
    for k in range(-5, 6):
        both = pd.concat([pair["a"], pair["b"].shift(-k)], axis=1).dropna()
        assert table.loc[k, "observations"] == len(both)
        want = both.corr(method="pearson").iloc[0, 1] if method == "pearson" else both.rank().corr().iloc[0, 1]
        if len(both) < 3:
            assert np.isnan(table.loc[k, "correlation"])
        else:
            assert table.loc[k, "correlation"] == pytest.approx(want, abs=1e-12)


def test_lead_lag_names_only_what_stands_out_of_noise_and_says_its_direction():
    """Issue 26.2: independent series gave "SK하이닉스의 움직임이 3거래일 뒤 SOXL에 나타납니다: -0.11" (inside the
    ±0.12 of 252 observations), and 10 monthly returns gave -0.47."""
    rng = np.random.default_rng(11)
    noise = pd.DataFrame({"soxl": rng.standard_normal(252), "skhynix": rng.standard_normal(252)})
    table = correlations.lead_lag(noise, "soxl", "skhynix")
    assert table["correlation"].abs().max() > 0.05  # some lag looks like something
    text = correlations.lead_lag_reading(table, "soxl", "skhynix")
    assert text.key == "leadlag.none.session", Translator("ko").text(text)
    assert "두드러지지 않습니다" in Translator("ko").text(text)
    ten = pd.DataFrame({"soxl": rng.standard_normal(10), "skhynix": rng.standard_normal(10)})
    ten["skhynix"] = -ten["soxl"].shift(2).fillna(0) + 0.01 * rng.standard_normal(10)
    few = correlations.lead_lag(ten, "soxl", "skhynix")
    assert few.loc[2, "correlation"] < -0.9  # strong, but from 8 returns: not a finding
    assert correlations.lead_lag_reading(few, "soxl", "skhynix", "month").key == "leadlag.none.month"
    a = pd.Series(rng.standard_normal(300))
    inverse = pd.DataFrame({"soxl": a, "skhynix": -a.shift(3) + 0.5 * rng.standard_normal(300)})
    said = correlations.lead_lag_reading(correlations.lead_lag(inverse, "soxl", "skhynix"), "soxl", "skhynix")
    assert Translator("ko").text(said).startswith("SOXL의 움직임이 3거래일 뒤 SK하이닉스에 반대 방향으로 나타납니다")
    assert correlations.stands_out(0.13, 252) and not correlations.stands_out(0.11, 252)


def test_rolling_correlation_matches_the_window_by_hand():
    returns = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, 1.0], "b": [1.0, 3.0, 2.0, 4.0, 5.0]})
    rolled = correlations.rolling_correlation(returns, "a", ["b"], window=3)
    assert rolled["b"].isna().tolist()[:2] == [True, True]
    assert rolled["b"].iloc[2] == pytest.approx(0.5)  # (1,2,3) vs (1,3,2)
    assert rolled["b"].iloc[3] == pytest.approx(0.5)  # (2,3,4) vs (3,2,4)
    ewm = correlations.rolling_correlation(returns, "a", ["b"], window=3, exponential=True)
    assert ewm["b"].notna().sum() == 3


def test_spearman_in_every_section_without_scipy(monkeypatch):
    """Spearman by hand: ranks, then Pearson. The heatmap, lead-lag and rolling sections agree where they overlap,
    and none needs scipy (pandas' Series.corr(method="spearman") does, and crashed the page)."""
    monkeypatch.setitem(__import__("sys").modules, "scipy", None)  # importing scipy now fails, as on a fresh clone
    returns = pd.DataFrame({"a": [0.5, -1.0, 2.0, 0.1, 3.0, -2.0], "b": [1.0, -0.5, 0.2, 0.3, 9.0, -1.0]})
    # ranks a: 4 2 5 3 6 1; b: 5 2 3 4 6 1 -> d^2 = 1+0+4+1+0+0 = 6 -> rho = 1 - 6*6/(6*35) = 29/35
    assert correlations.pair_correlation(returns["a"], returns["b"], "spearman") == pytest.approx(29 / 35)
    heat = correlations.correlation(returns, "spearman").matrix.loc["a", "b"]
    lags = correlations.lead_lag(returns, "a", "b", max_lag=1, method="spearman")
    assert lags.loc[0, "correlation"] == pytest.approx(heat) == pytest.approx(29 / 35)
    rolled = correlations.rolling_correlation(returns, "a", ["b"], window=6, method="spearman")
    assert rolled["b"].iloc[-1] == pytest.approx(29 / 35) and rolled["b"].iloc[:-1].isna().all()
    ties = pd.DataFrame({"a": [1.0, 1.0, 2.0, 3.0], "b": [4.0, 3.0, 2.0, 1.0]})  # a tie takes the mean rank
    rolled = correlations.rolling_correlation(ties, "a", ["b"], window=4, method="spearman")
    assert rolled["b"].iloc[-1] == pytest.approx(ties.rank().corr().loc["a", "b"])


def test_fisher_interval_by_hand():
    lo, hi = correlations.fisher_interval(0.5, 28)
    z, half = math.atanh(0.5), 1.959963984540054 / 5
    assert (lo, hi) == pytest.approx((math.tanh(z - half), math.tanh(z + half)))
    assert lo == pytest.approx(0.156, abs=1e-3) and hi == pytest.approx(0.736, abs=1e-3)
    assert all(math.isnan(v) for v in correlations.fisher_interval(0.5, 3))


def test_correlation_table_flags_too_few_observations():
    returns = pd.DataFrame({"x": np.arange(10.0), "y": np.arange(10.0) ** 2, "z": np.sin(np.arange(10.0))})
    table = correlations.correlation_table(returns)
    assert len(table) == 3 and table["too_few"].all() and (table["observations"] == 10).all()


# -- currencies ----------------------------------------------------------------------------------------------------
FX = pd.DataFrame(
    {
        "date": pd.to_datetime(["2026-06-01", "2026-06-02", "2026-06-04"]),
        "close": [1300.0, 1310.0, 1320.0],
        "source": ["kis"] * 3,
    }
)
CLOSES = {"soxl": ("America/New_York", "16:00"), "samsung": ("Asia/Seoul", "15:30"), "btc": ("UTC", "23:59:59")}


def test_usd_asset_in_krw_uses_the_rate_known_at_its_close():
    wide = pd.DataFrame({"soxl": [10.0, 20.0]}, index=pd.DatetimeIndex(["2026-06-03", "2026-06-04"], name="date"))
    krw = conversion.convert(wide, {"soxl": "USD"}, CLOSES, FX, "KRW")
    # SOXL's 06-03 session closes 05:00 KST 06-04, before 06-04's 15:30 KST fixing: 06-02's 1310 applies.
    assert krw["soxl"].tolist() == [10.0 * 1310, 20.0 * 1320]


def test_krw_assets_in_usd_and_no_look_ahead():
    wide = pd.DataFrame(
        {"samsung": [131_000.0, 132_000.0], "btc": [130_000_000.0, 132_000_000.0]},
        index=pd.DatetimeIndex(["2026-06-02", "2026-06-04"], name="date"),
    )
    usd = conversion.convert(wide, {"samsung": "KRW", "btc": "KRW"}, CLOSES, FX, "USD")
    assert usd["samsung"].tolist() == pytest.approx([131_000 / 1310, 132_000 / 1320])  # same-instant fix
    assert usd["btc"].tolist() == pytest.approx([130_000_000 / 1310, 132_000_000 / 1320])
    ecb = FX.assign(source="ecb")  # fixed 14:15 CET = 21:15 KST, after KRX's close: the day before applies
    usd_ecb = conversion.convert(wide[["samsung"]], {"samsung": "KRW"}, CLOSES, ecb, "USD")
    assert usd_ecb["samsung"].tolist() == pytest.approx([131_000 / 1300, 132_000 / 1310])


def test_no_rate_before_the_first_fixing_is_nan_not_a_later_rate():
    wide = pd.DataFrame({"soxl": [10.0]}, index=pd.DatetimeIndex(["2026-05-29"], name="date"))
    assert math.isnan(conversion.convert(wide, {"soxl": "USD"}, CLOSES, FX, "KRW")["soxl"].iloc[0])


def test_return_decomposition():
    native = pd.Series([10.0, 12.0])
    krw = pd.Series([13_000.0, 12.0 * 1365])
    parts = conversion.currency_decomposition(native, krw)
    assert parts["asset_return_pct"] == pytest.approx(20.0)
    assert parts["krw_return_pct"] == pytest.approx((12 * 1365 / 13_000 - 1) * 100)
    assert parts["fx_return_pct"] == pytest.approx((1365 / 1300 - 1) * 100)


# -- statistics ----------------------------------------------------------------------------------------------------
def test_statistics_by_hand():
    dates = pd.DatetimeIndex(["2020-01-01", "2020-07-01", "2021-01-01", "2022-01-01"])
    stats = risk.statistics(pd.Series([100.0, 110.0, 99.0, 121.0], index=dates), 252)
    returns = [0.1, -0.1, 121 / 99 - 1]
    mean = sum(returns) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in returns) / 2)
    assert stats["total_return_pct"] == pytest.approx(21.0)
    assert stats["cagr_pct"] == pytest.approx((1.21 ** (365.25 / 731) - 1) * 100)
    assert stats["volatility_pct"] == pytest.approx(sd * math.sqrt(252) * 100)
    assert stats["sharpe"] == pytest.approx(mean * 252 / (sd * math.sqrt(252)))
    assert stats["max_drawdown_pct"] == pytest.approx(-10.0)
    assert (stats["drawdown_peak"], stats["drawdown_trough"], stats["drawdown_recovered"]) == (
        D("2020-07-01"), D("2021-01-01"), D("2022-01-01"),
    )  # fmt: skip
    assert (stats["best_day"], stats["worst_day"]) == (D("2022-01-01"), D("2021-01-01"))
    assert stats["worst_day_pct"] == pytest.approx(-10.0)


def test_a_row_over_less_than_the_range_is_marked_and_not_annualised_under_60_sessions():
    """Issue 14.4: a series listed 31 sessions before the end beside five years of another gets its total return,
    its span and observations, a mark, and no CAGR, volatility or Sharpe."""
    days = pd.bdate_range("2021-01-04", "2026-11-30")
    wide = pd.DataFrame({"samsung": np.linspace(100, 200, len(days))}, index=days)
    wide["soxl"] = np.nan
    wide.iloc[-31:, 1] = np.linspace(10, 40, 31)
    table = risk.statistics_table(wide, {"samsung": 252, "soxl": 252}, range_start=pd.Timestamp("2021-01-01"))
    soxl, samsung = table.loc["soxl"], table.loc["samsung"]
    assert soxl["observations"] == 31 and soxl["first_date"] == days[-31] and soxl["shorter_than_range"]
    assert soxl["total_return_pct"] == pytest.approx(300.0)
    assert all(math.isnan(soxl[c]) for c in ("cagr_pct", "volatility_pct", "sharpe"))
    assert not samsung["shorter_than_range"] and samsung["cagr_pct"] > 0 and samsung["observations"] == len(days)
    periods = {"samsung": 252, "soxl": 252}
    late = risk.statistics_table(wide.iloc[3:], periods, range_start=pd.Timestamp("2021-01-01"))
    assert not late.loc["samsung", "shorter_than_range"]  # three sessions late: within a week's slack
    before = risk.statistics_table(wide, periods, range_start=pd.Timestamp("2020-06-01"))
    assert before["shorter_than_range"].all()  # a range that starts before either series


def test_csv_numbers_have_no_float_noise_and_no_negative_zero():
    frame = pd.DataFrame(
        {"close": [7170809.4643439995, 81632.0], "fx_return_pct": [-2.22e-14, -0.0], "volume": [61141462.0, np.nan]},
        index=pd.Index(["btc", "samsung"], name="asset_id"),
    )
    text = csv_bytes(frame).decode("utf-8-sig")
    assert text.splitlines() == ["asset_id,close,fx_return_pct,volume", "btc,7170809.464,0,61141462",
                                 "samsung,81632,0,"]  # fmt: skip


def test_bitcoin_annualizes_over_365_days():
    dates = pd.date_range("2024-01-01", periods=5, freq="D")
    closes = pd.Series([100.0, 101.0, 100.0, 102.0, 101.0], index=dates)
    btc = risk.statistics(closes, 365)
    stock = risk.statistics(closes, 252)
    assert btc["volatility_pct"] / stock["volatility_pct"] == pytest.approx(math.sqrt(365 / 252))
    assert pd.isna(risk.statistics(closes.iloc[:1], 252).get("volatility_pct"))


# -- the default correlation equals an independent recomputation from the exported CSV ----------------------------
def test_default_correlation_equals_a_recomputation_from_the_exported_csv():
    bars = [b for a in catalog.COMPARED for b in sample_bars(catalog.get(a), dt.date(2016, 1, 1), dt.date(2026, 6, 30))]
    wide = timeseries.to_wide(bars_to_frame(bars), list(catalog.COMPARED))
    ours = correlations.correlation(correlations.aligned_returns(wide, "common")).matrix

    rows = list(csv.reader(io.StringIO(csv_bytes(wide).decode("utf-8-sig"))))
    header, body = rows[0], [r for r in rows[1:] if all(cell != "" for cell in r[1:])]
    cols = {name: [float(r[i]) for r in body] for i, name in enumerate(header) if i > 0}
    rets = {k: [math.log(v[i] / v[i - 1]) for i in range(1, len(v))] for k, v in cols.items()}

    def pearson(x: list[float], y: list[float]) -> float:
        mx, my = sum(x) / len(x), sum(y) / len(y)
        sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
        return sxy / math.sqrt(sum((a - mx) ** 2 for a in x) * sum((b - my) ** 2 for b in y))

    for a in header[1:]:
        for b in header[1:]:
            assert abs(ours.loc[a, b] - pearson(rets[a], rets[b])) < 1e-9, (a, b)
