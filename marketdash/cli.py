"""Command line (SPEC.md): `python -m collectors update|snapshot|status|check|export|import|symbols|search|portfolio|
dividends` (also `python -m marketdash …`).
Asset ids are the catalog's (`samsung`) or symbol ids (`krx:005380`, `us:NVDA`, `kidx:1001`, `ovs:SPX`,
`coin:ETH`). Safe to run from
cron while the app is open. Exit codes: 0 done, 1 some asset failed (or `check` found problems), 2 bad input or a
store that cannot be used."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging
import sys
import threading
import time
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from marketdash.analysis.portfolio.plan import CURRENCIES, DEFAULT_INITIAL, EVERY, REBALANCE, Costs, Plan, PlanError
from marketdash.domain import catalog, clock, market_clock
from marketdash.domain.config import ConfigError, load_settings
from marketdash.domain.csvfiles import csv_bytes, stat_text
from marketdash.domain.i18n import Msg
from marketdash.services import portfolio as portfolios
from marketdash.services.market import MarketService
from marketdash.services.store import StoreError


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m collectors", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    update = sub.add_parser("update", help="fetch what is missing for each asset")
    update.add_argument("--assets", help=f"comma-separated ids (default: {','.join(catalog.ASSETS)} and your added "
                        "assets), e.g. samsung,krx:005380,us:NVDA,coin:ETH")  # fmt: skip
    update.add_argument("--start", type=_date, help="first date on an empty store (default 2015-01-01)")
    update.add_argument("--end", type=_date, help="last date (default: the last closed session)")
    update.add_argument("--db", type=Path, help="DuckDB file (default: MARKET_DB or data/market.duckdb)")
    update.add_argument("--workers", type=int, default=3, help="assets fetched at once (they share rate limits)")
    snapshot = sub.add_parser("snapshot", help="fetch live quotes into `snapshots` (once, or --every SECONDS)")
    snapshot.add_argument("--assets", help="comma-separated ids (default: the seven compared assets)")
    snapshot.add_argument("--every", type=float, help="poll every SECONDS while any requested market trades, then stop")
    status = sub.add_parser("status", help="per asset: first/last date, rows, source, last attempt and its result")
    check = sub.add_parser("check", help="integrity report: missing sessions, bad prices, days from a worse source")
    export = sub.add_parser("export", help="back the store up as Parquet files (DuckDB EXPORT DATABASE)")
    export.add_argument("--to", type=Path, required=True, dest="folder", help="an empty or new folder")
    restore = sub.add_parser("import", help="merge a backup made by `export` into the store")
    restore.add_argument(
        "--from", type=Path, required=True, dest="folder", help="the folder `export` wrote, or the Data page's ZIP"
    )
    symbols = sub.add_parser("symbols", help="download, validate and store the symbol lists (at most once a day)")
    symbols.add_argument("--refresh", action="store_true", help="download every list now, even if fetched today")
    search = sub.add_parser("search", help="find symbols by Korean/English name, code, ticker or 초성")
    search.add_argument("text", nargs="+", help="what to look for, e.g. 현대차, ㅎㄷㅊ, 005380, NVDA")
    search.add_argument("--limit", type=int, default=10, help="matches shown (default 10)")
    _portfolio_parser(sub)
    dividends = sub.add_parser("dividends", help="print the stored cash dividends as CSV (per share, gross; "
                               "`update` fetches them)")  # fmt: skip
    dividends.add_argument("--assets", help="comma-separated ids (default: every paying asset of the seven and your "
                           "added ones)")  # fmt: skip
    for command in (snapshot, status, check, export, restore, symbols, search, dividends):
        command.add_argument("--db", type=Path, help="DuckDB file (default: MARKET_DB or data/market.duckdb)")
    return parser


def _pairs(text: str, what: str) -> dict[str, float]:
    """'samsung=40,soxl=30' -> {'samsung': 40.0, 'soxl': 30.0}."""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, eq, value = part.rpartition("=")
        try:
            if not eq or not key:
                raise ValueError
            out[key.strip()] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what}: expected name=number pairs, not {part!r}") from None
    return out


def _portfolio_parser(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "portfolio",
        help="backtest a mix of stored assets: a lump sum and/or monthly or weekly "
        "contributions, rebalancing, KRW or USD, costs and taxes; writes values, trades, stats CSV",
    )
    cmd.add_argument(
        "--weights",
        required=True,
        type=lambda s: _pairs(s, "--weights"),
        help="asset=percent pairs, e.g. samsung=40,soxl=30,btc=30 (scaled when they do not add to 100)",
    )
    cmd.add_argument("--start", type=_date, required=True, help="first day (moved to the first day every asset has "
                     "a bar)")  # fmt: skip
    cmd.add_argument("--end", type=_date, help="last day (default: the newest stored bar)")
    cmd.add_argument("--initial", type=float, default=DEFAULT_INITIAL, help="lump sum on the first day (10000000)")
    cmd.add_argument("--every", choices=EVERY, default="none", help="contributions: monthly, weekly or none")
    cmd.add_argument("--day", type=int, default=10, help="monthly: the day of the month, 1-31 (10)")
    cmd.add_argument("--weekday", type=int, default=0, help="weekly: 0 Monday .. 4 Friday (0)")
    cmd.add_argument("--amount", type=float, default=0.0, help="each contribution, in the portfolio's currency")
    cmd.add_argument("--rebalance", choices=REBALANCE, default="none", help="none, monthly, quarterly, yearly, "
                     "bands, or cashflow (new money buys what is below target; nothing is sold)")  # fmt: skip
    cmd.add_argument("--bands", default="5,25", help="bands: absolute %%p and relative %% (5,25)")
    cmd.add_argument("--currency", choices=CURRENCIES, default="KRW")
    cmd.add_argument("--fee", type=lambda s: _pairs(s, "--fee"), default={},
                     help="fee %% per venue, e.g. krx=0.015,us=0.25,coin=0.05")  # fmt: skip
    cmd.add_argument("--fx-spread", type=float, default=0.0, help="FX spread %% on every KRW<->USD conversion")
    cmd.add_argument("--fx-discount", type=float, default=0.0, help="우대율: %% of the spread waived")
    cmd.add_argument("--whole-shares", action="store_true", help="whole units only; the remainder stays cash")
    cmd.add_argument("--tax", action="store_true", help="KRX 증권거래세 on sales, 22%% tax on each year's overseas "
                     "gains above 2,500,000 won")  # fmt: skip
    cmd.add_argument("--out", type=Path, required=True, help="folder for values.csv, trades.csv and stats.csv")
    cmd.add_argument("--db", type=Path, help="DuckDB file (default: MARKET_DB or data/market.duckdb)")


class UnknownIdsError(ValueError):
    """Ids the symbol lists do not hold: one sentence naming them."""


def _ids(svc: MarketService, text: str | None, default: list[str]) -> list[str]:
    """The ids asked for (added symbols named from the stored lists); unknown ones raise, named."""
    usable, unknown = svc.universe.resolve(catalog.parse_ids(text, tuple(default)) if text else default)
    if unknown:
        raise UnknownIdsError(
            f"unknown asset {', '.join(unknown)}: not in the stored KIS/Upbit symbol lists "
            "(`python -m collectors search TEXT` finds ids; `symbols --refresh` downloads the lists)"
        )
    return usable


def _update(svc: MarketService, args: argparse.Namespace) -> int:
    ids = _ids(svc, args.assets, [*catalog.ASSETS, *svc.universe.user_assets()])
    if args.start and args.end and args.start > args.end:
        print(f"--start {args.start} is after --end {args.end}", file=sys.stderr)
        return 2
    bars: dict[str, tqdm] = {}
    lock = threading.Lock()

    def progress(asset_id: str, done: float, text: Msg) -> None:
        with lock:
            if asset_id not in bars:
                bars[asset_id] = tqdm(
                    total=100, desc=f"{asset_id:<9}", position=len(bars), leave=False, unit="%", disable=None
                )
            bar = bars[asset_id]
            bar.n = round(done * 100)
            bar.set_postfix_str(str(text)[:40], refresh=True)

    results = svc.update(ids, args.start, args.end, progress=progress, workers=max(1, args.workers))
    for bar in bars.values():
        bar.close()
    dividends = svc.dividends.update(ids, args.start)
    real_only = next((d.note for d in dividends.values() if d.kind == "real only"), None)
    if real_only is not None:  # said once, not on every line: prices go on without dividends
        print(f"note: {real_only}", file=sys.stderr)
    for result in results:
        extra = dividends.get(result.asset_id)
        print(result.line() + (f"  | {extra.text()}" if extra and extra.kind != "real only" else ""))
    failed = [r for r in results if not r.ok] + [d for d in dividends.values() if not d.ok and d.kind != "real only"]
    return 1 if failed else 0


def _status(svc: MarketService) -> int:
    cov = svc.coverage()
    cols = ["asset_id", "first_date", "last_date", "rows", "sources", "last_attempt", "last_status", "last_message"]
    table = cov[cols].copy()
    for col in ("first_date", "last_date"):
        table[col] = pd.to_datetime(table[col]).dt.strftime("%Y-%m-%d")
    table["last_attempt"] = pd.to_datetime(table["last_attempt"]).dt.strftime("%Y-%m-%d %H:%M UTC")
    table["last_message"] = table["last_message"].fillna("").str.slice(0, 60)
    print(table.fillna("-").to_string(index=False))
    return 0


def _snapshot(svc: MarketService, args: argparse.Namespace) -> int:
    """Once: every requested asset, closed markets included (their last price). With --every: each round quotes
    the markets that trade, until none of them does; a rate-limit answer doubles the wait."""
    ids = _ids(svc, args.assets, [*catalog.COMPARED, *svc.universe.user_assets()])
    if args.every is not None and args.every < 2:
        print("--every must be at least 2 seconds", file=sys.stderr)
        return 2
    results = svc.live.poll(ids, everything=True)
    wait = args.every
    while True:
        for result in results:
            print(result.line(), flush=True)
        failed = any(r.status == "error" for r in results)
        if wait is None:
            return 1 if failed else 0
        now = clock.now()
        if not any(market_clock.state(catalog.get(a), now).moving for a in ids if a in svc.live.quoters()):
            print("no requested market trades now: stopping", flush=True)
            return 0
        wait = min(wait * 2, 600.0) if any(r.kind == "rate limited" for r in results) else args.every
        time.sleep(wait)
        results = [r for r in svc.live.poll(ids) if r.status != "skipped"]


def _check(svc: MarketService) -> int:
    report = svc.check()
    if report.empty:
        print(f"store OK: {svc.settings.market_db}")
        return 0
    if (report["problem"] == "no data").sum() == len(catalog.ASSETS):
        print(f"store empty: no daily bars in {svc.settings.market_db} (run `update` first)")
        return 1
    for row in report.itertuples():
        dates = row.dates.split()
        shown = " ".join(dates[:12]) + (f" … (+{len(dates) - 12} more)" if len(dates) > 12 else "")
        print(f"{row.asset_id:<9} {row.problem:<17} {row.count:>5}  {shown}")
        print(f"{'':<9} {row.detail}")
    return 1


def _export(svc: MarketService, args: argparse.Namespace) -> int:
    counts = svc.store.export_to(args.folder)
    print(
        f"exported {svc.settings.market_db} to {args.folder}: " + ", ".join(f"{t} {n} rows" for t, n in counts.items())
    )
    return 0


def _import(svc: MarketService, args: argparse.Namespace) -> int:
    taken = svc.import_backup(args.folder)
    print(
        f"imported {args.folder} into {svc.settings.market_db}: "
        + ", ".join(f"{t} +{n} rows" for t, n in taken.items())
    )
    return 0


def _symbols(svc: MarketService, args: argparse.Namespace) -> int:
    """Download what is due (everything with --refresh); one line per list: status, symbols, as-of date."""
    results = svc.universe.refresh(force=args.refresh, progress=lambda name: print(f"downloading {name} ...",
                                                                                       file=sys.stderr))  # fmt: skip
    for result in results:
        print(result.line())
    print(f"{sum(r.rows for r in results)} symbols in {len(results)} lists")
    return 0 if all(r.status in ("ok", "fresh") for r in results) else 1


def _search(svc: MarketService, args: argparse.Namespace) -> int:
    """Top matches, one a line: id, name, market, kind (and what the list flags)."""
    if svc.universe.stale():
        svc.universe.refresh()
    text = " ".join(args.text)
    found = svc.universe.search(text, max(1, args.limit))
    if not svc.universe.covered():
        stored = len(svc.universe.index()) - len(catalog.COMPARED)
        print(f"note: searched the seven and {stored} stored symbols; the full lists are not downloaded (offline?): "
              "run `python -m collectors symbols`", file=sys.stderr)  # fmt: skip
    if found.empty:
        print(f"no match for {text!r}")
        return 1
    for row in found.itertuples():
        name = row.name_ko if row.name_ko == row.name_en else f"{row.name_ko} / {row.name_en}"
        flags = f"  [{row.warnings}]" if isinstance(row.warnings, str) and row.warnings else ""
        print(f"{row.id:<14} {name:<40} {row.market:<9} {row.kind}{flags}")
    return 0


def _portfolio(svc: MarketService, args: argparse.Namespace) -> int:
    """The page's engine on the store's bars (never sample data): the statistics one a line, and the files."""
    try:
        bands = tuple(float(x) for x in args.bands.split(","))
        if len(bands) != 2:
            raise ValueError
    except ValueError:
        print(f"--bands: expected ABS,REL such as 5,25, not {args.bands!r}", file=sys.stderr)
        return 2
    weights: dict[str, float] = {}
    for raw, weight in args.weights.items():
        asset_id = catalog.get(raw).id  # one spelling: krx:005930 is samsung
        weights[asset_id] = weights.get(asset_id, 0.0) + weight
    _ids(svc, ",".join(weights), [])  # an id the symbol lists do not hold is named (exit 2)
    plan = Plan(weights, args.start, args.end, args.initial, args.every, args.day, args.weekday, args.amount,
                args.rebalance, bands, args.currency, Costs(args.fee, args.fx_spread, args.fx_discount, args.tax),
                args.whole_shares)  # fmt: skip
    try:
        result = portfolios.compare(svc, {"p1": plan}, store_only=True)
    except PlanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    run, stats = result.runs["p1"].backtest, result.runs["p1"].summary
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "values.csv").write_bytes(csv_bytes(run.values))
    (args.out / "trades.csv").write_bytes(csv_bytes(run.trades))
    table = pd.DataFrame({"metric": list(stats), "value": [stat_text(v) for v in stats.values()]})
    (args.out / "stats.csv").write_bytes(csv_bytes(table.set_index("metric")))
    width = max(map(len, stats))
    for key, value in stats.items():
        print(f"{key:<{width}}  {stat_text(value)}")
    print(f"wrote values.csv, trades.csv and stats.csv to {args.out}", file=sys.stderr)
    return 0


def _dividends(svc: MarketService, args: argparse.Namespace) -> int:
    """The store's dividends of the paying assets asked for, as CSV on stdout (the table's columns, ISO dates)."""
    ids = svc.dividends.payers(_ids(svc, args.assets, [*catalog.ASSETS, *svc.universe.user_assets()]))
    frame = svc.store.read_dividends(ids)
    sys.stdout.write(csv_bytes(frame).decode("utf-8-sig"))
    if frame.empty:
        print("no dividends stored for these assets: `update` fetches them (KIS real-account keys)", file=sys.stderr)
    return 0


COMMANDS = {
    "update": _update,
    "snapshot": _snapshot,
    "status": lambda svc, _: _status(svc),
    "check": lambda svc, _: _check(svc),
    "export": _export,
    "import": _import,
    "symbols": _symbols,
    "search": _search,
    "portfolio": _portfolio,
    "dividends": _dividends,
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
        if args.db:
            settings = dataclasses.replace(settings, market_db=args.db)
        svc = MarketService(settings)
        problem = svc.store_problem()
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        return COMMANDS[args.command](svc, args)
    except (ConfigError, catalog.UnknownAssetError, UnknownIdsError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
