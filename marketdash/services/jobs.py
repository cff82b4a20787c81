"""Work that runs behind the pages: one history backfill at a time per server process.

The first live open fetches only the range on screen (a few calls a series) so the page draws in seconds; the rest
of each series' history is fetched here, in a thread, while every open page shows its progress. Its KIS calls wait
while a page's own wait for a slot (collectors.limiter.background). Nothing here
touches Streamlit: pages read `fraction` and `status` and rerun when `running` turns false.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence

from collectors.limiter import background
from marketdash.domain.config import DEFAULT_START
from marketdash.domain.i18n import Msg, Name, msg
from marketdash.services.market import MarketService
from marketdash.services.updates import UpdateResult

log = logging.getLogger(__name__)
_IDS = itertools.count(1)


class HistoryJob:
    """Fetch the history of `asset_ids` back to `start`, and the dividends of the paying ones (a failure of those
    is kept in the fetch log, which the Data page reads), in a daemon thread, `delay` seconds after `begin()`;
    `on_done` runs when it ends."""

    def __init__(
        self,
        service: MarketService,
        asset_ids: Sequence[str],
        *,
        start: dt.date | None = None,
        workers: int = 3,
        on_done: Callable[[], None] | None = None,
        delay: float = 0.0,
    ) -> None:
        self.id = next(_IDS)
        self.service = service
        self.assets = list(asset_ids)
        self.start = start or dt.date.fromisoformat(DEFAULT_START)
        self.workers = workers
        self.on_done = on_done
        self.delay = delay
        self.results: list[UpdateResult] = []
        self.error: Msg | None = None
        self._done = dict.fromkeys(self.assets, 0.0)  # written by worker threads, read by pages
        self._latest: dict[str, Msg] = {}
        self._thread = threading.Thread(target=self._run, name=f"history-{self.id}", daemon=True)

    def begin(self) -> HistoryJob:
        self._thread.start()
        return self

    def _progress(self, asset_id: str, fraction: float, text: Msg) -> None:
        self._done[asset_id], self._latest[asset_id] = fraction, text

    def _run(self) -> None:
        time.sleep(self.delay)  # the page that asked draws first: it shares this process's one GIL
        try:
            with background():  # a page's own calls go first in the KIS budget; dividends ride in its slots
                self.results, _ = self.service.update_with_dividends(
                    self.assets, self.start, progress=self._progress, workers=self.workers
                )
        except Exception as exc:  # a bug must not die silently in a thread: the pages say it
            log.exception("history backfill failed")
            self.error = msg("update.unexpected", kind=type(exc).__name__, detail=str(exc))
        finally:
            if self.on_done:
                self.on_done()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def fraction(self) -> float:
        return min(sum(self._done.values()) / max(len(self._done), 1), 1.0)

    def status(self) -> Msg:
        """Which series it is on and how far back it has got."""
        current = next((a for a in reversed(self.assets) if 0 < self._done[a] < 1), None)
        if current is None:
            return msg("progress.starting")
        return msg("progress.series", asset=Name(current), doing=self._latest.get(current, msg("progress.starting")))

    def failures(self) -> list[UpdateResult]:
        return [r for r in self.results if not r.ok]


class QuotePoller:
    """The server process's one quote poller, ticked by every open page's Now strip.

    The clock is cut into `interval`-wide slots, and the first tick in a slot polls (for every page); the other
    ticks return at once and their pages read the store. Ten tabs refreshing at random phases therefore make the
    calls of one tab refreshing every `interval` seconds, which polls on each of its refreshes. (Counting
    `interval` from the last poll instead let ten tabs poll as soon as it had passed, one tab only every other
    refresh when its refresh came a moment early.) A rate-limit or block answer doubles the interval, up to ten
    minutes."""

    def __init__(self, service: MarketService, every: float) -> None:
        self.service = service
        self.every = every
        self.interval = every
        self._lock = threading.Lock()
        self._polled: dict[str, float] = {}  # asset -> monotonic time its last poll started

    def due(self, asset_ids: Sequence[str]) -> list[str]:
        """The assets not yet polled in the current slot (all of them when the interval is 0)."""
        if self.interval <= 0:
            return list(asset_ids)
        slot = time.monotonic() // self.interval
        return [a for a in asset_ids if a not in self._polled or self._polled[a] // self.interval < slot]

    def tick(self, asset_ids: Sequence[str], *, wait: bool = True) -> None:
        """Poll what is due; `wait=False` polls in a thread (a page's first draw does not wait for the network)."""
        if not self.due(asset_ids):
            return
        if not wait:
            threading.Thread(target=self.tick, args=(list(asset_ids),), daemon=True).start()
            return
        if not self._lock.acquire(blocking=False):
            return  # another page is polling right now
        try:
            due = self.due(asset_ids)
            if not due:
                return
            self._polled.update(dict.fromkeys(due, time.monotonic()))
            results = self.service.live.poll(due)
            slowed = any(r.kind in ("rate limited", "blocked") for r in results)
            self.interval = min(self.interval * 2, 600.0) if slowed else self.every
        except Exception:  # a page's refresh must never die of a poll: the strip shows the last quotes and ages
            log.exception("quote poll failed")
        finally:
            self._lock.release()
