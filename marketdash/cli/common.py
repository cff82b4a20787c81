"""What every command shares: dates and name=number pairs from the command line, and asset ids checked against the
stored symbol lists (an unknown id is one sentence, exit 2)."""

from __future__ import annotations

import argparse
import datetime as dt
import math

from marketdash.domain import catalog
from marketdash.services.market import MarketService


def date_arg(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from None


def pairs(text: str, what: str) -> dict[str, float]:
    """'samsung=40,soxl=30' -> {'samsung': 40.0, 'soxl': 30.0}; a name given twice adds up; a number must be
    finite."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, eq, value = part.rpartition("=")
        try:
            number = float(value)
            if not eq or not key or not math.isfinite(number):
                raise ValueError
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what}: expected name=number pairs, not {part!r}") from None
        out[key.strip()] = out.get(key.strip(), 0.0) + number
    return out


class UnknownIdsError(ValueError):
    """Ids the symbol lists do not hold: one sentence naming them."""


def resolve_ids(svc: MarketService, text: str | None, default: list[str]) -> list[str]:
    """The ids asked for (added symbols named from the stored lists); unknown ones raise, named."""
    usable, unknown = svc.universe.resolve(catalog.parse_ids(text, tuple(default)) if text else default)
    if unknown:
        raise UnknownIdsError(
            f"unknown asset {', '.join(unknown)}: not in the stored KIS/Upbit symbol lists "
            "(the `search TEXT` command finds ids; `symbols --refresh` downloads the lists)"
        )
    return usable
