"""When money moves and when a calendar rebalance is due (SPEC.md, "Portfolio": Money in, Money out, Rebalancing):
dates only; which session and which close instant each becomes is the engine's."""

from __future__ import annotations

import calendar
import datetime as dt

import pandas as pd

from marketdash.analysis.portfolio.plan import Plan

_MONTHS = {"monthly": 1, "quarterly": 3, "semiannual": 6, "yearly": 12}


def _month_day(year: int, month: int, day: int) -> dt.date:
    """Day N of a month; a day the month lacks is its last day."""
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _months(first: dt.date, step: int, day: int, end: dt.date) -> list[dt.date]:
    """Day `day` of every `step`-th month from `first`'s month on, up to `end`."""
    out, year, month = [], first.year, first.month
    while (due := _month_day(year, month, day)) <= end:
        out.append(due)
        month += step
        year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return out


def contribution_dates(plan: Plan, start: dt.date, end: dt.date) -> list[dt.date]:
    """The days money is due after `start` and up to `end` (before the first withdrawal, when there are any): day N
    of every month, or every given weekday."""
    if plan.every == "none" or plan.amount <= 0:
        return []
    if plan.withdraw_every != "none" and plan.withdraw > 0 and plan.withdraw_from:
        end = min(end, plan.withdraw_from - dt.timedelta(days=1))
    if plan.every == "weekly":
        first = start + dt.timedelta(days=(plan.weekday - start.weekday()) % 7 or 7)
        return [d.date() for d in pd.date_range(first, end, freq="7D")]
    return [d for d in _months(start, 1, plan.day, end) if d > start]


def withdrawal_dates(plan: Plan, start: dt.date, end: dt.date) -> list[dt.date]:
    """The days money is taken out: the withdrawal start F (not before the effective start), then every month on
    F's day or every year on F's month and day, up to `end`."""
    if plan.withdraw_every == "none" or plan.withdraw <= 0:
        return []
    first = plan.withdraw_from or start
    dates = _months(first, 1 if plan.withdraw_every == "monthly" else 12, first.day, end)
    return [d for d in dates if d >= start]


def rebalance_dates(rule: str, start: dt.date, end: dt.date) -> list[dt.date]:
    """Calendar rebalancing: the first day of each month, quarter (Jan, Apr, Jul, Oct), half (Jan, Jul) or year
    after `start`."""
    step = _MONTHS.get(rule)
    if step is None:
        return []
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    while (month - 1) % step:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return _months(dt.date(year, month, 1), step, 1, end)
