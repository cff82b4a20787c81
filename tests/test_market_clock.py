"""The market clock (issue 8): open/closed per asset in KST across US daylight-time changes and KRX holidays."""

from __future__ import annotations

import datetime as dt

import pytest

from marketdash.domain import catalog, market_clock
from marketdash.domain.market_clock import BREAK, CLOSED, KST, OPEN, POST, PRE


def kst(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=KST)


@pytest.mark.parametrize(
    ("asset_id", "now", "state", "next_change"),
    [
        # SOXL across US daylight time: 22:30 KST opens in summer, 23:30 in winter, whatever the date says in Seoul.
        ("soxl", kst(2026, 3, 6, 23, 0), PRE, kst(2026, 3, 6, 23, 30)),  # Friday, still EST
        ("soxl", kst(2026, 3, 9, 22, 45), OPEN, kst(2026, 3, 10, 5, 0)),  # Monday after the 8 March change: EDT
        ("soxl", kst(2026, 11, 2, 23, 0), PRE, kst(2026, 11, 2, 23, 30)),  # Monday after the 1 November change: EST
        ("soxl", kst(2026, 11, 25, 7, 0), POST, kst(2026, 11, 25, 10, 0)),  # after-hours until 20:00 New York
        ("soxl", kst(2026, 11, 28, 3, 30), POST, kst(2026, 11, 28, 10, 0)),  # day after Thanksgiving closes 13:00
        # KRX: holidays, the year's first session at 10:00, weekends.
        ("samsung", kst(2026, 2, 17, 10, 0), CLOSED, kst(2026, 2, 19, 9, 0)),  # 설날
        ("kospi200", kst(2026, 1, 2, 9, 30), PRE, kst(2026, 1, 2, 10, 0)),
        ("skhynix", kst(2026, 11, 24, 10, 30), OPEN, kst(2026, 11, 24, 15, 30)),
        ("samsung", kst(2026, 11, 24, 16, 0), POST, kst(2026, 11, 24, 18, 0)),
        ("samsung", kst(2026, 11, 28, 12, 0), CLOSED, kst(2026, 11, 30, 9, 0)),  # Saturday
        # COMEX: the daily hour off moves with US daylight time; weekends are closed.
        ("gold", kst(2026, 7, 15, 6, 30), BREAK, kst(2026, 7, 15, 7, 0)),
        ("gold", kst(2026, 1, 15, 6, 30), OPEN, kst(2026, 1, 15, 7, 0)),
        ("silver", kst(2026, 1, 15, 7, 30), BREAK, kst(2026, 1, 15, 8, 0)),
        ("gold", kst(2026, 11, 28, 10, 0), CLOSED, kst(2026, 11, 30, 8, 0)),  # opens Sunday 18:00 New York
        # Seoul's won market trades until 02:00.
        ("usdkrw", kst(2026, 11, 25, 1, 0), OPEN, kst(2026, 11, 25, 2, 0)),
        ("usdkrw", kst(2026, 11, 25, 3, 0), CLOSED, kst(2026, 11, 25, 9, 0)),
    ],
)
def test_market_states_in_kst(asset_id, now, state, next_change):
    got = market_clock.state(catalog.get(asset_id), now)
    assert (got.state, got.next_change) == (state, next_change)


def test_bitcoin_never_closes():
    got = market_clock.state(catalog.get("btc"), kst(2026, 12, 25, 3, 0))
    assert got.state == OPEN and got.next_change is None and got.moving
