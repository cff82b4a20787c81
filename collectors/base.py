"""The one collector shape (OpenBB's fetcher steps): source parameters -> raw pages -> DailyBar records; and the
one quote source shape: an asset -> its current Quote.

A collector yields pages of bars, newest data first for paging sources, so the caller can store what arrived even
when a later page fails.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Protocol

from marketdash.domain.catalog import Asset
from marketdash.domain.records import DailyBar, Quote


class Collector(Protocol):
    source: str

    def pages(self, asset: Asset, start: dt.date, end: dt.date) -> Iterator[list[DailyBar]]:
        """Yield the bars of [start, end] page by page; raise a CollectorError on failure."""
        ...


class Quoter(Protocol):
    source: str

    def quote(self, asset: Asset) -> Quote:
        """The asset's current price; raise a CollectorError on failure (errors that look like success included)."""
        ...
