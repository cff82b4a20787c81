"""The one record shape for a daily bar (and for a cash dividend), shared by every collector, and the exact parsing
of wire strings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from operator import attrgetter

import pandas as pd

from marketdash.domain.i18n import Msg, msg

# A lower rank is a better source for the same day; a worse one never replaces a better one (the store, imports,
# the integrity check).
SOURCE_RANK = {"kis": 0, "upbit": 0, "bithumb": 1, "ecb": 2, "sample": 9}


@dataclass(frozen=True, slots=True)
class DailyBar:
    """One session of one asset, dated in its market's own calendar (SPEC.md, "The store")."""

    asset_id: str
    date: dt.date
    open: float | None
    high: float | None
    low: float | None
    close: float
    volume: float | None
    currency: str
    source: str


BAR_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(DailyBar))


class MalformedValueError(ValueError):
    """A wire value that is not a number or date; carries the field so the message says where."""

    def __init__(self, message: Msg) -> None:
        super().__init__(str(message))
        self.msg = message


def parse_decimal(raw: object, field: str, *, required: bool = True) -> float | None:
    """Parse a numeric wire string exactly ("75800", " 31.2500", "+2.86") via Decimal, never via float text."""
    text = "" if raw is None else str(raw).strip().replace(",", "")
    if not text:
        if required:
            raise MalformedValueError(msg("err.value_missing", field=field))
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise MalformedValueError(msg("err.value_not_number", field=field, value=repr(text[:20]))) from None
    if not value.is_finite():
        raise MalformedValueError(msg("err.value_not_finite", field=field, value=repr(text[:20])))
    return float(value)


def parse_yyyymmdd(raw: object, field: str) -> dt.date:
    text = "" if raw is None else str(raw).strip()
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise MalformedValueError(msg("err.value_not_date", field=field, value=repr(text[:20]))) from None


def bars_to_frame(bars: Iterable[DailyBar]) -> pd.DataFrame:
    """Bars -> a frame with the store's columns, one row per (asset_id, date), later duplicates winning."""
    row = attrgetter(*BAR_COLUMNS)  # not dataclasses.astuple, which deep-copies every field (20x slower)
    frame = pd.DataFrame([row(b) for b in bars], columns=list(BAR_COLUMNS))
    if frame.empty:
        return frame.astype({"date": "datetime64[ns]", "close": "float64"})
    frame["date"] = pd.to_datetime(frame["date"])
    for col in ("open", "high", "low", "close", "volume"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    frame = frame.drop_duplicates(["asset_id", "date"], keep="last")
    return frame.sort_values(["asset_id", "date"]).reset_index(drop=True)


@dataclass(frozen=True, slots=True)
class Dividend:
    """One cash dividend (or fund distribution) of one asset, per share, gross, in `currency` (SPEC.md,
    `dividends`). `fixed` is False while the source says the amount or its dates may still change; `ex_date` is the
    source's own (US) or, for KRX, derived from the record date by the T+2 rule (None until it is)."""

    asset_id: str
    record_date: dt.date
    ex_date: dt.date | None
    pay_date: dt.date | None
    amount: float
    currency: str
    kind: str  # final, interim, quarterly (KRX); cash, special (US); else the source's own word
    fixed: bool
    source: str


DIVIDEND_COLUMNS: tuple[str, ...] = (*(f.name for f in fields(Dividend)), "fetched_at")
_DIVIDEND_DATES = ("record_date", "ex_date", "pay_date")


def dividends_to_frame(rows: Iterable[Dividend], fetched_at: dt.datetime | None = None) -> pd.DataFrame:
    """Dividends -> a frame with the store's columns (dates as datetime64), one row per (asset, record date, kind),
    later duplicates winning, sorted."""
    names = DIVIDEND_COLUMNS[:-1]
    frame = pd.DataFrame([attrgetter(*names)(r) for r in rows], columns=list(names))
    frame["fetched_at"] = pd.Timestamp(fetched_at) if fetched_at is not None else pd.NaT
    return dividend_frame(frame.drop_duplicates(["asset_id", "record_date", "kind"], keep="last"))


def dividend_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Any frame of dividend rows in the one shape: exactly DIVIDEND_COLUMNS, dates as datetime64, sorted by asset,
    record date and kind (an empty one keeps the columns and types)."""
    out = frame.reindex(columns=list(DIVIDEND_COLUMNS))
    for col in (*_DIVIDEND_DATES, "fetched_at"):
        out[col] = pd.to_datetime(out[col]).astype("datetime64[ns]")
    out["amount"] = pd.to_numeric(out["amount"], errors="coerce").astype("float64")
    out["fixed"] = out["fixed"].astype("boolean").fillna(False).astype(bool)
    for col in ("asset_id", "currency", "kind", "source"):
        out[col] = out[col].astype(object)
    return out.sort_values(["asset_id", "record_date", "kind"], ignore_index=True)


@dataclass(frozen=True, slots=True)
class Quote:
    """One live price of one asset (SPEC.md, `snapshots`): provisional, never a daily bar."""

    asset_id: str
    price: float
    prev_close: float
    currency: str
    source: str
    quoted_at: dt.datetime  # aware UTC: the source's own time when it sends one, else the moment we fetched it
    time_from_source: bool  # False: the source sends no time (every KIS quote); quoted_at is the fetch time
    market_state: str = ""
    # What the price is (SPEC.md, snapshots.quote_kind): LIVE, a price of the session under way; DELAYED, the
    # source's delayed value of it (KIS's overseas indices and commodities); CLOSE, the close of `session`.
    kind: str = "live"
    session: dt.date | None = None  # the session a DELAYED or CLOSE price belongs to

    @property
    def change_pct(self) -> float:
        """The change against the previous close in % (NaN when the source gives no previous close)."""
        return (self.price / self.prev_close - 1.0) * 100.0 if self.prev_close else float("nan")


LIVE, DELAYED, CLOSE = "live", "delayed", "close"
