"""What a portfolio backtest is asked to do (SPEC.md, "Portfolio"): the weights, the money in and when, the
rebalancing rule, the currency and the costs, checked once so that the engine never meets a plan it cannot run.

Every refusal is a PlanError whose `msg` is one sentence in the reader's language.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from marketdash.domain import catalog
from marketdash.domain.i18n import Msg, Name, msg

EVERY = ("none", "monthly", "weekly")
REBALANCE = ("none", "monthly", "quarterly", "yearly", "bands", "cashflow")
CURRENCIES = ("KRW", "USD")
VENUES = ("krx", "us", "coin")
DEFAULT_INITIAL = 10_000_000.0
DEFAULT_BANDS = (5.0, 25.0)  # %p absolute, % relative (Portfolio Visualizer's stored default, Swedroe's 5/25)
MAX_ASSETS = 20


class PlanError(ValueError):
    """A plan the engine cannot run; `msg` says why in one sentence."""

    def __init__(self, message: Msg) -> None:
        super().__init__(str(message))
        self.msg = message


@dataclass(frozen=True)
class Costs:
    """All percentages; all zero by default (results are then said to be before costs and taxes)."""

    fees: Mapping[str, float] = field(default_factory=dict)  # venue ("krx", "us", "coin") -> % of each trade
    fx_spread: float = 0.0  # % of the fixing on every KRW<->USD conversion
    fx_discount: float = 0.0  # 우대율, % of the spread waived
    tax: bool = False  # KRX 증권거래세 on sells, 해외주식 양도소득세 on each year's realised gains

    @property
    def none(self) -> bool:
        return not any(self.fees.values()) and not self.fx_spread and not self.tax

    @property
    def spread(self) -> float:
        """The fraction a conversion moves the rate by: spread x (1 - discount)."""
        return self.fx_spread / 100 * (1 - self.fx_discount / 100)


@dataclass(frozen=True)
class Plan:
    weights: Mapping[str, float]  # asset id -> weight in % (scaled to 100 when they add to something else)
    start: dt.date | None = None
    end: dt.date | None = None
    initial: float = DEFAULT_INITIAL
    every: str = "none"
    day: int = 1  # monthly: the day of the month (a day the month lacks is its last day)
    weekday: int = 0  # weekly: Monday 0 .. Friday 4
    amount: float = 0.0
    rebalance: str = "none"
    bands: tuple[float, float] = DEFAULT_BANDS
    currency: str = "KRW"
    costs: Costs = field(default_factory=Costs)
    whole_shares: bool = False

    @property
    def assets(self) -> list[str]:
        return list(self.weights)

    def targets(self) -> np.ndarray:
        """The target weights as fractions that add to 1, in the order of `assets`."""
        w = np.array([float(v) for v in self.weights.values()])
        return w / w.sum()


def check(plan: Plan) -> list[Msg]:
    """Refuse a plan the engine cannot run (PlanError); return what is said about one it runs differently from
    how it was asked (weights scaled to 100 %)."""
    notes = []
    if not plan.weights:
        raise PlanError(msg("pf.err_no_assets"))
    if len(plan.weights) > MAX_ASSETS:
        raise PlanError(msg("pf.err_too_many", n=MAX_ASSETS))
    for asset_id, weight in plan.weights.items():
        if not math.isfinite(weight) or weight < 0:
            raise PlanError(msg("pf.err_negative", asset=Name(asset_id), weight=f"{weight:g}"))
    total = sum(plan.weights.values())
    if total <= 0:
        raise PlanError(msg("pf.err_zero_weights"))
    if abs(total - 100) > 1e-9:
        notes.append(msg("pf.scaled", total=f"{total:,.4g}"))
    for asset_id in plan.weights:
        currency = catalog.get(asset_id).currency
        if currency not in CURRENCIES:
            raise PlanError(msg("pf.err_currency", asset=Name(asset_id), currency=currency))
    if plan.every not in EVERY or plan.rebalance not in REBALANCE or plan.currency not in CURRENCIES:
        raise PlanError(msg("pf.err_option", every=plan.every, rebalance=plan.rebalance, currency=plan.currency))
    if not (math.isfinite(plan.initial) and plan.initial >= 0 and math.isfinite(plan.amount) and plan.amount >= 0):
        raise PlanError(msg("pf.err_negative_money"))
    flows = plan.every != "none" and plan.amount > 0
    if plan.initial <= 0 and not flows:
        raise PlanError(msg("pf.err_no_money"))
    if plan.every == "monthly" and not 1 <= plan.day <= 31:
        raise PlanError(msg("pf.err_day", day=plan.day))
    if plan.every == "weekly" and not 0 <= plan.weekday <= 4:
        raise PlanError(msg("pf.err_weekday", day=plan.weekday))
    if plan.start and plan.end and plan.end < plan.start:
        raise PlanError(msg("pf.err_end_before_start", start=plan.start, end=plan.end))
    if plan.rebalance == "bands" and (min(plan.bands) <= 0 or not all(map(math.isfinite, plan.bands))):
        raise PlanError(msg("pf.err_band", absolute=f"{plan.bands[0]:g}", relative=f"{plan.bands[1]:g}"))
    costs = plan.costs
    for venue, fee in costs.fees.items():
        if venue not in VENUES or not math.isfinite(fee) or not 0 <= fee < 100:
            raise PlanError(msg("pf.err_fee", venue=venue, fee=f"{fee:g}"))
    if not (0 <= costs.fx_spread < 100 and 0 <= costs.fx_discount <= 100):
        raise PlanError(msg("pf.err_spread", spread=f"{costs.fx_spread:g}", discount=f"{costs.fx_discount:g}"))
    return notes


def contribution_dates(plan: Plan, start: dt.date, end: dt.date) -> list[dt.date]:
    """The days money is due after `start` and up to `end`: day N of every month (a day the month lacks is its
    last day), or every given weekday."""
    if plan.every == "none" or plan.amount <= 0:
        return []
    if plan.every == "weekly":
        first = start + dt.timedelta(days=(plan.weekday - start.weekday()) % 7 or 7)
        return [d.date() for d in pd.date_range(first, end, freq="7D")]
    out, year, month = [], start.year, start.month
    while True:
        day = dt.date(year, month, min(plan.day, calendar.monthrange(year, month)[1]))
        if day > end:
            return out
        if day > start:
            out.append(day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


_MONTHS = {"monthly": 1, "quarterly": 3, "yearly": 12}


def rebalance_dates(rule: str, start: dt.date, end: dt.date) -> list[dt.date]:
    """Calendar rebalancing: the first day of each month, quarter (Jan, Apr, Jul, Oct) or year after `start`."""
    step = _MONTHS.get(rule)
    if step is None:
        return []
    out, year, month = [], start.year, start.month
    while True:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        if (month - 1) % step:
            continue
        day = dt.date(year, month, 1)
        if day > end:
            return out
        out.append(day)


def equal_weights(asset_ids: list[str]) -> dict[str, float]:
    """동일 비중: 100 % split evenly (rounded to 0.01 %p, the remainder on the first)."""
    if not asset_ids:
        return {}
    each = math.floor(10000 / len(asset_ids)) / 100
    weights = dict.fromkeys(asset_ids, each)
    weights[asset_ids[0]] = round(100 - each * (len(asset_ids) - 1), 2)
    return weights


MIN_VOL_RETURNS = 20  # daily returns an asset needs in the year before the start for its volatility to count


def inverse_volatility(closes: pd.DataFrame, start: dt.date) -> tuple[dict[str, float], list[str]]:
    """역변동성: weights in proportion to 1 / the volatility of each asset's daily log returns over the year before
    `start` (each on its own trading days). Assets with fewer than MIN_VOL_RETURNS returns there get the mean of
    the others' weights (returned as the second value, for the page to name); with none, equal weights."""
    year = closes.loc[pd.Timestamp(start - dt.timedelta(days=365)) : pd.Timestamp(start - dt.timedelta(days=1))]
    inverse, short = {}, []
    for asset_id in closes.columns:
        returns = np.log(year[asset_id].dropna()).diff().dropna()
        vol = float(returns.std(ddof=1)) if len(returns) >= MIN_VOL_RETURNS else math.nan
        if math.isfinite(vol) and vol > 0:
            inverse[asset_id] = 1 / vol
        else:
            short.append(asset_id)
    if not inverse:
        return equal_weights(list(closes.columns)), short
    mean = sum(inverse.values()) / len(inverse)
    raw = {a: inverse.get(a, mean) for a in closes.columns}
    total = sum(raw.values())
    return {a: round(v / total * 100, 2) for a, v in raw.items()}, short


def to_json(runs: Mapping[str, Plan], benchmark: str | None) -> str:
    """Plans and a benchmark as one text (a cache key: the same for the same portfolio link)."""

    def plain(plan: Plan) -> dict:
        out = dataclasses.asdict(plan)
        out["start"], out["end"] = _iso(plan.start), _iso(plan.end)
        return out

    return json.dumps({"plans": {n: plain(p) for n, p in runs.items()}, "bench": benchmark}, sort_keys=True)


def from_json(text: str) -> tuple[dict[str, Plan], str | None]:
    data = json.loads(text)

    def plan(d: dict) -> Plan:
        return Plan(**{**d, "start": _day(d["start"]), "end": _day(d["end"]), "bands": tuple(d["bands"]),
                       "costs": Costs(**d["costs"])})  # fmt: skip

    return {n: plan(d) for n, d in data["plans"].items()}, data["bench"]


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _day(text: str | None) -> dt.date | None:
    return None if text is None else dt.date.fromisoformat(text)
