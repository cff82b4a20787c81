"""What a portfolio backtest is asked to do (SPEC.md, "Portfolio"): the weights, the money in and when, the
rebalancing rule, the currency and the costs, checked once so that the engine never meets a plan it cannot run.

Every refusal is a PlanError whose `msg` is one sentence in the reader's language.
"""

from __future__ import annotations

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
REBALANCE = ("none", "monthly", "quarterly", "semiannual", "yearly", "bands", "cashflow")
CURRENCIES = ("KRW", "USD")
VENUES = ("krx", "us", "coin")
DIVIDENDS = ("reinvest", "cash", "none")
WITHDRAW_EVERY = ("none", "monthly", "yearly")
# A sensible lump sum and monthly amount in each currency (10,000,000원 is not 10,000,000 dollars).
DEFAULT_MONEY = {"KRW": (10_000_000.0, 500_000.0), "USD": (10_000.0, 500.0)}
DEFAULT_INITIAL = DEFAULT_MONEY["KRW"][0]
DEFAULT_BANDS = (5.0, 25.0)  # %p absolute, % relative (Portfolio Visualizer's stored default, Swedroe's 5/25)
MAX_ASSETS = 20
MAX_WEIGHT = 1_000_000.0  # % each: anything larger is a typing accident, not a portfolio
MAX_MONEY = 1e15  # in the portfolio's currency: a thousand trillion won is not an amount anyone backtests


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
    tax: bool = False  # 증권거래세, 해외주식 양도소득세, and the withholding on dividends

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
    weekday: int = 0  # weekly: Monday 0 .. Sunday 6 (a coin trades on weekends)
    amount: float = 0.0
    rebalance: str = "none"
    bands: tuple[float, float] = DEFAULT_BANDS
    currency: str = "KRW"
    costs: Costs = field(default_factory=Costs)
    whole_shares: bool = False
    dividends: str = "reinvest"
    withdraw: float = 0.0  # taken out on each withdrawal day, in the portfolio's currency
    withdraw_every: str = "none"  # "monthly" or "yearly", from `withdraw_from` on
    withdraw_from: dt.date | None = None
    flows: tuple[tuple[dt.date, float], ...] = ()  # dated one-off amounts: in (+) or out (-)

    @property
    def assets(self) -> list[str]:
        return list(self.weights)

    def targets(self) -> np.ndarray:
        """The target weights as fractions that add to 1, in the order of `assets`."""
        w = np.array([float(v) for v in self.weights.values()])
        return w / w.sum()

    def active(self) -> Plan:
        """The plan without its 0-weight assets: they move no date and hold nothing."""
        kept = {a: w for a, w in self.weights.items() if w > 0}
        return self if len(kept) == len(self.weights) else dataclasses.replace(self, weights=kept)


def _money(value: float) -> bool:
    return math.isfinite(value) and 0 <= value <= MAX_MONEY


def check(plan: Plan) -> list[Msg]:
    """Refuse a plan the engine cannot run (PlanError); return what is said about one it runs differently from
    how it was asked (0-weight assets left out, weights scaled to 100 %)."""
    notes = []
    if not plan.weights:
        raise PlanError(msg("pf.err_no_assets"))
    if len(plan.weights) > MAX_ASSETS:
        raise PlanError(msg("pf.err_too_many", n=MAX_ASSETS))
    for asset_id, weight in plan.weights.items():
        if not math.isfinite(weight) or weight < 0:
            raise PlanError(msg("pf.err_negative", asset=Name(asset_id), weight=f"{weight:g}"))
        if weight > MAX_WEIGHT:
            raise PlanError(msg("pf.err_weight_large", asset=Name(asset_id), weight=f"{weight:g}"))
    total = sum(plan.weights.values())
    if total <= 0:
        raise PlanError(msg("pf.err_zero_weights"))
    zero = [a for a, w in plan.weights.items() if w == 0]
    if zero:
        notes.append(msg("pf.zero_dropped", names=[Name(a) for a in zero]))
    if abs(total - 100) > 1e-9:
        notes.append(msg("pf.scaled", total=f"{total:,.4g}"))
    for asset_id in plan.weights:
        currency = catalog.get(asset_id).currency
        if currency not in CURRENCIES:
            raise PlanError(msg("pf.err_currency", asset=Name(asset_id), currency=currency))
    if (plan.every not in EVERY or plan.rebalance not in REBALANCE or plan.currency not in CURRENCIES
            or plan.dividends not in DIVIDENDS or plan.withdraw_every not in WITHDRAW_EVERY):  # fmt: skip
        raise PlanError(msg("pf.err_option", every=plan.every, rebalance=plan.rebalance, currency=plan.currency))
    if not all(_money(v) for v in (plan.initial, plan.amount, plan.withdraw)) or not all(
        math.isfinite(a) and 0 < abs(a) <= MAX_MONEY for _, a in plan.flows
    ):
        raise PlanError(msg("pf.err_negative_money"))
    money_in = plan.initial > 0 or (plan.every != "none" and plan.amount > 0) or any(a > 0 for _, a in plan.flows)
    if not money_in:
        raise PlanError(msg("pf.err_no_money"))
    if plan.every == "monthly" and not 1 <= plan.day <= 31:
        raise PlanError(msg("pf.err_day", day=plan.day))
    if plan.every == "weekly" and not 0 <= plan.weekday <= 6:
        raise PlanError(msg("pf.err_weekday", day=plan.weekday))
    if plan.start and plan.end and plan.end < plan.start:
        raise PlanError(msg("pf.err_end_before_start", start=plan.start, end=plan.end))
    if plan.rebalance == "bands" and not (all(map(math.isfinite, plan.bands)) and min(plan.bands) > 0
                                          and max(plan.bands) <= 100):  # fmt: skip
        raise PlanError(msg("pf.err_band", absolute=f"{plan.bands[0]:g}", relative=f"{plan.bands[1]:g}"))
    costs = plan.costs
    for venue, fee in costs.fees.items():
        if venue not in VENUES or not math.isfinite(fee) or not 0 <= fee < 100:
            raise PlanError(msg("pf.err_fee", venue=venue, fee=f"{fee:g}"))
    if not (0 <= costs.fx_spread < 100 and 0 <= costs.fx_discount <= 100):
        raise PlanError(msg("pf.err_spread", spread=f"{costs.fx_spread:g}", discount=f"{costs.fx_discount:g}"))
    return notes


def hundredths(shares: Mapping[str, float]) -> dict[str, float]:
    """Positive shares as % rounded to 0.01 %p that add to exactly 100.00: the largest remainders get the spare
    hundredths (rounding each one alone left 99.99 % and a "scaled" note)."""
    total = sum(shares.values())
    exact = {a: v / total * 10000 for a, v in shares.items()}
    cents = {a: math.floor(v) for a, v in exact.items()}
    spare = 10000 - sum(cents.values())
    for a in sorted(exact, key=lambda a: cents[a] - exact[a])[:spare]:
        cents[a] += 1
    return {a: c / 100 for a, c in cents.items()}


def equal_weights(asset_ids: list[str]) -> dict[str, float]:
    """동일 비중: 100 % split evenly, in hundredths that add to 100."""
    return hundredths(dict.fromkeys(asset_ids, 1.0)) if asset_ids else {}


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
    return hundredths({a: inverse.get(a, mean) for a in closes.columns}), short


def to_json(runs: Mapping[str, Plan], benchmark: str | None) -> str:
    """Plans and a benchmark as one text (a cache key: the same for the same portfolio link)."""

    def plain(plan: Plan) -> dict:
        out = dataclasses.asdict(plan)
        out["start"], out["end"], out["withdraw_from"] = _iso(plan.start), _iso(plan.end), _iso(plan.withdraw_from)
        out["flows"] = [[_iso(d), a] for d, a in plan.flows]
        return out

    return json.dumps({"plans": {n: plain(p) for n, p in runs.items()}, "bench": benchmark}, sort_keys=True)


def from_json(text: str) -> tuple[dict[str, Plan], str | None]:
    data = json.loads(text)

    def plan(d: dict) -> Plan:
        return Plan(**{**d, "start": _day(d["start"]), "end": _day(d["end"]), "bands": tuple(d["bands"]),
                       "costs": Costs(**d["costs"]), "withdraw_from": _day(d["withdraw_from"]),
                       "flows": tuple((_day(day), a) for day, a in d["flows"])})  # fmt: skip

    return {n: plan(d) for n, d in data["plans"].items()}, data["bench"]


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _day(text: str | None) -> dt.date | None:
    return None if text is None else dt.date.fromisoformat(text)
