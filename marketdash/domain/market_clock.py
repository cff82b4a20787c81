"""Is a market trading now, and when does that change? Per asset, in KST, from session dates and market hours.

Session dates come from the exchange calendars (holidays; calendars.py); the hours are each market's rules in its
own time zone through zoneinfo, so US daylight time moves them in KST by itself (shared/live-quotes.md, section 4):
- KRX (KOSPI 200, Samsung, SK hynix): 09:00-15:30 KST, 10:00 on the year's first session; opening auction
  08:30-09:00 ("pre"), after-hours trading 15:40-18:00 ("post"). The 수능-day late open is not modelled.
- USD/KRW (Seoul onshore): 09:00 to 02:00 the next morning on KRX sessions, 10:00 on the year's first.
- NYSE Arca (SOXL): 09:30-16:00 New York, 13:00 on the usual early-close days; pre 04:00, post until 20:00.
- COMEX gold and silver (CME Globex): the session dated D runs from 18:00 New York on the day before D to 17:00 on
  D; the hour between two sessions is the daily "break".
- Bitcoin: always open.

A quote's kind is decided here too (`taken`): a price taken while its market is closed is that market's last close.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

from marketdash.domain import calendars
from marketdash.domain.catalog import Asset
from marketdash.domain.records import CLOSE, LIVE, Quote

KST = ZoneInfo("Asia/Seoul")
NEW_YORK = ZoneInfo("America/New_York")
OPEN, PRE, POST, BREAK, CLOSED = "open", "pre", "post", "break", "closed"
MOVING = {OPEN, PRE, POST}  # states in which a quote can change


@dataclass(frozen=True)
class Hours:
    """One session's times (aware datetimes); pre and post equal open and close where a market has none."""

    pre: dt.datetime
    open: dt.datetime
    close: dt.datetime
    post: dt.datetime


@dataclass(frozen=True)
class MarketState:
    state: str
    next_change: dt.datetime | None  # when the state changes next (KST); None: never (Bitcoin)
    next_is_open: bool  # True: the market opens (regular session) then; False: it closes

    @property
    def moving(self) -> bool:
        return self.state in MOVING


def _at(day: dt.date, hour: int, minute: int, tz: ZoneInfo, plus_days: int = 0) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=plus_days), dt.time(hour, minute), tzinfo=tz)


def _first_of_year(day: dt.date, calendar: str) -> bool:
    return calendars.sessions(calendar, dt.date(day.year, 1, 1), day)[0].date() == day


def _us_early_close(day: dt.date) -> bool:
    """NYSE's 13:00 closes: the day after Thanksgiving, Christmas Eve and 3 July when they are sessions."""
    november_first = dt.date(day.year, 11, 1)
    thanksgiving = november_first + dt.timedelta(days=(3 - november_first.weekday()) % 7 + 21)
    return day in (thanksgiving + dt.timedelta(days=1), dt.date(day.year, 12, 24), dt.date(day.year, 7, 3))


# Other exchanges an added overseas index trades on: the regular session's opening, local time (the close is the
# asset's own close_time; lunch breaks are not modelled).
OPENS = {"XTKS": dt.time(9, 0), "XHKG": dt.time(9, 30), "XSHG": dt.time(9, 30), "XTAI": dt.time(9, 0),
         "XFRA": dt.time(9, 0), "XLON": dt.time(8, 0), "XPAR": dt.time(9, 0)}  # fmt: skip


@lru_cache(maxsize=8192)
def session_hours(asset: Asset, day: dt.date) -> Hours:
    """The hours of the session dated `day` in the asset's calendar (which must be a session of it). Remembered:
    every card asks for three weeks of sessions on every rerun (bench/load.py)."""
    if asset.code.startswith("FX@KRW"):  # the won market: 09:00 to 02:00 KST (USD/KRW and KIS's other KRW rates)
        start = 10 if _first_of_year(day, asset.calendar) else 9
        opens, closes = _at(day, start, 0, KST), _at(day, 2, 0, KST, plus_days=1)
        return Hours(opens, opens, closes, closes)
    if asset.calendar == "XKRX":
        start = 10 if _first_of_year(day, asset.calendar) else 9
        return Hours(_at(day, 8, 30, KST), _at(day, start, 0, KST), _at(day, 15, 30, KST), _at(day, 18, 0, KST))
    if asset.calendar == "XNYS":
        close = _at(day, 13, 0, NEW_YORK) if _us_early_close(day) else _at(day, 16, 0, NEW_YORK)
        return Hours(_at(day, 4, 0, NEW_YORK), _at(day, 9, 30, NEW_YORK), close, _at(day, 20, 0, NEW_YORK))
    if asset.calendar == "CMES":
        opens, closes = _at(day, 18, 0, NEW_YORK, plus_days=-1), _at(day, 17, 0, NEW_YORK)
        return Hours(opens, opens, closes, closes)
    if asset.calendar in OPENS:
        opens = _at(day, OPENS[asset.calendar].hour, OPENS[asset.calendar].minute, asset.tz)
        closes = _at(day, asset.close_time.hour, asset.close_time.minute, asset.tz)
        return Hours(opens, opens, closes, closes)
    raise ValueError(f"no trading hours for {asset.id} ({asset.calendar})")


def session_under_way(asset: Asset, now: dt.datetime) -> dt.date | None:
    """The date of the session whose hours (pre-market to post-market) hold `now`; None between sessions."""
    if asset.calendar == "24/7":
        return now.astimezone(asset.tz).date()
    local = now.astimezone(KST).date()
    for day in calendars.sessions(asset.calendar, local - dt.timedelta(days=3), local + dt.timedelta(days=3)):
        hours = session_hours(asset, day.date())
        if hours.pre <= now < hours.post:
            return day.date()
    return None


def session_of(asset: Asset, at: dt.datetime) -> dt.date:
    """The session a price seen at `at` belongs to: the one under way (pre-market to post-market), else the newest
    that had opened by then (a weekend, a holiday or the night before an open belong to the session before)."""
    under_way = session_under_way(asset, at)
    if under_way is not None:
        return under_way
    local = at.astimezone(asset.tz).date()
    days = calendars.sessions(asset.calendar, local - dt.timedelta(days=14), local + dt.timedelta(days=1))
    opened = [d.date() for d in days if session_hours(asset, d.date()).open <= at]
    return opened[-1] if opened else local


def taken(asset: Asset, quote: Quote, market: MarketState) -> Quote:
    """What a quote is, by the state of its market when it was taken, stamped on it: a price taken while its market
    is closed (or in its daily break) is the close of the market's last session, dated by that session, whatever
    the source calls it. KIS answers a Sunday's call with Friday's price and sends no time; shown as today's move
    it would be a move that never happened (issue 29)."""
    quote = dataclasses.replace(quote, market_state=market.state)
    if quote.kind != LIVE or market.moving or asset.calendar == "24/7":
        return quote
    return dataclasses.replace(quote, kind=CLOSE, session=session_of(asset, quote.quoted_at))


def state(asset: Asset, now: dt.datetime) -> MarketState:
    """The asset's market at `now` (aware): open, pre, post, break or closed, and when that changes."""
    if asset.calendar == "24/7":
        return MarketState(OPEN, None, False)
    local = now.astimezone(KST).date()
    days = calendars.sessions(asset.calendar, local - dt.timedelta(days=7), local + dt.timedelta(days=14))
    sessions = [session_hours(asset, d.date()) for d in days]
    for i, h in enumerate(sessions):
        if h.pre <= now < h.open:
            return MarketState(PRE, h.open.astimezone(KST), True)
        if h.open <= now < h.close:
            return MarketState(OPEN, h.close.astimezone(KST), False)
        if h.close <= now < h.post:
            return MarketState(POST, h.post.astimezone(KST), False)
        later = sessions[i + 1] if i + 1 < len(sessions) else None
        if later and h.post <= now < later.pre:
            gap = later.pre - h.post
            kind = BREAK if asset.calendar == "CMES" and gap <= dt.timedelta(hours=2) else CLOSED
            return MarketState(kind, later.open.astimezone(KST), True)
    upcoming = next((h for h in sessions if h.open > now), None)
    return MarketState(CLOSED, upcoming.open.astimezone(KST) if upcoming else None, True)
