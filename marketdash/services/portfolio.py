"""Portfolios for the page and the command line: the bars, dividends and USD/KRW the engine needs, read once for
every portfolio and the benchmark (the store's, or the sample's where the page would show sample data), all run
from one effective start so that they compare."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from marketdash.analysis.portfolio import breakdown, engine, timeline
from marketdash.analysis.portfolio.plan import Plan, check
from marketdash.domain import catalog
from marketdash.domain.i18n import Msg, Name, msg
from marketdash.services.market import MarketService, PriceData

BENCHMARK = "bench"
LATE_START_SLACK = dt.timedelta(days=7)  # a start moved by a long holiday is not worth a sentence


@dataclass(frozen=True)
class Comparison:
    """The runs by name (`p1`…, and `bench`), what is said about them, and where their prices came from."""

    runs: dict[str, breakdown.Measured]
    notes: list[Msg] = field(default_factory=list)
    data: PriceData | None = None

    @property
    def start(self) -> dt.date:
        return next(iter(self.runs.values())).backtest.start


def benchmark_plan(plan: Plan, asset_id: str) -> Plan:
    """The benchmark: the same money in and out in one asset, bought and held, with the same costs."""
    return dataclasses.replace(plan, weights={asset_id: 100.0}, rebalance="none")


def asset_ids(plans: Mapping[str, Plan], benchmark: str | None) -> list[str]:
    """Every asset the portfolios and the benchmark hold (weighted above 0), once each."""
    held = [a for plan in plans.values() for a in plan.active().assets]
    return list(dict.fromkeys(held + ([benchmark] if benchmark else [])))


Runner = Callable[[Plan, pd.DataFrame, pd.DataFrame | None, pd.DataFrame], breakdown.Measured]


def runner(rf_pct: float = 0.0) -> Runner:
    """Run a plan and measure it (Sharpe and Sortino less `rf_pct` a year)."""

    def run(plan: Plan, bars: pd.DataFrame, fx: pd.DataFrame | None, dividends: pd.DataFrame) -> breakdown.Measured:
        return breakdown.measure(engine.run(plan, bars, fx, dividends), rf_pct)

    return run


def compare(
    service: MarketService,
    plans: Mapping[str, Plan],
    benchmark: str | None = None,
    *,
    data: PriceData | None = None,
    fx: pd.DataFrame | None = None,
    run: Runner | None = None,
) -> Comparison:
    """Run every plan (they share their dates, money, currency and costs) and the benchmark from the first day all
    of their assets have bars. The bars are the page's (`data`, else loaded here: the store's, the sample's where
    the store has none); a page passes the USD/KRW (`fx`) it already loaded, and a `run` that remembers each plan's
    results (a changed weight runs that portfolio again, not the benchmark)."""
    notes: list[Msg] = []
    for name, plan in plans.items():
        notes += [msg("pf.note_for", name=msg("pf.name", n=name[1:]), note=n) for n in check(plan)]
    first = next(iter(plans.values()))
    runs = {**plans, **({BENCHMARK: benchmark_plan(first, benchmark)} if benchmark else {})}
    ids = asset_ids(plans, benchmark)
    data = data if data is not None else service.load(ids, first.start, first.end)
    bars = data.bars
    end, moved = timeline.run_end(bars, ids, first.end)
    notes += moved
    start = max(timeline.effective_start(bars, p.active().assets, p.start, end) for p in runs.values())
    late = _late_starters(bars, ids, first.start)
    if late and start > (first.start or start) + LATE_START_SLACK:
        notes.append(msg("pf.start_moved", day=start, names=[Name(a) for a in late]))
    needs_fx = any(catalog.get(a).currency != first.currency for a in ids) or first.costs.tax
    if needs_fx and fx is None:
        fx = service.usd_krw(start - dt.timedelta(days=14), first.end)
    run = run or runner()
    done = {name: run(dataclasses.replace(plan, start=start, end=end), bars, fx, data.dividends)
            for name, plan in runs.items()}  # fmt: skip
    return Comparison(done, notes + _merged([n for m in done.values() for n in m.backtest.notes]), data)


def _merged(notes: list[Msg]) -> list[Msg]:
    """Each run's notes once: the same note of two runs is said once, and a stale USD/KRW said of several runs'
    assets is one sentence naming them all."""
    out: list[Msg] = []
    stale = [n for n in notes if n.key == "pf.note_fx_stale"]
    if stale:
        names = list(dict.fromkeys(name for n in stale for name in n.params["names"]))
        since = min(n.params["since"] for n in stale)
        out.append(msg("pf.note_fx_stale", day=stale[0].params["day"], names=names, since=since))
    for note in notes:
        if note.key != "pf.note_fx_stale" and note not in out:
            out.append(note)
    return out


def _late_starters(bars: pd.DataFrame, ids: list[str], start: dt.date | None) -> list[str]:
    """The assets whose bars begin more than a week after the asked-for start (the reason a start moves)."""
    if start is None:
        return []
    firsts = bars.groupby("asset_id")["date"].min()
    return [a for a in ids if a in firsts and firsts[a] > pd.Timestamp(start + LATE_START_SLACK)]
