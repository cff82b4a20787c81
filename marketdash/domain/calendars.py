"""Trading calendars, only to tell "market closed" from "data missing": the bars a source returns are the truth.

Building exchange_calendars' XKRX calendar takes about two seconds (its lunar holidays), in every process that asks,
and the first page needs it. So the session lists are persisted, keyed by the exchange-calendars version: shipped
in `marketdash/domain/sessions/` for the pinned version, and written to `data/.sessions/` the first time another version
(or a list that ends too soon) is met. Refresh the shipped lists after upgrading exchange-calendars with
`python -c "from marketdash.domain import calendars; calendars.save_sessions(calendars.SHIPPED)"`.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

from marketdash.domain.catalog import ASSETS, Asset
from marketdash.domain.config import ROOT

log = logging.getLogger(__name__)

_CALENDAR_START = "2010-01-01"
CODES = tuple(sorted({a.calendar for a in ASSETS.values() if a.calendar != "24/7"}))
SHIPPED = Path(__file__).resolve().parent / "sessions"
CACHE = ROOT / "data" / ".sessions"
FRESH_FOR = dt.timedelta(days=60)  # a stored list must reach at least this far past today, else it is rebuilt


def _file_name(code: str) -> str:
    return f"{code}-{version('exchange-calendars')}.npy"


def build(code: str) -> np.ndarray:
    """Every session of `code` from 2010 to exchange_calendars' horizon (about a year ahead), as datetime64[D]."""
    import exchange_calendars as xc  # slow: imported only when a list must be built

    cal = xc.get_calendar(code, start=_CALENDAR_START)
    return pd.DatetimeIndex(cal.sessions).tz_localize(None).to_numpy().astype("datetime64[D]")


def save_sessions(folder: Path, codes: tuple[str, ...] = CODES) -> list[Path]:
    """Build and write the session lists of `codes` into `folder` (the shipped copy, or the runtime cache)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for code in codes:
        path = folder / _file_name(code)
        np.save(path, build(code), allow_pickle=False)
        paths.append(path)
    return paths


@lru_cache(maxsize=8)
def _session_days(code: str) -> np.ndarray:
    """The persisted list when one for this version reaches far enough, else a new build (then persisted)."""
    horizon = np.datetime64(dt.date.today() + FRESH_FOR, "D")
    for folder in (SHIPPED, CACHE):
        try:
            days = np.load(folder / _file_name(code), allow_pickle=False)
        except (OSError, ValueError):
            continue
        if len(days) and days[-1] >= horizon:
            return days
    days = build(code)
    try:
        CACHE.mkdir(parents=True, exist_ok=True)
        np.save(CACHE / _file_name(code), days, allow_pickle=False)
    except OSError as exc:  # a read-only checkout: every process builds it again, nothing worse
        log.info("could not persist the %s session list: %s", code, exc)
    return days


def session_days(calendar: str, start: dt.date, end: dt.date) -> np.ndarray:
    """Session dates of `calendar` in [start, end] as datetime64[D] (no index built: the portfolio engine asks
    this for every asset of every run); "24/7" is every day."""
    if calendar == "24/7":
        return np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + 1)
    days = _session_days(calendar)
    lo = np.searchsorted(days, np.datetime64(start, "D"), side="left")
    hi = np.searchsorted(days, np.datetime64(end, "D"), side="right")
    return days[lo:hi]


def sessions(calendar: str, start: dt.date, end: dt.date) -> pd.DatetimeIndex:
    """Session dates of `calendar` in [start, end]; "24/7" is every day."""
    return pd.DatetimeIndex(session_days(calendar, start, end).astype("datetime64[ns]"))


def all_sessions(calendar: str) -> pd.DatetimeIndex:
    """Every session the persisted list of `calendar` holds (2010 to about a year ahead)."""
    return pd.DatetimeIndex(_session_days(calendar).astype("datetime64[ns]"))


def expected_last_session(asset: Asset, now: dt.datetime) -> dt.date:
    """The newest session that has closed at `now` in the asset's market."""
    last_closed = asset.last_closed_date(now)
    recent = sessions(asset.calendar, last_closed - dt.timedelta(days=14), last_closed)
    return recent[-1].date() if len(recent) else last_closed


def sessions_behind(asset: Asset, last_date: dt.date | None, now: dt.datetime) -> int | None:
    """How many closed sessions are missing after `last_date` (None when nothing is stored)."""
    if last_date is None:
        return None
    return len(sessions(asset.calendar, last_date + dt.timedelta(days=1), asset.last_closed_date(now)))
