"""The store's integrity report (`python -m collectors check`, the Data page): pure functions over stored bars.

Five kinds of finding: an asset with no stored bar at all; sessions missing inside an asset's stored range by the
days its source publishes; rows whose prices are not positive finite numbers; days held from a source that ranks
below another source the store holds for that asset over the same span (a fallback day a rerun could replace); and
stored dividends that cannot be right (dated by their record dates).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from marketdash.domain import calendars, catalog
from marketdash.domain.i18n import Msg, msg
from marketdash.domain.records import SOURCE_RANK

EMPTY, MISSING, BAD_PRICE, WORSE_SOURCE = "no data", "missing sessions", "bad price", "worse source"
BAD_DIVIDEND = "bad dividend"
# ECB fixings follow the euro area's TARGET days, not the KRX calendar USD/KRW is filed under: no gap check there.
NO_CALENDAR_SOURCES = frozenset({"ecb"})
# Days a source publishes are the days all these calendars trade: KIS files COMEX futures by US trading date and
# publishes nothing on a US holiday (Thanksgiving, Presidents' Day …) on which CME itself has a session.
PUBLISHED_ON = {"CMES": ("CMES", "XNYS")}
COLUMNS = ["asset_id", "problem", "count", "first", "last", "dates", "detail", "detail_key"]


@dataclass(frozen=True)
class Finding:
    asset_id: str
    problem: str
    dates: tuple[dt.date, ...]
    detail: Msg

    def row(self) -> dict:
        return {
            "asset_id": self.asset_id,
            "problem": self.problem,
            "count": len(self.dates),
            "first": min(self.dates, default=None),
            "last": max(self.dates, default=None),
            "dates": " ".join(d.isoformat() for d in self.dates),
            "detail": str(self.detail),  # English: the command line and the CSV
            "detail_key": self.detail.to_json(),  # pages say it in the reader's language
        }


def published_sessions(calendar: str, start: dt.date, end: dt.date) -> pd.DatetimeIndex:
    """The sessions a source publishes bars for between start and end (PUBLISHED_ON)."""
    codes = PUBLISHED_ON.get(calendar, (calendar,))
    days = calendars.sessions(codes[0], start, end)
    for code in codes[1:]:
        days = days.intersection(calendars.sessions(code, start, end))
    return days


def missing_sessions(asset: catalog.Asset, dates: pd.Series, sources: pd.Series) -> Finding | None:
    """Sessions the source publishes between the asset's first and last stored day (calendar-following sources)."""
    follows = ~sources.isin(NO_CALENDAR_SOURCES)
    held = pd.DatetimeIndex(dates[follows])
    if held.empty:
        return None
    expected = published_sessions(asset.calendar, held.min().date(), held.max().date())
    gaps = expected.difference(held)
    if gaps.empty:
        return None
    return Finding(
        asset.id,
        MISSING,
        tuple(d.date() for d in gaps),
        msg(
            "integrity.missing_detail",
            calendar=msg(f"calendar.{asset.calendar}"),
            asset_id=asset.id,
            start=gaps.min().date(),
        ),
    )


def bad_prices(asset_id: str, rows: pd.DataFrame) -> Finding | None:
    """A close that is missing, not finite or not positive; an open/high/low that is present but not so."""
    close = rows["close"].astype("float64")
    bad = ~np.isfinite(close) | (close <= 0)
    for col in ("open", "high", "low"):
        value = rows[col].astype("float64")
        bad |= np.isinf(value) | (value <= 0)
    if not bad.any():
        return None
    return Finding(
        asset_id,
        BAD_PRICE,
        tuple(pd.DatetimeIndex(rows.loc[bad, "date"]).date),
        msg("integrity.bad_price_detail"),
    )


def worse_sources(asset_id: str, rows: pd.DataFrame) -> Finding | None:
    """Days from a lower-ranked source inside the span the best source the store holds for this asset covers."""
    rank = rows["source"].map(SOURCE_RANK).fillna(0)
    best = rank.min()
    best_days = rows.loc[rank == best, "date"]
    inside = (rank > best) & rows["date"].between(best_days.min(), best_days.max())
    if not inside.any():
        return None
    best_name = ", ".join(sorted(rows.loc[rank == best, "source"].unique()))
    worse_name = ", ".join(sorted(rows.loc[inside, "source"].unique()))
    return Finding(
        asset_id,
        WORSE_SOURCE,
        tuple(pd.DatetimeIndex(rows.loc[inside, "date"]).date),
        msg("integrity.worse_source_detail", worse=worse_name, best=best_name),
    )


def bad_dividends(asset_id: str, rows: pd.DataFrame) -> Finding | None:
    """Dividends that cannot be right: any of an asset that pays none (an index, a coin, a future); a fixed one
    without a positive finite amount or a pay date; a pay date before the record date; an ex-date after it."""
    asset = catalog.find(asset_id)
    amount = rows["amount"].astype("float64")
    bad = pd.Series(asset is None or not asset.pays_dividends, index=rows.index)
    bad |= rows["fixed"].astype(bool) & (~np.isfinite(amount) | (amount <= 0) | rows["pay_date"].isna())
    bad |= rows["pay_date"] < rows["record_date"]
    bad |= rows["ex_date"] > rows["record_date"]
    if not bad.any():
        return None
    days = tuple(pd.DatetimeIndex(rows.loc[bad, "record_date"]).date)
    return Finding(asset_id, BAD_DIVIDEND, days, msg("integrity.bad_dividend_detail"))


def check(
    bars: pd.DataFrame, expected: tuple[str, ...] = tuple(catalog.ASSETS), dividends: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Every finding over the stored bars (long form, as Store.read_bars returns them) and dividends (as
    Store.read_dividends returns them), one row each; each of the `expected` assets with no bar at all is a finding
    too (an empty store is not a healthy one)."""
    held = set(bars["asset_id"].unique()) if len(bars) else set()
    findings = [Finding(a, EMPTY, (), msg("integrity.empty_detail", asset_id=a)) for a in expected if a not in held]
    for asset_id, rows in bars.groupby("asset_id", sort=True):
        rows = rows.sort_values("date")
        asset = catalog.find(str(asset_id))
        found = [
            missing_sessions(asset, rows["date"], rows["source"]) if asset else None,
            bad_prices(str(asset_id), rows),
            worse_sources(str(asset_id), rows),
        ]
        findings.extend(f for f in found if f is not None)
    if dividends is not None and len(dividends):
        found = [bad_dividends(str(a), rows) for a, rows in dividends.groupby("asset_id", sort=True)]
        findings.extend(f for f in found if f is not None)
    return pd.DataFrame([f.row() for f in findings], columns=COLUMNS)
