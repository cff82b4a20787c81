"""Page runs take turns (issue 32): one script run at a time draws in this process, the others wait in line.

Streamlit runs each reader's script in a thread of its own, and Python runs one thread at a time: ten runs at once
each crawl in slices of the GIL, and the switching costs a quarter more CPU a run (bench/load.py: 48 ms a rerun
alone, 70 ms among ten). In turns each run takes what it takes alone, and they finish in the order they came (no
run starved by the others: the slowest tenth no longer waits for everyone).

- A run takes its turn when its page starts (ui.setup_page) and gives it up when its thread ends (a thread-local
  lease: Streamlit runs a page's rerun in a new thread, and a thread's locals are dropped when it ends).
- A run that waits for something else (a fetch, the history behind the page) steps out of line while it waits
  (`stepped_out`), and queues again after: one reader's fetch never holds the others up.
- A run that holds its turn longer than HOLD_MAX (a store busy in another process, a very long computation) stops
  holding the line: the next run starts beside it. Nothing can wait on a run forever.
Fragments (the cards, the history's progress) rerun without setup_page: they are short and never wait in line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

HOLD_MAX = 1.0  # seconds a run holds the line before the next starts beside it


class _Line:
    """A first-come, first-served turn: tickets, the one being served, and when its run began."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._issued = 0
        self._serving = 0
        self._holder: int | None = None  # the ident of the thread whose run has the turn
        self._since = 0.0
        self._local = threading.local()

    def take(self) -> None:
        """Wait for this run's turn (at once if this thread has it already)."""
        if getattr(self._local, "lease", None) is not None:
            return
        me = threading.get_ident()
        with self._changed:
            ticket, self._issued = self._issued, self._issued + 1
            while ticket != self._serving or not self._free():
                late = self._since + HOLD_MAX - time.monotonic()
                self._changed.wait(late if self._holder is not None and late > 0 else None)
            self._serving += 1
            self._holder, self._since = me, time.monotonic()
            self._changed.notify_all()  # the next ticket may now wait for this run instead
        self._local.lease = _Lease(self, me)

    def _free(self) -> bool:
        return self._holder is None or time.monotonic() - self._since >= HOLD_MAX

    def give_up(self, holder: int) -> None:
        with self._changed:
            if self._holder == holder:
                self._holder = None
            self._changed.notify_all()

    @contextmanager
    def stepped_out(self) -> Iterator[None]:
        """Out of line while this run waits for work outside it; in line again after."""
        lease = getattr(self._local, "lease", None)
        if lease is None:
            yield
            return
        self._local.lease = None
        lease.release()
        try:
            yield
        finally:
            self.take()


class _Lease:
    """The turn of one thread's run: released when the thread ends (its locals are dropped) or it steps out."""

    def __init__(self, line: _Line, holder: int) -> None:
        self._line, self._holder, self._done = line, holder, False

    def release(self) -> None:
        if not self._done:
            self._done = True
            self._line.give_up(self._holder)

    def __del__(self) -> None:
        self.release()


LINE = _Line()
take = LINE.take
stepped_out = LINE.stepped_out
