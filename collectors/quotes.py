"""Live quotes (shared/live-quotes.md): one Quote shape from KIS's current-price endpoints and Upbit's ticker.

Each wire format has a pure transform (raw `output` -> Quote) that also turns errors hiding in success into plain
errors: `rt_cd 0` with empty strings (a wrong exchange code), `0.00` (a wrong index or FX symbol), a price of "0"
(an unknown stock). KIS quotes carry no time: they are stamped with the fetch time and say so. Quote calls go
through the same KIS client as history, so they take slots from the key's one budget (collectors/limiter.py).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

from collectors.base import Quoter
from collectors.errors import BadResponseError, CollectorError, NoDataError, SubscriptionError, source_name
from collectors.http import HttpClient
from collectors.kis import KisCollector
from collectors.upbit import BITHUMB, UPBIT, CandleVenue, check_reply, steer_by_remaining
from marketdash.domain import calendars, clock, market_clock
from marketdash.domain.catalog import Asset
from marketdash.domain.i18n import Msg, msg
from marketdash.domain.records import CLOSE, DELAYED, MalformedValueError, Quote, parse_decimal, parse_yyyymmdd


def _number(output: dict, field: str, what: str, *, excd: bool = False) -> float:
    """A price field that must be there and above zero; anything else is the source saying 'no such thing'
    (`excd`: for an overseas symbol, whose usual cause is a wrong exchange code)."""
    suffix = "_excd" if excd else ""
    try:
        value = parse_decimal(output.get(field), field)
    except MalformedValueError:
        raise NoDataError(msg(f"err.quote_empty{suffix}", what=what, field=field)) from None
    if value is None or value <= 0:
        raise NoDataError(msg(f"err.quote_zero{suffix}", what=what, value=repr(output.get(field))))
    return value


def _signed(output: dict, field: str) -> float:
    try:
        return parse_decimal(output.get(field), field) or 0.0
    except MalformedValueError as exc:
        raise BadResponseError(msg("err.malformed_field", detail=exc.msg)) from None


def domestic_stock(asset: Asset, output: dict, at: dt.datetime) -> Quote:
    """FHKST01010100 `output`: no previous-close field; it is the price less the signed change."""
    price = _number(output, "stck_prpr", f"{asset.code}")
    return Quote(asset.id, price, price - _signed(output, "prdy_vrss"), asset.currency, "kis", at, False)


def domestic_index(asset: Asset, output: dict, at: dt.datetime) -> Quote:
    """FHPUP02100000 `output`; the change fields are `bstp_nmix_prdy_vrss` / `bstp_nmix_prdy_ctrt`."""
    price = _number(output, "bstp_nmix_prpr", f"index {asset.code}")
    return Quote(asset.id, price, price - _signed(output, "bstp_nmix_prdy_vrss"), asset.currency, "kis", at, False)


def domestic_index_chart(asset: Asset, output1: dict, at: dt.datetime) -> Quote:
    """FHKUP03500100 `output1` (paper's way to the current index): `prdy_nmix` is the previous close."""
    price = _number(output1, "bstp_nmix_prpr", f"index {asset.code}")
    return Quote(
        asset.id, price, _number(output1, "prdy_nmix", f"index {asset.code}"), asset.currency, "kis", at, False
    )


def _closed_at(asset: Asset, session: dt.date) -> dt.datetime:
    return dt.datetime.combine(session, asset.close_time, tzinfo=asset.tz).astimezone(dt.UTC)


def overseas_stock(asset: Asset, output: dict, at: dt.datetime) -> Quote:
    """HHDFS00000300 `output`: `base` is the previous close; `diff` is unsigned (direction in `sign`), unused.

    Outside US hours there is no trade to quote: after the close and before the pre-market `last` is "", and before
    the open it equals `base` with `tvol` "0" and `sign` "0". The price is then `base`, the last session's close,
    dated by that session. A symbol is unknown only when `base` is blank too (a wrong exchange answers every field
    empty)."""
    what = f"{asset.market_code}/{asset.code}"
    base = _number(output, "base", what, excd=True)
    last = str(output.get("last") or "").strip()
    quiet = str(output.get("tvol") or "").strip() in ("", "0") and str(output.get("sign") or "").strip() == "0"
    if not last or (quiet and parse_decimal(last, "last") == base):
        session = calendars.expected_last_session(asset, at)
        return Quote(asset.id, base, math.nan, asset.currency, "kis", _closed_at(asset, session), False,
                     kind=CLOSE, session=session)  # fmt: skip
    return Quote(asset.id, _number(output, "last", what, excd=True), base, asset.currency, "kis", at, False)


def overseas_chart(asset: Asset, output1: dict, at: dt.datetime, rows: object = None) -> Quote:
    """FHKST03030100 `output1` (gold, silver, USD/KRW, indices): values may be space-padded; `0.00` means a wrong
    symbol. An answer counts only with bars in `output2` (the dead `S` market answers a frozen `output1` and none).
    KIS calls `output1` "delayed or closing": it is dated by the newest bar, and is the close of that session
    unless that session is the one under way now (then a delayed price of it)."""
    dated = [r for r in rows if isinstance(r, dict) and str(r.get("stck_bsop_date") or "").strip()] if isinstance(
        rows, list) else []  # fmt: skip
    if not dated:
        raise NoDataError(msg("err.quote_no_rows", code=asset.code))
    try:
        newest = max(parse_yyyymmdd(r["stck_bsop_date"], "stck_bsop_date") for r in dated)
    except MalformedValueError as exc:
        raise BadResponseError(msg("err.malformed_field", detail=exc.msg)) from None
    price = _number(output1, "ovrs_nmix_prpr", asset.code)
    prev = _number(output1, "ovrs_nmix_prdy_clpr", asset.code)
    if market_clock.session_under_way(asset, at) == newest:
        return Quote(asset.id, price, prev, asset.currency, "kis", at, False, kind=DELAYED, session=newest)
    return Quote(asset.id, price, prev, asset.currency, "kis", _closed_at(asset, newest), False, kind=CLOSE,
                 session=newest)  # fmt: skip


def ticker(asset: Asset, rows: object, source: str) -> Quote:
    """Upbit or Bithumb `/v1/ticker`: a JSON array; numbers are numbers; `trade_timestamp` is the trade's time (ms)."""
    row = rows[0] if isinstance(rows, list) and rows and isinstance(rows[0], dict) else None
    if row is None or row.get("market") != asset.code:
        raise BadResponseError(msg("err.ticker_shape", source=source_name(source), market=asset.code))
    price, prev = _number(row, "trade_price", asset.code), _number(row, "prev_closing_price", asset.code)
    try:
        at = dt.datetime.fromtimestamp(float(row["trade_timestamp"]) / 1000, dt.UTC)
    except (KeyError, TypeError, ValueError):
        raise BadResponseError(msg("err.ticker_time", source=source_name(source))) from None
    return Quote(asset.id, price, prev, asset.currency, source, at, True)


@dataclass(frozen=True)
class QuoteCall:
    path: str
    tr_id: str
    params: Callable[[Asset, str, dt.date], dict[str, str]]  # (asset, market code, today in Seoul)
    output: str  # "output" or "output1"
    transform: Callable[..., Quote]  # (asset, output, fetch time[, rows=output2])


def _chart_window(asset: Asset, market: str, today: dt.date) -> dict[str, str]:
    """About a week back: asking for today alone returns nothing on holidays and early mornings."""
    return {"FID_COND_MRKT_DIV_CODE": market, "FID_INPUT_ISCD": asset.code, "FID_PERIOD_DIV_CODE": "D",
            "FID_INPUT_DATE_1": (today - dt.timedelta(days=7)).strftime("%Y%m%d"),
            "FID_INPUT_DATE_2": today.strftime("%Y%m%d")}  # fmt: skip


_STOCK = QuoteCall(
    "/uapi/domestic-stock/v1/quotations/inquire-price", "FHKST01010100",
    lambda a, m, t: {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": a.code}, "output", domestic_stock,
)  # fmt: skip
_INDEX = QuoteCall(
    "/uapi/domestic-stock/v1/quotations/inquire-index-price", "FHPUP02100000",
    lambda a, m, t: {"FID_COND_MRKT_DIV_CODE": "U", "FID_INPUT_ISCD": a.code}, "output", domestic_index,
)  # fmt: skip
_INDEX_CHART = QuoteCall(
    "/uapi/domestic-stock/v1/quotations/inquire-daily-indexchartprice", "FHKUP03500100", _chart_window, "output1",
    domestic_index_chart,
)  # fmt: skip
_OVERSEAS = QuoteCall(
    "/uapi/overseas-price/v1/quotations/price", "HHDFS00000300",
    lambda a, m, t: {"AUTH": "", "EXCD": m, "SYMB": a.code}, "output", overseas_stock,
)  # fmt: skip
_CHART = QuoteCall(
    "/uapi/overseas-price/v1/quotations/inquire-daily-chartprice", "FHKST03030100", _chart_window, "output1",
    overseas_chart,
)  # fmt: skip
QUOTE_CALLS = {"domestic_stock": _STOCK, "domestic_index": _INDEX, "overseas_stock": _OVERSEAS,
               "overseas_chart": _CHART}  # fmt: skip


class KisQuoter:
    """Current prices through the history client (same token, same budget). KOSPI 200's current-index endpoint is
    real-only: paper keys, or a host that answers 'not offered', use the daily index chart's `output1`."""

    source = "kis"

    def __init__(self, kis: KisCollector, *, paper: bool = False) -> None:
        self.kis = kis
        self.paper = paper

    def quote(self, asset: Asset) -> Quote:
        call = _INDEX_CHART if self.paper and asset.kind == "domestic_index" else QUOTE_CALLS[asset.kind]
        try:
            return self._quote(call, asset)
        except SubscriptionError:
            if call is not _INDEX:
                raise
            return self._quote(_INDEX_CHART, asset)

    def _quote(self, call: QuoteCall, asset: Asset) -> Quote:
        """A US symbol no list named answers under one exchange code (NAS, NYS or AMS): try each until one does."""
        codes = self.kis.market_codes(asset)
        today = clock.now().astimezone(dt.timezone(dt.timedelta(hours=9))).date()
        failures: list[Msg] = []
        for market in codes:
            body = self.kis.call(call.path, call.tr_id, call.params(asset, market, today), asset)
            output = body.get(call.output)
            try:
                if not isinstance(output, dict) or not output:
                    raise NoDataError(msg("err.quote_missing", code=asset.code, tr_id=call.tr_id))
                rows = {"rows": body.get("output2")} if call is _CHART else {}
                quote = call.transform(asset, output, clock.now(), **rows)
            except NoDataError as exc:
                failures.append(msg("err.under_market", market=market, error=exc.msg) if len(codes) > 1 else exc.msg)
                continue
            if len(codes) > 1:
                self.kis.remember_code(asset.id, market)
            return quote
        raise NoDataError(msg("err.all_failed", failures=failures))


class TickerQuoter:
    """Upbit's (or Bithumb's) ticker; the same rate-limit steering as their candles, in the ticker's own group."""

    def __init__(self, http: HttpClient, venue: CandleVenue) -> None:
        self.http = http
        self.venue = venue
        self.source = venue.source

    def quote(self, asset: Asset) -> Quote:
        reply = self.http.request(
            "GET", "/v1/ticker", params={"markets": asset.code}, retry_delay=lambda r: steer_by_remaining(self.http, r)
        )
        return ticker(asset, check_reply(reply, self.venue.service), self.source)


class FallbackQuoter:
    """Upbit first, Bithumb when Upbit fails; the quote says which (their previous closes differ: 09:00 vs 00:00
    KST)."""

    def __init__(self, primary: Quoter, secondary: Quoter) -> None:
        self.primary, self.secondary = primary, secondary
        self.source = primary.source

    def quote(self, asset: Asset) -> Quote:
        try:
            return self.primary.quote(asset)
        except CollectorError as first:
            try:
                return self.secondary.quote(asset)
            except CollectorError as second:
                raise type(second)(
                    msg("err.both_failed", first_source=source_name(self.primary.source), first=first.msg,
                        second_source=source_name(self.secondary.source), second=second.msg)
                ) from None  # fmt: skip


def coin_quoter(upbit_url: str, bithumb_url: str) -> Quoter:
    upbit = TickerQuoter(HttpClient(upbit_url, service="Upbit", max_rps=8.0, max_attempts=3), UPBIT)
    bithumb = TickerQuoter(HttpClient(bithumb_url, service="Bithumb", max_rps=8.0, max_attempts=2), BITHUMB)
    return FallbackQuoter(upbit, bithumb)
