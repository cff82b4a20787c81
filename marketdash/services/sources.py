"""Which source serves each asset under the settings (built once per service), and why an asset has none.

The live quotes, the updates and the reads all ask here; none of them knows the others.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from collectors.base import Collector, DividendSource, StockInfo
from marketdash.domain import catalog
from marketdash.domain.config import Settings
from marketdash.domain.i18n import Msg, msg


class Sources:
    def __init__(self, settings: Settings, collectors: Mapping[str, Collector] | None = None) -> None:
        self.settings = settings
        self._collectors = collectors
        self._dividends: DividendSource | None = None
        self._dividends_built = False
        self._lock = threading.Lock()

    def collectors(self) -> Mapping[str, Collector]:
        """The live collector of each asset that has one under the current settings (built once)."""
        with self._lock:
            if self._collectors is None:
                from collectors.registry import live_collectors  # the HTTP stack: only once a source is used

                self._collectors = live_collectors(self.settings)
            return self._collectors

    def dividends(self) -> DividendSource | None:
        """The dividend source under the current settings (KIS's records on the KIS collector), None without one."""
        collectors = self.collectors()
        with self._lock:
            if not self._dividends_built:
                from collectors.registry import live_dividends

                self._dividends, self._dividends_built = live_dividends(self.settings, collectors), True
            return self._dividends

    def stock_info(self) -> StockInfo | None:
        """KIS's stock information (what kind a KRX code is), None without a KIS collector."""
        from collectors.registry import live_stock_info

        return live_stock_info(self.collectors())

    def why_not_live(self, asset_id: str) -> Msg:
        """A sentence for the page when an asset has no live source (an added symbol has no sample data either)."""
        added = not catalog.get(asset_id).fixed
        if self.settings.offline:
            return msg("sym.needs_network") if added else msg("live.offline")
        if catalog.get(asset_id).source == "kis" and not self.settings.has_kis:
            return msg("sym.needs_keys") if added else msg("live.no_keys")
        return msg("live.no_source")
