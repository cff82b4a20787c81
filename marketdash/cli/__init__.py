"""Command line (SPEC.md): `python -m collectors update|snapshot|status|check|export|import|symbols|search|portfolio|
dividends` (also `python -m marketdash …`).
Asset ids are the catalog's (`samsung`) or symbol ids (`krx:005380`, `us:NVDA`, `kidx:1001`, `ovs:SPX`,
`coin:ETH`). Safe to run from
cron while the app is open. Exit codes: 0 done, 1 some asset failed (or `check` found problems), 2 bad input or a
store that cannot be used."""

from __future__ import annotations

import sys

from marketdash.services import ahead

KIS_COMMANDS = ("update", "snapshot")  # the commands that ask KIS for data (a token first)


def main(argv: list[str] | None = None, prog: str = "python -m marketdash") -> int:
    """Run one command (`prog`: how it was called, for its usage and help lines: `python -m collectors` for scripts
    that use the old name). One that will ask KIS for data sends the key's token request first, from a thread, while
    the command's own imports run (pandas, DuckDB, pyarrow: 0.4 s): a token KIS is slow to issue (a daily cron job
    needs a new one) then costs the command nothing, and its first request leaves at once."""
    args = sys.argv[1:] if argv is None else argv
    early = ahead.kis_token(_asset_ids(args)) if args and args[0] in KIS_COMMANDS else None
    from marketdash.cli.commands import run

    try:
        return run(argv, prog)
    finally:
        if early is not None:
            early.join(ahead.JOIN_FOR)  # an issuance under way is cached before the process ends


def _asset_ids(args: list[str]) -> str | None:
    """The --assets text of a command line (None: the default assets)."""
    for i, arg in enumerate(args):
        if arg == "--assets" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--assets="):
            return arg.split("=", 1)[1]
    return None
