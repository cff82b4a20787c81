"""The commands of the command line (marketdash/cli/__init__.py starts them): parsing, one function per command, and
`run`, which opens the store and turns every expected failure into one sentence and an exit code."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import threading
import time
from pathlib import Path
from typing import NoReturn

import pandas as pd
from tqdm import tqdm

import marketdash.cli as package
from marketdash.cli import portfolio
from marketdash.cli.common import UnknownIdsError, date_arg, resolve_ids
from marketdash.domain import catalog, clock, market_clock
from marketdash.domain.config import ConfigError, load_settings, secret_files, too_open
from marketdash.domain.csvfiles import csv_bytes
from marketdash.domain.i18n import Msg
from marketdash.services.market import MarketService
from marketdash.services.store import StoreError


class _Parser(argparse.ArgumentParser):
    """Bad arguments are one sentence and exit 2: the error and where help is, not the whole usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (`{self.prog} --help` lists the options)\n")


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description=package.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    update = sub.add_parser("update", help="fetch what is missing for each asset")
    update.add_argument("--assets", help=f"comma-separated ids (default: {','.join(catalog.ASSETS)} and your added "
                        "assets), e.g. samsung,krx:005380,us:NVDA,coin:ETH")  # fmt: skip
    update.add_argument("--start", type=date_arg, help="first date on an empty store (default 2015-01-01)")
    update.add_argument("--end", type=date_arg, help="last date (default: the last closed session)")
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
    portfolio.add_parser(sub)
    dividends = sub.add_parser("dividends", help="print the stored cash dividends as CSV (per share, gross; "
                               "`update` fetches them)")  # fmt: skip
    dividends.add_argument("--assets", help="comma-separated ids (default: every paying asset of the seven and your "
                           "added ones)")  # fmt: skip
    for command in (snapshot, status, check, export, restore, symbols, search, dividends):
        command.add_argument("--db", type=Path, help="DuckDB file (default: MARKET_DB or data/market.duckdb)")
    return parser


def _update(svc: MarketService, args: argparse.Namespace) -> int:
    ids = resolve_ids(svc, args.assets, [*catalog.ASSETS, *svc.universe.user_assets()])
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

    results, dividends = svc.update_with_dividends(ids, args.start, args.end, progress=progress,
                                                   workers=max(1, args.workers), dividends_from=args.start)  # fmt: skip
    for bar in bars.values():
        bar.close()
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
    ids = resolve_ids(svc, args.assets, [*catalog.COMPARED, *svc.universe.user_assets()])
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
        searched = f"the seven and {stored:,} stored symbols" if stored else "the seven only (no symbol list stored)"
        print(f"note: searched {searched}; the full lists are not downloaded (offline?): run the `symbols` command",
              file=sys.stderr)  # fmt: skip
    if found.empty:
        print(f"no match for {text!r}")
        return 1
    for row in found.itertuples():
        name = row.name_ko if row.name_ko == row.name_en else f"{row.name_ko} / {row.name_en}"
        flags = f"  [{row.warnings}]" if isinstance(row.warnings, str) and row.warnings else ""
        print(f"{row.id:<14} {name:<40} {row.market:<9} {row.kind}{flags}")
    return 0


def _dividends(svc: MarketService, args: argparse.Namespace) -> int:
    """The store's dividends of the paying assets asked for, as CSV on stdout (the table's columns, ISO dates)."""
    ids = svc.dividends.payers(resolve_ids(svc, args.assets, [*catalog.ASSETS, *svc.universe.user_assets()]))
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
    "portfolio": portfolio.run,
    "dividends": _dividends,
}


def run(argv: list[str] | None = None, prog: str = "python -m marketdash") -> int:
    """`prog`: how the command was called (`python -m collectors` for scripts that use the old name), for its usage
    and help lines."""
    args = _parser(prog).parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    svc = None
    try:
        settings = load_settings()
        for path, mode in too_open(secret_files(settings)):  # as ssh names a key file others can read
            print(f"warning: permissions {mode:04o} for '{path}' are too open: other users of this computer can "
                  f"read the secrets in it (chmod 600 '{path}')", file=sys.stderr)  # fmt: skip
        if args.db:
            settings = dataclasses.replace(settings, market_db=args.db)
        svc = MarketService(settings)
        problem = svc.store_problem()
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        return COMMANDS[args.command](svc, args)
    except (ConfigError, catalog.UnknownAssetError, UnknownIdsError, StoreError, portfolio.ArgumentsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if svc is not None:  # closed here, in the main thread: no DuckDB call may be left to Python's exit
            svc.close()
