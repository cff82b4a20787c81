"""`python -m marketdash portfolio`: the Portfolio page's engine on the command line.

One portfolio writes values.csv, trades.csv, stats.csv and notes.txt into --out; several (--weights given more than
once) and a --benchmark write one folder each (p1/, p2/, bench/) and stats.csv with every run side by side. The
bars are the page's: the store's, the sample's where the store has none (said on stderr, in notes.txt and in
stats.csv's `data` row). Every bad input is one sentence and exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pandas as pd

from marketdash.analysis.portfolio.plan import (
    CURRENCIES,
    DEFAULT_MONEY,
    DIVIDENDS,
    EVERY,
    REBALANCE,
    WITHDRAW_EVERY,
    Costs,
    Plan,
    PlanError,
)
from marketdash.cli.common import date_arg, pairs, resolve_ids
from marketdash.domain import catalog
from marketdash.domain.csvfiles import csv_bytes, stat_text
from marketdash.domain.i18n import Translator
from marketdash.services import portfolio as portfolios
from marketdash.services.market import MarketService

MAX_PORTFOLIOS = 10


class ArgumentsError(ValueError):
    """Arguments the command cannot use (bands that are not two numbers, an --out it cannot write): one sentence."""


def _flow(text: str) -> tuple:
    """'2023-01-02=-2000000' -> (date, amount): a dated one-off amount in (+) or out (-)."""
    day, eq, amount = text.partition("=")
    try:
        value = float(amount)
        if not eq or value == 0 or value != value or abs(value) == float("inf"):
            raise ValueError
        return date_arg(day), value
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f"--flow: expected YYYY-MM-DD=AMOUNT (+ in, - out), not {text!r}") from None


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value != value or abs(value) == float("inf"):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "portfolio",
        help="backtest mixes of assets: a lump sum, monthly or weekly contributions, withdrawals, rebalancing, "
        "dividends, KRW or USD, costs and taxes; writes values, trades and stats CSV",
    )
    cmd.add_argument("--weights", required=True, action="append", type=lambda s: pairs(s, "--weights"),
                     help="asset=percent pairs, e.g. samsung=40,soxl=30,btc=30 (scaled when they do not add to 100; "
                          "an asset named twice adds up); give it again for another portfolio")  # fmt: skip
    cmd.add_argument("--benchmark", help="an asset id bought and held with the same money (e.g. kospi200)")
    cmd.add_argument("--start", type=date_arg, required=True, help="first day (moved to the first day every asset "
                     "has a bar)")  # fmt: skip
    cmd.add_argument("--end", type=date_arg, help="last day (default: the newest stored bar)")
    cmd.add_argument("--initial", type=_finite, help="lump sum on the first day (10000000 in KRW, 10000 in USD)")
    cmd.add_argument("--every", choices=EVERY, default="none", help="contributions: monthly, weekly or none")
    cmd.add_argument("--day", type=int, default=10, help="monthly: the day of the month, 1-31 (10)")
    cmd.add_argument("--weekday", type=int, default=0, help="weekly: 0 Monday .. 6 Sunday (0)")
    cmd.add_argument("--amount", type=_finite, default=0.0, help="each contribution, in the portfolio's currency")
    cmd.add_argument("--withdraw", type=_finite, default=0.0, help="each withdrawal, in the portfolio's currency")
    cmd.add_argument("--withdraw-every", choices=WITHDRAW_EVERY, default="none", help="withdrawals: monthly (on "
                     "--withdraw-from's day) or yearly (on its month and day); contributions stop then")  # fmt: skip
    cmd.add_argument("--withdraw-from", type=date_arg, help="the first withdrawal (default: the start)")
    cmd.add_argument("--flow", type=_flow, action="append", default=[], help="a dated one-off amount, "
                     "YYYY-MM-DD=AMOUNT, + in or - out; may be given again")  # fmt: skip
    cmd.add_argument("--rebalance", choices=REBALANCE, default="none", help="none, monthly, quarterly, semiannual, "
                     "yearly, bands, or cashflow (new money buys what is below target; nothing is sold)")  # fmt: skip
    cmd.add_argument("--bands", default="5,25", help="bands: absolute %%p and relative %% (5,25)")
    cmd.add_argument("--currency", choices=CURRENCIES, default="KRW")
    cmd.add_argument("--dividends", choices=DIVIDENDS, default="reinvest", help="cash dividends: reinvest (default), "
                     "cash, or none (price return)")  # fmt: skip
    cmd.add_argument("--fee", type=lambda s: pairs(s, "--fee"), default={},
                     help="fee %% per venue, e.g. krx=0.015,us=0.25,coin=0.05")  # fmt: skip
    cmd.add_argument("--fx-spread", type=_finite, default=0.0, help="FX spread %% on every KRW<->USD conversion")
    cmd.add_argument("--fx-discount", type=_finite, default=0.0, help="우대율: %% of the spread waived")
    cmd.add_argument("--whole-shares", action="store_true", help="stocks and ETFs in whole shares; what a buy cannot "
                     "spend waits for that asset's next buy")  # fmt: skip
    cmd.add_argument("--tax", action="store_true", help="KRX 증권거래세 on sales, 22%% tax on each year's overseas "
                     "gains above 2,500,000 won, dividend withholding (15.4%% KRX, 15%% US)")  # fmt: skip
    cmd.add_argument("--rf", type=_finite, default=0.0, help="risk-free rate %% a year for Sharpe and Sortino (0)")
    cmd.add_argument("--out", type=Path, required=True, help="folder for the CSV files (created if missing)")
    cmd.add_argument("--db", type=Path, help="DuckDB file (default: MARKET_DB or data/market.duckdb)")


def _plans(svc: MarketService, args: argparse.Namespace) -> tuple[dict[str, Plan], str | None]:
    """The portfolios the arguments describe (ids in one spelling, checked against the symbol lists)."""
    try:
        bands = tuple(float(x) for x in args.bands.split(","))
        if len(bands) != 2:
            raise ValueError
    except ValueError:
        raise ArgumentsError(f"--bands: expected ABS,REL such as 5,25, not {args.bands!r}") from None
    if len(args.weights) > MAX_PORTFOLIOS:
        raise ArgumentsError(f"at most {MAX_PORTFOLIOS} portfolios: --weights is given {len(args.weights)} times")
    initial = DEFAULT_MONEY[args.currency][0] if args.initial is None else args.initial
    costs = Costs(args.fee, args.fx_spread, args.fx_discount, args.tax)
    plans = {}
    for k, given in enumerate(args.weights, start=1):
        weights: dict[str, float] = {}
        for raw, weight in given.items():
            asset_id = catalog.get(raw).id  # one spelling: krx:005930 is samsung
            weights[asset_id] = weights.get(asset_id, 0.0) + weight
        resolve_ids(svc, ",".join(weights), [])  # an id the symbol lists do not hold is named (exit 2)
        plans[f"p{k}"] = Plan(weights, args.start, args.end, initial, args.every, args.day, args.weekday,
                              args.amount, args.rebalance, bands, args.currency, costs, args.whole_shares,
                              args.dividends, args.withdraw, args.withdraw_every, args.withdraw_from,
                              tuple(args.flow))  # fmt: skip
    benchmark = catalog.get(args.benchmark).id if args.benchmark else None
    if benchmark:
        resolve_ids(svc, benchmark, [])
    return plans, benchmark


def _folder(path: Path) -> Path:
    """The output folder, created; a file in its place or a folder that cannot be written is one sentence."""
    if path.exists() and not path.is_dir():
        raise ArgumentsError(f"--out {path} is a file, not a folder: name a folder (it is created if missing)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArgumentsError(f"--out {path}: cannot create the folder ({exc.strerror})") from None
    if not os.access(path, os.W_OK):
        raise ArgumentsError(f"--out {path}: this folder cannot be written to (permission denied)")
    return path


def _write(path: Path, name: str, data: bytes) -> None:
    try:
        (path / name).write_bytes(data)
    except OSError as exc:
        raise ArgumentsError(f"--out {path}: cannot write {name} ({exc.strerror})") from None


def run(svc: MarketService, args: argparse.Namespace) -> int:
    """The statistics one a line (side by side for several runs), and the files."""
    try:
        plans, benchmark = _plans(svc, args)
        out = _folder(args.out)
        result = portfolios.compare(svc, plans, benchmark, run=portfolios.runner(args.rf))
    except PlanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    en = Translator("en")
    data = result.data
    origin = "sample" if data is not None and data.sample_assets else "store"
    notes = [en.text(n) for n in result.notes]
    if origin == "sample":
        names = ", ".join(data.sample_assets)
        notes.insert(0, f"sample data: {names} have no stored daily bars, so generated sample prices were used "
                        "(not real prices; run `python -m marketdash update` with KIS keys for real ones)")  # fmt: skip
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    single = len(result.runs) == 1
    stats = {}
    for name, measured in result.runs.items():
        folder = out if single else _folder(out / name)
        backtest = measured.backtest
        _write(folder, "values.csv", csv_bytes(backtest.values))
        _write(folder, "trades.csv", csv_bytes(backtest.trades))
        table = {"metric": [*measured.summary, "data"],
                 "value": [*(stat_text(v) for v in measured.summary.values()), origin]}  # fmt: skip
        _write(folder, "stats.csv", csv_bytes(pd.DataFrame(table).set_index("metric")))
        _write(folder, "notes.txt", "".join(f"{n}\n" for n in notes).encode())
        stats[name] = {**{k: stat_text(v) for k, v in measured.summary.items()}, "data": origin}
    side = pd.DataFrame(stats)
    side.index.name = "metric"
    if not single:
        _write(out, "stats.csv", csv_bytes(side))
    width = max(map(len, side.index))
    if single:
        for key, value in side.iloc[:, 0].items():
            print(f"{key:<{width}}  {value}")
    else:
        print(side.to_string())
    written = "values.csv, trades.csv, stats.csv and notes.txt" if single else (
        f"{', '.join(f'{n}/' for n in result.runs)} and stats.csv side by side")  # fmt: skip
    print(f"wrote {written} to {out}", file=sys.stderr)
    return 0
