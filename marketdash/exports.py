"""CSV exports (SPEC.md, "Pages"): UTF-8 with a byte-order mark so Excel shows Korean, a header row, ISO dates."""

from __future__ import annotations

import pandas as pd


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as CSV; a named index (e.g. `date`, `asset_id`) becomes the first column. Dates as YYYY-MM-DD."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
    if isinstance(out.index, pd.DatetimeIndex):
        out.index = pd.Index(out.index.strftime("%Y-%m-%d"), name=frame.index.name or "date")
    text = out.to_csv(index=out.index.name is not None, lineterminator="\n")
    return ("\ufeff" + text).encode("utf-8")
