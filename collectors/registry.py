"""Which live collector serves each asset under the current settings: the one place that wires sources to assets."""

from __future__ import annotations

from collectors.base import Collector
from collectors.ecb import EcbFxCollector
from marketdash import catalog
from marketdash.config import Settings


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
