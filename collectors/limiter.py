"""One KIS request budget per app key and host, shared by every thread and process, that learns what the key allows.

KIS counts calls per app key in a rolling second (20/s nominal, less for a new customer's first days, unverified)
and answers EGW00201 over it. The app and a cron job using one key must therefore share one budget, and a run must
not rediscover a low limit by being refused. So the budget is a small JSON file beside the token cache, under the
token cache's file lock, holding per key and host: the rate learned so far, the send times of the last second, and
when the rate last changed.

- Calls are spaced evenly at the learned rate, measured from the moment the previous call was actually sent (a
  thread that wakes late does not bunch the next call onto it), with a small margin under the rate.
- A refusal sets the rate just under the number of calls the key accepted in the second before it (the server's
  limit, as it showed it), not to a blind half, and holds every call until that second has passed; refusals of
  calls sent before that change are not counted twice.
- Without refusals the rate creeps back up by a tenth every PROBE_EVERY seconds, never above the ceiling
  (KIS_MAX_RPS). A refused probe returns to the rate that held and waits twice as long before the next one.
  The next run starts at the learned rate.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

from filelock import FileLock

log = logging.getLogger(__name__)

MARGIN = 0.02  # space calls 2 % wider than the rate: network jitter must not put rate + 1 calls in one second
LATE_OK = 0.004  # seconds a send may lag its slot and still count as sent on time (well under MARGIN's 20 ms)
PROBE_EVERY = 20.0  # seconds without a refusal before the rate is raised by PROBE_STEP
PROBE_STEP = 1.1
MAX_PROBE_EVERY = 600.0  # each refused probe doubles the wait before the next one, up to this
BELOW_LIMIT = 0.9  # after a refusal, run at this share of what the server accepted in the second before it
WINDOW = 1.0  # the server's rolling window, seconds


class SharedLimiter:
    """`wait()` before each call (returns the send time), `refused(sent_at)` when the server said too many.

    A refusal holds every process's calls until the server's second has passed (`hold_until` in the file)."""

    def __init__(self, state_path: Path, lock: FileLock, slot: str, ceiling: float, floor: float = 0.5) -> None:
        self.state_path = Path(state_path)
        self._file_lock = lock
        self._thread_lock = threading.Lock()
        self.slot = slot
        self.ceiling = ceiling
        self.floor = min(floor, ceiling)

    def __repr__(self) -> str:
        return f"SharedLimiter(ceiling={self.ceiling:g}/s, state={str(self.state_path)!r})"

    # -- state file ----------------------------------------------------------------------------------------------
    def _read(self) -> tuple[dict, dict]:
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        data = data if isinstance(data, dict) else {}
        entry = data.get(self.slot)
        entry = entry if isinstance(entry, dict) else {}
        entry["rate"] = min(max(float(entry.get("rate", self.ceiling)), self.floor), self.ceiling)
        return data, entry

    def _write(self, data: dict, entry: dict) -> None:
        data[self.slot] = entry
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_name(f"{self.state_path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, self.state_path)

    # -- the budget ----------------------------------------------------------------------------------------------
    def wait(self) -> float:
        """Block until this key may send again (across every process using it); returns the send time."""
        while True:
            with self._thread_lock, self._file_lock:
                data, entry = self._read()
                now = time.time()
                changed = float(entry.get("changed_at", 0.0))
                if entry["rate"] < self.ceiling and now - changed >= float(entry.get("probe_every", PROBE_EVERY)):
                    entry["held"] = entry["rate"]  # ran this long without a refusal: the rate to return to
                    entry["rate"] = min(self.ceiling, entry["rate"] * PROBE_STEP)
                    entry["changed_at"] = now
                interval = (1 + MARGIN) / entry["rate"]
                ready = max(float(entry.get("last_send", 0.0)) + interval, float(entry.get("hold_until", 0.0)))
                if now >= ready:
                    # A wake-up a few ms late counts as on time (the margin covers it); lateness beyond that is
                    # real and spaces the next call from it, so no second ever holds rate + 1 calls.
                    entry["last_send"] = ready if now - ready < LATE_OK else now
                    entry["sends"] = [t for t in entry.get("sends", []) if t > now - WINDOW] + [now]
                    self._write(data, entry)
                    return now
            time.sleep(ready - now)

    def refused(self, sent_at: float) -> None:
        """The call sent at `sent_at` was refused for the rate: settle just under what the key accepted before it."""
        with self._thread_lock, self._file_lock:
            data, entry = self._read()
            if sent_at < float(entry.get("changed_at", 0.0)):
                return  # sent at the old rate, which a refusal has already corrected
            accepted = [t for t in entry.get("sends", []) if sent_at - WINDOW < t < sent_at]
            old = entry["rate"]
            held = entry.pop("held", None)
            if held is not None and held < old:  # a probe upward was refused: back to what held, probe less often
                new = held
                entry["probe_every"] = min(float(entry.get("probe_every", PROBE_EVERY)) * 2, MAX_PROBE_EVERY)
            else:
                new = min(old * BELOW_LIMIT, len(accepted) * BELOW_LIMIT) if accepted else old / 2
            entry["rate"] = max(self.floor, new)
            entry["changed_at"] = time.time()
            # The server's second is full until the oldest call it accepted leaves it: nobody sends before then.
            clear = (min(accepted) if accepted else sent_at) + WINDOW * (1 + MARGIN)
            entry["hold_until"] = max(float(entry.get("hold_until", 0.0)), clear)
            self._write(data, entry)
        log.info("KIS refused a call (too many per second): %.2f/s -> %.2f/s", old, entry["rate"])

    @property
    def rate(self) -> float:
        """The rate this key runs at now (learned, or the ceiling)."""
        with self._thread_lock, self._file_lock:
            return self._read()[1]["rate"]
