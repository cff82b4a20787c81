"""CSV exports (SPEC.md, "Pages"): UTF-8 with a byte-order mark so Excel shows Korean, a header row, ISO dates
(and moments with their time and offset),
numbers without float noise: 10 significant digits at most, no digits past the 10th decimal, no negative zero, and
whole-number columns (volumes, won prices) as integers."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

SIGNIFICANT = "%.10g"
DECIMALS = 10  # -2.2e-14 from (1 + x) / (1 + x) - 1 is 0


def clean_numbers(column: pd.Series) -> pd.Series:
    """A float column without float noise; all whole numbers become integers (blank where missing)."""
    values = column.round(DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0
    known = values.dropna()
    if len(known) and np.isfinite(known).all() and (known == known.round()).all() and known.abs().max() < 2**53:
        return values.astype("Int64")
    return values


# Moments, not days: kept with their time and offset whatever their values (the store keeps them as naive UTC).
TIMESTAMP_COLUMNS = frozenset({"last_attempt", "first_quote", "last_quote", "last_error_at", "quoted_at", "fetched_at",
                               "failed_at", "started_at", "finished_at", "tried_at", "time_kst"})  # fmt: skip


def iso_text(values: pd.Series | pd.DatetimeIndex, name: object) -> list[str]:
    """Dates as YYYY-MM-DD; a moment (a timestamp column, or any value with a time of day) as ISO 8601 with its
    offset, a naive one being UTC: 2026-12-04T15:34:12+00:00. Blank where missing."""
    index = pd.DatetimeIndex(values)
    known = index[~index.isna()]
    moment = name in TIMESTAMP_COLUMNS or bool(len(known) and (known != known.normalize()).any())
    if not moment:
        return ["" if pd.isna(v) else v.strftime("%Y-%m-%d") for v in index]
    aware = index if index.tz is not None else index.tz_localize("UTC")
    return ["" if pd.isna(v) else v.isoformat() for v in aware]


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as CSV; a named index (e.g. `date`, `asset_id`) becomes the first column. Dates as YYYY-MM-DD,
    moments as ISO 8601 with their offset."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = iso_text(out[col], col)
        elif pd.api.types.is_float_dtype(out[col]):
            out[col] = clean_numbers(out[col])
    if isinstance(out.index, pd.DatetimeIndex):
        out.index = pd.Index(iso_text(out.index, frame.index.name), name=frame.index.name or "date")
    text = out.to_csv(index=out.index.name is not None, lineterminator="\n", float_format=SIGNIFICANT)
    return ("\ufeff" + text).encode("utf-8")


def stat_text(value: object) -> str:
    """One statistic as a CSV cell: blank when unknown, ISO dates, numbers to 10 significant digits."""
    if value is None or value is pd.NaT:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()[:10]
    if isinstance(value, float):
        return "" if not math.isfinite(value) else SIGNIFICANT % (round(value, DECIMALS) + 0.0)
    return str(value)
