"""Trading calendars, only to tell "market closed" from "data missing": the bars a source returns are the truth."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import pandas as pd

from marketdash.catalog import Asset

_CALENDAR_START = "2010-01-01"


@lru_cache(maxsize=8)
def _calendar(code: str):
    import exchange_calendars as xc  # slow import (about 1 s): load only when a calendar is needed

    return xc.get_calendar(code, start=_CALENDAR_START)


def sessions(calendar: str, start: dt.date, end: dt.date) -> pd.DatetimeIndex:
    """Session dates of `calendar` in [start, end]; "24/7" is every day."""
    if calendar == "24/7":
        return pd.date_range(start, end, freq="D")
    cal = _calendar(calendar)
    lo = max(pd.Timestamp(start), cal.first_session)
    hi = min(pd.Timestamp(end), cal.last_session)
    if lo > hi:
        return pd.DatetimeIndex([])
    return pd.DatetimeIndex(cal.sessions_in_range(lo, hi)).tz_localize(None)


def expected_last_session(asset: Asset, now: dt.datetime) -> dt.date:
    """The newest session that has closed at `now` in the asset's market."""
    last_closed = asset.last_closed_date(now)
    recent = sessions(asset.calendar, last_closed - dt.timedelta(days=14), last_closed)
    return recent[-1].date() if len(recent) else last_closed


def sessions_behind(asset: Asset, last_date: dt.date | None, now: dt.datetime) -> int | None:
    """How many closed sessions are missing after `last_date` (None when nothing is stored)."""
    if last_date is None:
        return None
    return len(
        sessions(
            asset.calendar,
            last_date + dt.timedelta(days=1),
            asset.last_closed_date(now),
        )
    )
