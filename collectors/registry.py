"""Which live collector serves each asset under the current settings: the one place that wires sources to assets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from collectors.base import Collector
from collectors.ecb import EcbFxCollector
from marketdash import catalog
from marketdash.config import Settings

if TYPE_CHECKING:  # the quote sources import the HTTP stack: only when live quotes are used
    from collectors.quotes import Quoter


def live_collectors(settings: Settings) -> dict[str, Collector]:
    """KIS for its assets when keys are set, the exchanges for Bitcoin, ECB's shipped history for USD/KRW otherwise.

    With DASHBOARD_OFFLINE=1 only sources that need no network remain.
    """
    out: dict[str, Collector] = {"usdkrw": EcbFxCollector()}
    if settings.offline:
        return out
    if settings.has_kis:
        from collectors.kis import KisCollector

        kis = KisCollector.from_settings(settings)
        out.update({a.id: kis for a in catalog.ASSETS.values() if a.source == "kis"})
    from collectors.upbit import bitcoin_collector

    out["btc"] = bitcoin_collector(settings)
    return out


def live_quoters(settings: Settings, collectors: dict[str, Collector]) -> dict[str, Quoter]:
    """Current prices: KIS's for the assets a KIS collector serves (its token and its one budget), the exchanges'
    ticker for Bitcoin (no key needed); nothing offline."""
    if settings.offline:
        return {}
    from collectors.kis import KisCollector
    from collectors.quotes import KisQuoter, bitcoin_quoter

    out: dict[str, Quoter] = {}
    kis = next((c for c in collectors.values() if isinstance(c, KisCollector)), None)
    if kis is not None:
        quoter = KisQuoter(kis, paper=settings.kis_env == "paper")
        out.update({a: quoter for a, c in collectors.items() if c is kis})
    out["btc"] = bitcoin_quoter(settings.upbit_base_url, settings.bithumb_base_url)
    return out
