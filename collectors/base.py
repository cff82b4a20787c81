"""The one collector shape (OpenBB's fetcher steps): source parameters -> raw pages -> DailyBar records; the one
quote source shape: an asset -> its current Quote; and the one dividend source shape: an asset and a window of
record dates -> its Dividend records.

A collector yields pages of bars, newest data first for paging sources, so the caller can store what arrived even
when a later page fails.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Protocol

from marketdash.domain.catalog import Asset
from marketdash.domain.records import DailyBar, Dividend, Quote


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


class StockInfo(Protocol):
    def security_group(self, code: str) -> str | None:
        """A KRX code's 증권그룹 (ST, EF, EN …) as its source names it; None when it names none; a CollectorError on
        failure."""
        ...


class DividendSource(Protocol):
    source: str

    def dividends(self, asset: Asset, start: dt.date, end: dt.date) -> list[Dividend]:
        """The asset's cash dividends with a record date in [start, end]; raise a CollectorError on failure
        (RealAccountOnlyError where the source serves them to real accounts only)."""
        ...
