"""The one collector shape (OpenBB's fetcher steps): source parameters -> raw pages -> DailyBar records.

A collector yields pages of bars, newest data first for paging sources, so the caller can store what arrived even
when a later page fails.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Protocol

from marketdash.catalog import Asset
from marketdash.records import DailyBar


class Collector(Protocol):
    source: str

    def pages(self, asset: Asset, start: dt.date, end: dt.date) -> Iterator[list[DailyBar]]:
        """Yield the bars of [start, end] page by page; raise a CollectorError on failure."""
        ...
