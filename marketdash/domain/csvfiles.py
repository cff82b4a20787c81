"""CSV exports (SPEC.md, "Pages"): UTF-8 with a byte-order mark so Excel shows Korean, a header row, ISO dates,
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


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as CSV; a named index (e.g. `date`, `asset_id`) becomes the first column. Dates as YYYY-MM-DD."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_float_dtype(out[col]):
            out[col] = clean_numbers(out[col])
    if isinstance(out.index, pd.DatetimeIndex):
        out.index = pd.Index(out.index.strftime("%Y-%m-%d"), name=frame.index.name or "date")
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
