"""Tables as the reader sees them (pure): headers, asset names and known codes in their language, numbers with
thousands separators, dates the language's way, signed changes in the market colours. CSV files never pass through
here: they keep asset ids, ISO dates and dot decimals whatever the language.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
from pandas.io.formats.style import Styler

from marketdash.domain import catalog
from marketdash.domain.csvfiles import TIMESTAMP_COLUMNS
from marketdash.domain.i18n import Translator, stored
from marketdash.domain.market_clock import KST

# Columns whose values are codes with a name in the catalog (`<prefix>.<code>`); comma lists are named one by one.
CODED = {
    "source": "source", "sources": "source", "live_source": "source", "last_status": "status",
    "market_state": "state", "problem": "problem", "side": "side",
}  # fmt: skip
ASSET_COLUMNS = {"asset_a", "asset_b"}
# Hidden twins: the catalog form of the English message beside them (store.py keeps both).
MESSAGE_KEYS = {"last_message": "last_message_key", "last_error": "last_error_key", "detail": "detail_key"}
SIGNED = {"day_change_pct", "range_change_pct", "total_return_pct", "cagr_pct", "max_drawdown_pct", "best_day_pct",
          "worst_day_pct", "asset_return_pct", "fx_return_pct", "krw_return_pct", "sharpe", "twr_pct",
          "share_pct"}  # fmt: skip
# Amounts of money in a portfolio's currency (the caller names it); the signed ones in the market colours.
MONEY_COLUMNS = {"invested", "withdrawn", "cash", "receivable", "owed", "dividends", "value", "amount", "fee", "tax",
                 "contributed", "value_end", "profit", "fees", "taxes", "asset_part", "fx_part", "dividend_part",
                 "costs"}  # fmt: skip
SIGNED_MONEY = {"profit", "asset_part", "fx_part", "dividend_part"}
# Stored as naive UTC (SPEC.md); shown in KST, the time every page speaks (the CSV keeps UTC).
UTC_COLUMNS = TIMESTAMP_COLUMNS - {"time_kst"}
# In the row's asset's unit.
PRICE_COLUMNS = {"last_close", "open", "high", "low", "close", "price", "prev_close", "dividend", "close_before_ex"}
DECIMALS = {"correlation": 3, "ci95_low": 3, "ci95_high": 3, "sharpe": 2, "volume": 0, "rows": 0, "quotes": 0}


def _name_codes(value: object, prefix: str, t: Translator) -> object:
    if not isinstance(value, str) or not value:
        return value
    return t("list.joiner").join(t(f"{prefix}.{part.strip()}") for part in value.split(","))


def message_text(text: object, key: object, t: Translator) -> str:
    """A stored (English message, catalog key) pair in the reader's language."""
    return t.text(stored(text, key))


def _header(column: object, t: Translator) -> str:
    name = str(column)
    return t.name(name) if catalog.known(name) else t(f"col.{name}")


def screen_frame(frame: pd.DataFrame, t: Translator) -> pd.DataFrame:
    """The frame with its words in the reader's language (values stay numbers; headers are still column codes)."""
    out = frame.copy()
    for column, key_column in MESSAGE_KEYS.items():
        if column in out and key_column in out:
            out[column] = [message_text(v, k, t) for v, k in zip(out[column], out[key_column], strict=True)]
    out = out.drop(columns=[c for c in MESSAGE_KEYS.values() if c in out])
    for column in UTC_COLUMNS & set(out.columns):
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.tz_localize("UTC").dt.tz_convert(KST).dt.tz_localize(None)
    for column, prefix in CODED.items():
        if column in out:
            out[column] = out[column].map(lambda v, p=prefix: _name_codes(v, p, t))
    for column in ASSET_COLUMNS & set(out.columns):
        out[column] = out[column].map(lambda a: t.name(a) if catalog.known(str(a)) else a)
    if out.index.name == "asset_id":
        out.index = pd.Index([t.name(a) if catalog.known(str(a)) else a for a in out.index], name="asset_id")
    return out


def _number(value: object, decimals: int, t: Translator) -> str:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "—" if math.isnan(value) else str(value)
    return t.number(value, 0 if isinstance(value, int) else decimals)


def _display(value: object, t: Translator, decimals: int, timed: bool) -> str:
    """One cell as text: nothing is blank (Streamlit would write "None"), dates the language's way."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, pd.Timestamp | dt.datetime):
        return t.datetime(value) if timed else t.date(value)
    if isinstance(value, dt.date):
        return t.date(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _number(value, decimals, t)
    return str(value)


def styled(frame: pd.DataFrame, t: Translator, asset_id: str | None = None, currency: str | None = None) -> Styler:
    """The frame for st.dataframe: headers and codes in the reader's language, thousands separators, the
    language's dates, blanks for what is missing, market colours on signed changes.

    Complete numeric columns stay numbers (formatted by the Styler, so they sort as numbers); every other column
    becomes its display text, since Streamlit draws a missing cell as "None" whatever the Styler says. Prices are
    written in their asset's unit (the row's, or `asset_id`'s for one asset's bars); signed changes in % with
    their sign; amounts of money in `currency` (a portfolio's) when it is given."""
    per_row = list(frame.index) if frame.index.name == "asset_id" else None
    shown = screen_frame(frame, t)
    money_signs = {}
    for column in (MONEY_COLUMNS & set(shown.columns)) if currency else ():
        money_signs[column] = shown[column].copy()
        shown[column] = [_signed_money(t, v, currency, column in SIGNED_MONEY) for v in shown[column]]
    for column in PRICE_COLUMNS & set(shown.columns):  # 128,450원 beside 16.48달러, never one number format
        owners = per_row or [asset_id] * len(shown)
        if owners[0] is not None and all(catalog.known(str(a)) for a in set(owners)):
            by_asset = {a: t.price_format(str(a)) for a in set(owners)}
            shown[column] = [by_asset[a](float(v)) if pd.notna(v) else "" for v, a in zip(shown[column], owners,
                                                                                         strict=True)]  # fmt: skip
    codes = [str(c) for c in shown.columns]
    shown.columns = [_header(c, t) for c in codes]
    index_name = shown.index.name
    if isinstance(shown.index, pd.DatetimeIndex):
        shown.index = pd.Index([t.date(d) for d in shown.index])
    shown.index.name = t(f"col.{index_name}") if index_name else None
    numbers = shown.copy()
    formats, signed = {}, []
    for code, column in zip(codes, shown.columns, strict=True):
        series = shown[column]
        decimals = DECIMALS.get(code, 2)
        if code in SIGNED:
            signed.append(column)
        if pd.api.types.is_bool_dtype(series):
            continue
        if code in SIGNED and code != "sharpe" and pd.api.types.is_numeric_dtype(series):
            shown[column] = [t.pct(v) if pd.notna(v) else "" for v in series]  # +1.76%, with its sign
            continue
        if pd.api.types.is_numeric_dtype(series) and series.notna().all():
            formats[column] = lambda v, d=decimals: _number(v, d, t)
            continue
        values = series.dropna()
        timed = pd.api.types.is_datetime64_any_dtype(series) and bool((values != values.dt.normalize()).any())
        shown[column] = [_display(v, t, decimals, timed) for v in series.astype(object)]
    style = shown.style.format(formats)
    if signed:
        style = style.apply(lambda col: [_color(v, t) for v in numbers[col.name]], subset=signed)
    gains = {column: money_signs[code] for code, column in zip(codes, shown.columns, strict=True)
             if code in money_signs and code in SIGNED_MONEY}  # fmt: skip
    if gains:
        style = style.apply(lambda col: [_color(v, t) for v in gains[col.name]], subset=list(gains))
    return style


def _signed_money(t: Translator, value: object, currency: str, signed: bool) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = t.money(float(value), currency)
    return f"+{text}" if signed and round(float(value), 2) > 0 else text


def _color(value: object, t: Translator) -> str:
    if not isinstance(value, int | float) or pd.isna(value):
        return ""
    return f"color: {t.change_color(round(value, 2) + 0.0)}"  # as shown: -2e-14 is 0.00, not a fall
