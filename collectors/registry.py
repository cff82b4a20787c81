"""Which live collector serves each asset under the current settings: the one place that wires sources to assets."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TypeVar

from collectors.base import Collector, DividendSource, Quoter, StockInfo
from collectors.ecb import EcbFxCollector
from marketdash.domain import catalog
from marketdash.domain.config import Settings

T = TypeVar("T")


class BySource(Mapping[str, T]):
    """asset id -> its source's client: the catalog's own assets by name, any added symbol by its source (KIS for
    KRX/US/overseas symbols, the exchanges for coins), so an added asset has the same clients, token and rate
    budget as the seven. Iterating lists the named ones."""

    def __init__(self, named: dict[str, T], sources: dict[str, T]) -> None:
        self.named, self.sources = named, sources

    def __getitem__(self, asset_id: str) -> T:
        if asset_id in self.named:
            return self.named[asset_id]
        asset = catalog.find(asset_id)
        if asset is None or asset.fixed or asset.source not in self.sources:
            raise KeyError(asset_id)
        return self.sources[asset.source]

    def __iter__(self) -> Iterator[str]:
        return iter(self.named)

    def __len__(self) -> int:
        return len(self.named)


def live_collectors(settings: Settings) -> BySource[Collector]:
    """KIS for its assets when keys are set, the exchanges for Bitcoin and other coins, ECB's shipped history for
    USD/KRW otherwise. With DASHBOARD_OFFLINE=1 only sources that need no network remain."""
    out: dict[str, Collector] = {"usdkrw": EcbFxCollector()}
    sources: dict[str, Collector] = {}
    if settings.offline:
        return BySource(out, sources)
    if settings.has_kis:
        from collectors.kis import KisCollector

        kis = KisCollector.from_settings(settings)
        out.update({a.id: kis for a in catalog.ASSETS.values() if a.source == "kis"})
        sources["kis"] = kis
    from collectors.upbit import coin_collector

    out["btc"] = sources["upbit"] = coin_collector(settings)
    return BySource(out, sources)


def live_quoters(settings: Settings, collectors: Mapping[str, Collector]) -> BySource[Quoter]:
    """Current prices: KIS's for the assets a KIS collector serves (its token and its one budget), the exchanges'
    ticker for coins (no key needed); nothing offline."""
    if settings.offline:
        return BySource({}, {})
    from collectors.kis import KisCollector
    from collectors.quotes import KisQuoter, coin_quoter

    out: dict[str, Quoter] = {}
    sources: dict[str, Quoter] = {}
    kis = next((c for c in collectors.values() if isinstance(c, KisCollector)), None)
    if kis is not None:
        quoter = KisQuoter(kis, paper=settings.kis_env == "paper")
        out.update({a: quoter for a, c in collectors.items() if c is kis})
        sources["kis"] = quoter
    out["btc"] = sources["upbit"] = coin_quoter(settings.upbit_base_url, settings.bithumb_base_url)
    return BySource(out, sources)


def live_dividends(settings: Settings, collectors: Mapping[str, Collector]) -> DividendSource | None:
    """KIS's dividend records on the KIS collector's token and budget (None without one). A paper key's collector
    never asks (the records are real-account only) and says so."""
    from collectors.kis import KisCollector
    from collectors.kis_dividends import KisDividends

    kis = next((c for c in collectors.values() if isinstance(c, KisCollector)), None)
    return None if kis is None else KisDividends(kis, paper=settings.kis_env == "paper")


def live_stock_info(collectors: Mapping[str, Collector]) -> StockInfo | None:
    """KIS's stock information on the KIS collector (None without one)."""
    from collectors.kis import KisCollector
    from collectors.kis_info import KisStockInfo

    kis = next((c for c in collectors.values() if isinstance(c, KisCollector)), None)
    return None if kis is None else KisStockInfo(kis)
