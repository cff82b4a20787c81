"""One KIS request budget per app key and host, shared by every thread and process, that learns what the key allows.

KIS counts calls per app key in a rolling second (20/s nominal, less for a new customer's first days, unverified)
and answers EGW00201 over it. Its gateway also answers EGW00201, now and then, to calls well under the limit (about
4 % of calls in the field, as HTTP 500 or as HTTP 200 with rt_cd "1"). The app and a cron job using one key must
share one budget, a run must not rediscover a low limit by being refused, and noise must not pass for a limit. So
the budget is a small JSON file beside the token cache, under the token cache's file lock, holding per key and
host: the rate learned so far, the send times of the last seconds and which of them were refused, and when the rate
last changed.

- Calls are spaced evenly at the learned rate, measured from the moment the previous call was actually sent (a
  thread that wakes late does not bunch the next call onto it), with a small margin under the rate.
- A refusal is evidence of a limit only when the limit it implies explains the other calls too. A refused call
  that had L accepted calls in the second before it says "the limit is L"; that holds when AGREE refusals say
  the same and no call of the last EVIDENCE_SPAN seconds was accepted with L or more before it. Noise fails that
  test at once (at the ceiling every accepted call has about as many before it as the refused one), a real limit
  passes it within a few calls (over it, the server refuses every call until its window moves on). A refused
  share of at least SHARE_REFUSED of the calls at the current rate (a key shared with someone outside this budget)
  counts too. Anything else changes nothing: the refused call is retried in its slot.
- On evidence, the rate is set just under the number of calls the key accepted in the second before the refusal
  (the server's limit, as it showed it), and every call waits until that second has passed.
- Without evidence the rate climbs back every PROBE_EVERY seconds, by a step that grows with each probe that held
  (10 %, 20 %, 40 % …), never above the ceiling (KIS_MAX_RPS). A probe met by evidence returns to the rate that held
  and waits twice as long before the next one. The next run starts at the learned rate.
- Calls have a priority: what a page needs to draw goes first. A call made inside `background()` (the history
  backfill behind the pages) takes no slot while a call of this process without it waits for one, or was sent
  less than SCREEN_COMES_BACK ago (its thread stores what it got, then asks again): it gets the slots the screen
  leaves. One budget, two queues: the rate and the evidence of a limit are the same for both.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

log = logging.getLogger(__name__)

# Space calls 4 % wider than the rate: rate + 1 calls then span 1.04 s, so a call delayed up to 40 ms between its
# slot and the server (network jitter, a busy machine's scheduler) still leaves the server's second with `rate`.
# At 2 % two processes sharing 20/s on a loaded CI machine met 2 refusals in 104 calls; a refusal that slips
# through anyway costs one retried slot (the noise rule below), so the margin trades a little rate for fewer retries.
MARGIN = 0.04
LATE_OK = 0.004  # seconds a send may lag its slot and still count as sent on time (well under MARGIN's 40 ms)
PROBE_EVERY = 20.0  # seconds without evidence of a limit before the rate is raised
PROBE_STEP = 0.1  # the first probe raises the rate by a tenth; each probe that held doubles the step
MAX_PROBE_EVERY = 600.0  # each probe met by evidence doubles the wait before the next one, up to this
BELOW_LIMIT = 0.9  # after evidence of a limit, run at this share of what the server accepted in the second before it
WINDOW = 1.0  # the server's rolling window, seconds
EVIDENCE_SPAN = 4.0  # seconds of send times (and which were refused) kept as evidence
TOLERANCE = 0.05  # seconds: a call counts as in another's window only when clearly inside it (latency jitter)
AGREE = 3  # refusals that must show the same limit: two in a row happen by chance (0.16 % of calls at 4 % noise)
SHARE_MIN_CALLS, SHARE_REFUSED = 40, 1 / 3  # a third of at least 40 calls at the current rate refused: a limit
SCREEN_COMES_BACK = 0.3  # seconds a screen's call keeps the backfill waiting after it is sent (storing its page)


_BACKGROUND = contextvars.ContextVar("kis_background", default=False)


@contextmanager
def background() -> Iterator[None]:
    """Calls made inside (in this thread, and in the threads it starts with a copy of its context) wait until no
    call of the screen's is waiting: the backfill behind a page never delays what the page draws."""
    token = _BACKGROUND.set(True)
    try:
        yield
    finally:
        _BACKGROUND.reset(token)


class _Turns:
    """The screen's calls of one budget in this process: how many wait for a slot, and until when the last one's
    thread may come back for its next (a page's fetch stores each page it gets before asking for the next: the
    backfill does not take the slot it comes back for). Background calls wait while either holds."""

    def __init__(self) -> None:
        self.waiting = 0
        self.quiet_until = 0.0  # time.monotonic()
        self.changed = threading.Condition()

    @contextmanager
    def first(self) -> Iterator[None]:
        with self.changed:
            self.waiting += 1
        try:
            yield
        finally:
            with self.changed:
                self.waiting -= 1
                self.quiet_until = time.monotonic() + SCREEN_COMES_BACK
                self.changed.notify_all()

    def busy(self) -> bool:
        return self.waiting > 0 or time.monotonic() < self.quiet_until

    def wait_clear(self) -> None:
        with self.changed:
            while self.busy():
                self.changed.wait(None if self.waiting else self.quiet_until - time.monotonic())


_TURNS: dict[tuple[str, str], _Turns] = {}  # one queue per budget (state file, key slot) in this process
_TURNS_LOCK = threading.Lock()


def _turns(state_path: Path, slot: str) -> _Turns:
    with _TURNS_LOCK:
        return _TURNS.setdefault((str(state_path), slot), _Turns())


def _before(outcomes: list[list[float]], at: float) -> int:
    """Accepted calls clearly inside the server's window before the call sent `at`."""
    return sum(1 for t, refused in outcomes if at - WINDOW + TOLERANCE < t < at and not refused)


def limit_shown(outcomes: list[list[float]], sent_at: float, since: float, dropped: float = 0.0) -> int | None:
    """The key's limit that the refusal of the call sent at `sent_at` shows, or None when it looks like noise.

    `outcomes`: [send time, 1 if refused else 0], oldest first; `dropped`: the latest send time no longer among
    them (counts before a call are complete only a window after it); `since`: when the rate last changed (the share
    rule looks only at calls sent at the current rate)."""
    limit = _before(outcomes, sent_at)
    judged = [(t, refused) for t, refused in outcomes if dropped + WINDOW <= t <= sent_at]
    agree = sum(1 for t, refused in judged if refused and _before(outcomes, t) >= limit)
    contradict = any(not refused and _before(outcomes, t) >= limit for t, refused in judged)
    if limit > 0 and agree >= AGREE and not contradict:
        return limit
    current = [refused for t, refused in outcomes if since <= t <= sent_at]
    if len(current) >= SHARE_MIN_CALLS and sum(current) >= SHARE_REFUSED * len(current):
        return max(1, limit)
    return None


class SharedLimiter:
    """`wait()` before each call (returns the send time), `refused(sent_at)` when the server said too many.

    Evidence of a limit holds every process's calls until the server's second has passed (`hold_until`)."""

    def __init__(self, state_path: Path, lock: FileLock, slot: str, ceiling: float, floor: float = 0.5) -> None:
        self.state_path = Path(state_path)
        self._file_lock = lock
        self._thread_lock = threading.Lock()
        self.slot = slot
        self.ceiling = ceiling
        self.floor = min(floor, ceiling)
        self._turns = _turns(self.state_path, slot)

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
        """Block until this key may send again (across every process using it); returns the send time. A call in
        `background()` also waits while a call of this process's screen waits."""
        if _BACKGROUND.get():
            return self._next_slot(behind=True)
        with self._turns.first():
            return self._next_slot(behind=False)

    def _next_slot(self, behind: bool) -> float:
        while True:
            if behind:
                self._turns.wait_clear()
            with self._thread_lock, self._file_lock:
                if behind and self._turns.busy():
                    continue  # a screen's call arrived while this one waited for the lock: it goes first
                data, entry = self._read()
                now = time.time()
                self._probe(entry, now)
                interval = (1 + MARGIN) / entry["rate"]
                ready = max(float(entry.get("last_send", 0.0)) + interval, float(entry.get("hold_until", 0.0)))
                if now >= ready:
                    # A wake-up a few ms late counts as on time (the margin covers it); lateness beyond that is
                    # real and spaces the next call from it, so no second ever holds rate + 1 calls.
                    entry["last_send"] = ready if now - ready < LATE_OK else now
                    entry.pop("sends", None)  # the send times of earlier versions, now in outcomes
                    outcomes = entry.get("outcomes", [])
                    gone = [t for t, _ in outcomes if t <= now - EVIDENCE_SPAN]
                    if gone:
                        entry["dropped"] = max(gone)
                    entry["outcomes"] = [o for o in outcomes if o[0] > now - EVIDENCE_SPAN] + [[now, 0]]
                    self._write(data, entry)
                    return now
            time.sleep(ready - now)

    def _probe(self, entry: dict, now: float) -> None:
        """Below the ceiling and PROBE_EVERY seconds without evidence of a limit: try a higher rate."""
        if entry["rate"] >= self.ceiling:  # back at the ceiling: the next limit found starts afresh
            for name in ("step", "held", "probe_every"):
                entry.pop(name, None)
            return
        if now - float(entry.get("changed_at", 0.0)) < float(entry.get("probe_every", PROBE_EVERY)):
            return
        step = float(entry.get("step", PROBE_STEP))
        if entry.get("held") is not None:  # the last probe ran its course without evidence: step up faster
            step *= 2
        entry["held"] = entry["rate"]  # the rate to return to if this probe meets a limit
        entry["step"] = step
        entry["rate"] = min(self.ceiling, entry["rate"] * (1 + step))
        entry["changed_at"] = now

    def refused(self, sent_at: float) -> None:
        """The call sent at `sent_at` was refused for the rate: noted, and acted on when refusals show a limit."""
        with self._thread_lock, self._file_lock:
            data, entry = self._read()
            changed = float(entry.get("changed_at", 0.0))
            if sent_at < changed:
                return  # sent at the old rate, which evidence has already corrected
            outcomes = entry.get("outcomes", [])
            for o in outcomes:
                if o[0] == sent_at:
                    o[1] = 1
            limit = limit_shown(outcomes, sent_at, changed, float(entry.get("dropped", 0.0)))
            if limit is None:
                self._write(data, entry)
                log.debug("KIS refused one call (EGW00201) with no sign of a limit: rate kept at %.2f/s", entry["rate"])
                return
            old = entry["rate"]
            held = entry.pop("held", None)
            entry.pop("step", None)
            if held is not None and held < old:  # a probe upward met a limit: back to what held, probe less often
                new = min(held, limit * BELOW_LIMIT)
                entry["probe_every"] = min(float(entry.get("probe_every", PROBE_EVERY)) * 2, MAX_PROBE_EVERY)
            else:
                new = min(old, limit) * BELOW_LIMIT
            entry["rate"] = max(self.floor, new)
            entry["changed_at"] = time.time()
            # The server's second is full until the oldest call it accepted leaves it: nobody sends before then.
            accepted = [t for t, refused in outcomes if sent_at - WINDOW < t < sent_at and not refused]
            clear = (min(accepted) if accepted else sent_at) + WINDOW * (1 + MARGIN)
            entry["hold_until"] = max(float(entry.get("hold_until", 0.0)), clear)
            self._write(data, entry)
        log.info("KIS refused calls (too many per second): %.2f/s -> %.2f/s", old, entry["rate"])

    @property
    def rate(self) -> float:
        """The rate this key runs at now (learned, or the ceiling)."""
        with self._thread_lock, self._file_lock:
            return self._read()[1]["rate"]
