"""The app's one clock. Market hours decide what pages show (a live quote while KRX trades, the day's close after
it), so every "now" the app acts on comes from here, and tests pin it to fixed instants (KRX open, KRX closed with
the US open, a weekend, a KRX holiday) instead of depending on the hour they run at.

Token expiry and the rate budget keep the real clock: they answer to the server's time, not to the market's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

KST = dt.timezone(dt.timedelta(hours=9), "KST")
_pinned: dt.datetime | None = None


def now() -> dt.datetime:
    """The current instant, aware, in UTC (a pinned one under `pinned`)."""
    return _pinned if _pinned is not None else dt.datetime.now(dt.UTC)


def today_kst() -> dt.date:
    """Today's date in Seoul: the last day of every range."""
    return now().astimezone(KST).date()


@contextmanager
def pinned(at: dt.datetime) -> Iterator[dt.datetime]:
    """Run with the clock stopped at `at` (aware)."""
    global _pinned
    if at.tzinfo is None:
        raise ValueError("pin the clock to an aware instant")
    before, _pinned = _pinned, at.astimezone(dt.UTC)
    try:
        yield _pinned
    finally:
        _pinned = before
