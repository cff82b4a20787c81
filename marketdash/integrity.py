"""The store's integrity report (`python -m collectors check`, the Data page): pure functions over stored bars.

Three kinds of finding, each with its dates: sessions missing inside an asset's stored range by its market's
calendar, rows whose prices are not positive finite numbers, and days held from a source that ranks below another
source the store holds for that asset over the same span (a fallback day a rerun could replace).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from marketdash import calendars, catalog
from marketdash.i18n import Msg, msg
from marketdash.store import SOURCE_RANK

MISSING, BAD_PRICE, WORSE_SOURCE = "missing sessions", "bad price", "worse source"
# ECB fixings follow the euro area's TARGET days, not the KRX calendar USD/KRW is filed under: no gap check there.
NO_CALENDAR_SOURCES = frozenset({"ecb"})
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
            "first": min(self.dates),
            "last": max(self.dates),
            "dates": " ".join(d.isoformat() for d in self.dates),
            "detail": str(self.detail),  # English: the command line and the CSV
            "detail_key": self.detail.to_json(),  # pages say it in the reader's language
        }


def missing_sessions(asset: catalog.Asset, dates: pd.Series, sources: pd.Series) -> Finding | None:
    """Sessions of the asset's calendar between its first and last stored day (from calendar-following sources)."""
    follows = ~sources.isin(NO_CALENDAR_SOURCES)
    held = pd.DatetimeIndex(dates[follows])
    if held.empty:
        return None
    expected = calendars.sessions(asset.calendar, held.min().date(), held.max().date())
    gaps = expected.difference(held)
    if gaps.empty:
        return None
    return Finding(
        asset.id,
        MISSING,
        tuple(d.date() for d in gaps),
        msg(
            "integrity.missing_detail", calendar=asset.calendar, asset_id=asset.id, start=gaps.min().date().isoformat()
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


def check(bars: pd.DataFrame) -> pd.DataFrame:
    """Every finding over the stored bars (long form, as Store.read_bars returns them), one row each."""
    findings: list[Finding] = []
    for asset_id, rows in bars.groupby("asset_id", sort=True):
        rows = rows.sort_values("date")
        asset = catalog.ASSETS.get(str(asset_id))
        found = [
            missing_sessions(asset, rows["date"], rows["source"]) if asset else None,
            bad_prices(str(asset_id), rows),
            worse_sources(str(asset_id), rows),
        ]
        findings.extend(f for f in found if f is not None)
    return pd.DataFrame([f.row() for f in findings], columns=COLUMNS)
