"""Day candles of Upbit's KRW markets (Bitcoin, and any coin a user adds), with Bithumb (same schema) as the
fallback.

Paging goes backwards with an exclusive `to` timestamp, 200 candles a call, newest first. Upbit allows 10 calls a
second per IP and says how many are left in `Remaining-Req`; over that it answers 429, and a client that keeps going
is blocked with 418. So: a throttle under the limit, a pause when `sec` reaches 0, backoff on 429, stop on 418.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from collectors.base import Collector
from collectors.errors import (
    BadResponseError,
    BlockedError,
    CollectorError,
    NetworkError,
    RateLimitedError,
    source_name,
)
from collectors.http import HttpClient, Reply
from marketdash.domain.catalog import Asset
from marketdash.domain.config import Settings
from marketdash.domain.i18n import Said, msg
from marketdash.domain.records import DailyBar, MalformedValueError, parse_decimal

log = logging.getLogger(__name__)

PAGE_SIZE = 200
UPBIT_RPS = 8.0  # under Upbit's 10/s candle group limit
BITHUMB_RPS = 10.0  # far under Bithumb's 150/s
_REMAINING_SEC = re.compile(r"sec=(\d+)")


@dataclass(frozen=True)
class CandleVenue:
    """What differs between Upbit and Bithumb: the name, and how `to` is written (Bithumb reads it as KST)."""

    source: str
    service: str
    format_to: Callable[[dt.datetime], str]


UPBIT = CandleVenue("upbit", "Upbit", lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ"))
BITHUMB = CandleVenue(
    "bithumb",
    "Bithumb",
    lambda t: (t + dt.timedelta(hours=9)).strftime("%Y-%m-%d %H:%M:%S"),
)


def candle_date(row: dict) -> dt.date:
    """The candle's UTC day (SPEC: Bitcoin is dated by the UTC candle date)."""
    text = str(row.get("candle_date_time_utc", ""))
    try:
        return dt.datetime.fromisoformat(text.rstrip("Z")).date()
    except ValueError:
        raise MalformedValueError(
            msg("err.value_not_time", field="candle_date_time_utc", value=repr(text[:25]))
        ) from None


def transform(asset: Asset, rows: list, source: str) -> list[DailyBar]:
    """Raw candle objects -> bars; empty objects are skipped, anything else malformed raises."""
    bars = []
    for row in rows:
        if not isinstance(row, dict) or not row:
            continue
        bars.append(
            DailyBar(
                asset.id,
                candle_date(row),
                parse_decimal(row.get("opening_price"), "opening_price"),
                parse_decimal(row.get("high_price"), "high_price"),
                parse_decimal(row.get("low_price"), "low_price"),
                parse_decimal(row.get("trade_price"), "trade_price"),
                parse_decimal(
                    row.get("candle_acc_trade_volume"),
                    "candle_acc_trade_volume",
                    required=False,
                ),
                asset.currency,
                source,
            )
        )
    return bars


def _retry_after(reply: Reply) -> float | None:
    try:
        return float(reply.headers.get("Retry-After", ""))
    except ValueError:
        return None


def _error_text(reply: Reply) -> Said:
    """The exchange's own words about an error (English): shown to English readers beside our sentence."""
    body = reply.body if isinstance(reply.body, dict) else {}
    err = body.get("error") if isinstance(body.get("error"), dict) else {}
    return Said(str(err.get("message") or err.get("name") or reply.text or "")[:200], "en", prefix=": ")


def steer_by_remaining(http: HttpClient, reply: Reply) -> float | None:
    """Pause the client when the second's budget is spent; ask for a retry (with a delay) on 429."""
    match = _REMAINING_SEC.search(reply.headers.get("Remaining-Req", ""))
    if match and int(match.group(1)) <= 0:
        http.throttle.hold(1.0)
    if reply.status == 429:
        http.throttle.refused(reply.sent_at)
        return max(_retry_after(reply) or 1.0, 1.0)
    return None


def check_reply(reply: Reply, name: str) -> object:
    """The JSON body of a good reply; 418 (blocked), 429 after our retries and other errors in plain words."""
    if reply.status == 418:
        wait = _retry_after(reply)
        source = source_name(name)
        found = (
            msg("err.blocked_for", source=source, seconds=f"{wait:.0f}") if wait else msg("err.blocked", source=source)
        )
        raise BlockedError(msg("err.blocked_said", blocked=found, said=_error_text(reply)), retry_after=wait)
    if reply.status == 429:
        raise RateLimitedError(msg("err.too_many_429", source=source_name(name)))
    body = reply.json(name)
    if reply.status >= 400:
        raise BadResponseError(
            msg("err.http_said", source=source_name(name), status=reply.status, said=_error_text(reply)),
            code=str(reply.status),
        )
    return body


class CandleCollector:
    def __init__(self, http: HttpClient, venue: CandleVenue) -> None:
        self.http = http
        self.venue = venue
        self.source = venue.source

    def _get(self, market: str, to: dt.datetime) -> list:
        params = {"market": market, "count": PAGE_SIZE, "to": self.venue.format_to(to)}
        reply = self.http.request(
            "GET", "/v1/candles/days", params=params, retry_delay=lambda r: steer_by_remaining(self.http, r)
        )
        body = check_reply(reply, self.venue.service)
        if not isinstance(body, list):
            raise BadResponseError(
                msg("err.candles_shape", source=source_name(self.venue.service), kind=type(body).__name__)
            )
        return body

    def pages(self, asset: Asset, start: dt.date, end: dt.date) -> Iterator[list[DailyBar]]:
        to = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
        seen: set[dt.date] = set()
        while True:
            rows = [r for r in self._get(asset.code, to) if isinstance(r, dict) and r]
            if not rows:
                break
            try:
                bars = transform(asset, rows, self.source)
            except MalformedValueError as exc:
                raise BadResponseError(
                    msg("err.candle_malformed", source=source_name(self.venue.service), detail=exc.msg)
                ) from None
            fresh = [b for b in bars if start <= b.date <= end and b.date not in seen]
            seen.update(b.date for b in fresh)
            yield fresh
            oldest = min(b.date for b in bars)
            if len(rows) < PAGE_SIZE or oldest <= start:
                break
            to = dt.datetime.combine(oldest, dt.time())  # exclusive: the next page ends the day before


class FallbackCollector:
    """Primary first; when it fails, the secondary fills the older days the primary did not deliver."""

    def __init__(self, primary: Collector, secondary: Collector) -> None:
        self.primary = primary
        self.secondary = secondary
        self.source = primary.source

    def pages(self, asset: Asset, start: dt.date, end: dt.date) -> Iterator[list[DailyBar]]:
        oldest: dt.date | None = None
        try:
            for page in self.primary.pages(asset, start, end):
                if page:
                    oldest = min([b.date for b in page] + ([oldest] if oldest else []))
                yield page
            return
        except CollectorError as exc:
            first_failure = exc
            log.warning(
                "%s failed (%s); falling back to %s",
                self.primary.source,
                exc,
                self.secondary.source,
            )
        resume_end = oldest - dt.timedelta(days=1) if oldest else end
        if resume_end < start:
            return
        try:
            yield from self.secondary.pages(asset, start, resume_end)
        except CollectorError as exc:
            first, second = source_name(self.primary.source), source_name(self.secondary.source)
            if isinstance(exc, NetworkError) and isinstance(first_failure, NetworkError):  # one cause: say it once
                raise NetworkError(msg("err.both_unreachable", first_source=first, second_source=second)) from None
            raise type(exc)(
                msg("err.both_failed", first_source=first, first=first_failure.msg, second_source=second,
                    second=exc.msg),
                code=exc.code,
            ) from None  # fmt: skip


def coin_collector(settings: Settings) -> Collector:
    upbit = CandleCollector(HttpClient(settings.upbit_base_url, service="Upbit", max_rps=UPBIT_RPS), UPBIT)
    bithumb = CandleCollector(
        HttpClient(settings.bithumb_base_url, service="Bithumb", max_rps=BITHUMB_RPS),
        BITHUMB,
    )
    return FallbackCollector(upbit, bithumb)
