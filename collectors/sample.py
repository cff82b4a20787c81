"""Deterministic sample bars for a fresh clone with no keys and no network. Not real prices, and labelled so.

Calendar-day factor shocks are drawn once for a fixed horizon from a fixed seed, so a bar's value never depends on
the day the sample was built. Each asset trades on its own calendar; the shocks of days its market was closed
accumulate into its next session, as real prices do. Korean stocks load on the US semiconductor shock of the day
before (a US session closes after KRX's), SOXL compounds three times a semiconductor index each session, gold and
silver share a metals factor, Bitcoin is mostly on its own. Start and 2025-12-31 levels are pinned near real ones.
USD/KRW is the real ECB history.

The same bars up to SHIPPED_END ship ready-made in `sample_bars.parquet` (built by `ship()`, tested to equal what
the generator gives): a newcomer's first page loads them instead of generating and converting ~25,000 bars, and
only the days after SHIPPED_END are generated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from collectors.ecb import EcbFxCollector
from marketdash.domain import calendars
from marketdash.domain.catalog import Asset
from marketdash.domain.records import BAR_COLUMNS, DailyBar, Dividend, bars_to_frame

SOURCE = "sample"
SHIPPED = Path(__file__).with_name("sample_bars.parquet")
SHIPPED_END = dt.date(2026, 12, 3)  # the last day in SHIPPED; refresh both with ship()
SEED = 20150101
SAMPLE_START = dt.date(2015, 1, 1)
_HORIZON_END = dt.date(2045, 12, 31)
_ANCHOR = pd.Timestamp("2025-12-31")
_FACTORS = ("kr", "semi", "metal", "btc")


@dataclass(frozen=True)
class _Model:
    loadings: dict[str, float]  # factor -> weight; "semi_lag" is the previous day's semiconductor shock
    idio: float
    annual_vol: float
    start_level: float
    anchor_level: float
    volume: float
    leverage: float = 1.0


_MODELS = {
    "kospi200": _Model({"kr": 0.8, "semi_lag": 0.45}, 0.2, 0.17, 245.0, 560.0, 90e6),
    "samsung": _Model({"kr": 0.6, "semi_lag": 0.55}, 0.5, 0.27, 26_500.0, 118_000.0, 15e6),
    "skhynix": _Model({"kr": 0.5, "semi_lag": 0.65}, 0.55, 0.40, 46_000.0, 640_000.0, 3e6),
    "soxl": _Model({"semi": 0.95}, 0.3, 0.30, 4.5, 42.0, 60e6, leverage=3.0),
    "btc": _Model({"semi": 0.15, "btc": 0.98}, 0.0, 0.60, 350_000.0, 130_000_000.0, 3_000.0),
    "gold": _Model({"metal": 0.9}, 0.35, 0.15, 1_185.0, 4_330.0, 200e3),
    "silver": _Model({"metal": 0.8}, 0.55, 0.27, 15.7, 70.0, 60e3),
}


@lru_cache(maxsize=1)
def _shocks() -> tuple[pd.DatetimeIndex, dict[str, np.ndarray]]:
    """Unit-variance calendar-day shocks: common factors plus one idiosyncratic and one OHLC stream per asset."""
    days = pd.date_range(SAMPLE_START, _HORIZON_END, freq="D")
    rng = np.random.default_rng(SEED)
    common = rng.standard_normal((len(days), len(_FACTORS)))
    own = rng.standard_normal((len(days), len(_MODELS), 5))
    out = {name: common[:, i] for i, name in enumerate(_FACTORS)}
    out["semi_lag"] = np.concatenate([[0.0], common[:-1, _FACTORS.index("semi")]])
    for j, asset_id in enumerate(_MODELS):
        out[f"idio:{asset_id}"] = own[:, j, 0]
        out[f"ohlc:{asset_id}"] = own[:, j, 1:]
    return days, out


def _closes(asset_id: str, session_dates: pd.DatetimeIndex) -> np.ndarray:
    model = _MODELS[asset_id]
    days, shocks = _shocks()
    mix = sum(w * shocks[f] for f, w in model.loadings.items()) + model.idio * shocks[f"idio:{asset_id}"]
    norm = np.sqrt(sum(w * w for w in model.loadings.values()) + model.idio**2)
    daily = mix / norm * model.annual_vol / np.sqrt(365.0)
    path = pd.Series(np.cumsum(daily), index=days)
    at_sessions = path.reindex(session_dates).to_numpy()
    session_returns = np.diff(at_sessions, prepend=0.0)
    if model.leverage != 1.0:  # a daily-reset leveraged fund compounds `leverage` times each session's move
        session_returns = np.log1p(np.maximum(model.leverage * np.expm1(session_returns), -0.95))
    log_level = np.cumsum(session_returns)
    # Pin the start and the anchor date near real levels with a constant drift; returns keep their shape.
    anchor_idx = int(np.searchsorted(session_dates, _ANCHOR, side="right")) - 1  # the last session on or before it
    t = (session_dates - session_dates[0]).days.to_numpy(dtype=float)
    t_anchor = max(t[anchor_idx], 1.0)
    target = np.log(model.anchor_level / model.start_level)
    drift = (target - (log_level[anchor_idx] - log_level[0])) / t_anchor
    return model.start_level * np.exp(log_level - log_level[0] + drift * t)


def sample_bars(asset: Asset, start: dt.date, end: dt.date) -> list[DailyBar]:
    """The asset's sample bars on its own trading days in [start, end]; the same values on every run."""
    if asset.id not in _MODELS:
        raise KeyError(asset.id)
    # Always through the anchor date, so the pinned drift (and every value) is the same whatever `end` is.
    last = min(max(end, _ANCHOR.date()), _HORIZON_END)
    all_sessions = calendars.sessions(asset.calendar, SAMPLE_START, last)
    model = _MODELS[asset.id]
    days, shocks = _shocks()
    close = _closes(asset.id, all_sessions)
    noise = shocks[f"ohlc:{asset.id}"][days.get_indexer(all_sessions)]
    session_vol = model.annual_vol * model.leverage / np.sqrt(asset.periods_per_year)
    prev_close = np.concatenate([[close[0]], close[:-1]])
    gap = 0.0 if asset.calendar == "24/7" else 0.25 * session_vol * noise[:, 0]
    opens = prev_close * np.exp(gap)
    high = np.maximum(opens, close) * np.exp(0.4 * session_vol * np.abs(noise[:, 1]))
    low = np.minimum(opens, close) * np.exp(-0.4 * session_vol * np.abs(noise[:, 2]))
    volume = np.round(model.volume * np.exp(0.35 * noise[:, 3]))
    d = asset.decimals
    o, h, lo, c = (np.round(x, d) for x in (opens, high, low, close))
    h, lo = np.maximum.reduce([h, o, c]), np.minimum.reduce([lo, o, c])
    keep = (all_sessions >= pd.Timestamp(start)) & (all_sessions <= pd.Timestamp(end))
    return [
        DailyBar(asset.id, ts.date(), float(o[i]), float(h[i]), float(lo[i]), float(c[i]), float(volume[i]),
                 asset.currency, SOURCE)
        for i, ts in enumerate(all_sessions) if keep[i]
    ]  # fmt: skip


# The sample's dividend payers (per share, gross, in the asset's currency), shaped like their real schedules: record
# date -> amount. 삼성전자: quarterly at the quarter ends (per share after its 2018 50:1 split); SK하이닉스: yearly,
# then quarterly from 2021; SOXL: small quarterly distributions. Not real amounts, and labelled as sample.
def _samsung(year: int, quarter: int) -> float:
    if year <= 2017:
        return (420.0 if year < 2017 else 850.0) if quarter == 4 else 20.0
    if year <= 2020:
        return 1_932.0 if (year, quarter) == (2020, 4) else 354.0  # 2020's year-end special dividend
    return 361.0


def _skhynix(year: int, quarter: int) -> float:
    if year <= 2020:
        return {2015: 500.0, 2016: 600.0, 2017: 1_000.0, 2018: 1_500.0}.get(year, 1_000.0) if quarter == 4 else 0.0
    return 300.0 + (1_200.0 if (year, quarter) == (2024, 4) else 0.0)


def _soxl(year: int, quarter: int) -> float:
    return round(0.005 + 0.004 * ((year * 4 + quarter) % 7), 5)


_PAYERS = {"samsung": _samsung, "skhynix": _skhynix, "soxl": _soxl}
_PAID_AFTER = {"XKRX": (47, 107), "XNYS": (7, 7)}  # days from the record date to the pay date (quarter, year end)
_US_T1 = dt.date(2024, 5, 28)  # US ex-date = record date from then on (T+1); the session before it under T+2


def _record_dates(asset: Asset, year: int) -> list[tuple[int, dt.date]]:
    """(quarter, record date): KRX at the quarter ends, SOXL on the Tuesday before the last week of the quarter."""
    if asset.calendar == "XKRX":
        return [(q, dt.date(year, 3 * q, 1) + pd.offsets.MonthEnd(0)) for q in (1, 2, 3, 4)]
    out = []
    for q in (1, 2, 3, 4):
        day = dt.date(year, 3 * q, 20)
        out.append((q, day - dt.timedelta(days=(day.weekday() - 1) % 7)))
    return out


def sample_dividends(asset: Asset, end: dt.date) -> list[Dividend]:
    """The sample's cash dividends of an asset with a record date from SAMPLE_START through `end`, every one fixed,
    each paid on the first session on or after its pay day (KRX ex-dates are left to the T+2 rule of the caller;
    US ones follow the US rule). The same values on every run; none for an asset that pays nothing."""
    amount_of = _PAYERS.get(asset.id)
    if amount_of is None:
        return []
    sessions = calendars.sessions(asset.calendar, SAMPLE_START - dt.timedelta(days=10), _HORIZON_END)
    out = []
    for year in range(SAMPLE_START.year, end.year + 1):
        for quarter, record in _record_dates(asset, year):
            record = pd.Timestamp(record).date()
            amount = amount_of(year, quarter)
            if record > end or amount <= 0:
                continue
            quarter_days, year_end_days = _PAID_AFTER[asset.calendar]
            due = pd.Timestamp(record + dt.timedelta(days=year_end_days if quarter == 4 else quarter_days))
            pay = sessions[sessions.searchsorted(due)].date()
            ex = None
            if asset.calendar == "XNYS":
                ex = record if record >= _US_T1 else sessions[sessions.searchsorted(pd.Timestamp(record)) - 1].date()
            kind = ("final" if quarter == 4 else "quarterly") if asset.calendar == "XKRX" else "cash"
            out.append(Dividend(asset.id, record, ex, pay, amount, asset.currency, kind, True, SOURCE))
    return out


class SampleCollector:
    """Same interface as the live collectors; USD/KRW comes from the real ECB history."""

    source = SOURCE

    def pages(self, asset: Asset, start: dt.date, end: dt.date) -> Iterator[list[DailyBar]]:
        if asset.id in _MODELS:
            yield sample_bars(asset, start, end)
        else:
            yield from EcbFxCollector().pages(asset, start, end)


def generated(assets: list[Asset], start: dt.date, end: dt.date) -> pd.DataFrame:
    """Every asset's sample bars in [start, end] from the generator (and the ECB history), as one frame."""
    sampler = SampleCollector()
    return bars_to_frame([b for asset in assets for page in sampler.pages(asset, start, end) for b in page])


@lru_cache(maxsize=1)
def _shipped() -> pd.DataFrame:
    return pd.read_parquet(SHIPPED)


def sample_frame(asset: Asset, after: dt.date | None, end: dt.date) -> pd.DataFrame:
    """The asset's sample bars after `after` (None: from the start) through `end`: the shipped ones, then those
    generated past SHIPPED_END."""
    first = SAMPLE_START if after is None else after + dt.timedelta(days=1)
    shipped = _shipped()
    mine = shipped[(shipped["asset_id"] == asset.id) & (shipped["date"] >= pd.Timestamp(first))
                   & (shipped["date"] <= pd.Timestamp(min(end, SHIPPED_END)))]  # fmt: skip
    if end <= SHIPPED_END:
        return mine.reset_index(drop=True)
    tail = generated([asset], max(first, SHIPPED_END + dt.timedelta(days=1)), end)
    return pd.concat([mine, tail], ignore_index=True) if len(mine) else tail


def ship(assets: list[Asset], end: dt.date = SHIPPED_END, path: Path = SHIPPED) -> Path:
    """Write the shipped sample: every asset's bars from SAMPLE_START through `end` (then set SHIPPED_END)."""
    frame = generated(assets, SAMPLE_START, end)[list(BAR_COLUMNS)]
    prices = ["open", "high", "low", "close", "volume"]  # byte-stream split packs random floats 25 % tighter
    frame.to_parquet(path, index=False, compression="zstd", compression_level=19, use_byte_stream_split=prices,
                     use_dictionary=["asset_id", "currency", "source"])  # fmt: skip
    return path
