"""The app's one clock. Market hours decide what pages show (a live quote while KRX trades, the day's close after
it), so every "now" the app acts on comes from here, and tests pin it to fixed instants (KRX open, KRX closed with
the US open, a weekend, a KRX holiday) instead of depending on the hour they run at.

Token expiry and the rate budget keep the real clock: they answer to the server's time, not to the market's.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager

KST = dt.timezone(dt.timedelta(hours=9), "KST")


def _from_environment() -> dt.datetime | None:
    """`DASHBOARD_NOW` (an ISO instant with its offset): the app runs as if at that moment, for screenshots and
    demos of a market's hours (the Korean daytime with the US closed); unset in normal use."""
    text = os.environ.get("DASHBOARD_NOW", "").strip()
    if not text:
        return None
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"DASHBOARD_NOW needs an offset (2026-07-10T11:00:00+09:00), not {text!r}")
    return moment.astimezone(dt.UTC)


_pinned: dt.datetime | None = _from_environment()


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
