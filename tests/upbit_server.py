"""A local Upbit (or Bithumb) day-candle server on 127.0.0.1 speaking the documented format.

`GET /v1/candles/days?market=KRW-BTC&count=200&to=…`: at most 200 candles, newest first, `to` exclusive (read as
UTC without an offset on Upbit, as KST on Bithumb), no candle on days without trades, `Remaining-Req` on every
answer, 429 over 10 calls a second, and 418 (blocked, with Retry-After) for a client that keeps going after 429s.
Faults on demand: malformed JSON, HTML 5xx pages after N calls. Other KRW markets (`markets`, a price scale
each) trade the same days; `GET /v1/market/all?isDetails=true` lists them with their `market_event` flags.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from tests.local_server import LocalServer, QuietHandler

KST = dt.timezone(dt.timedelta(hours=9))


@dataclass
class UpbitServer(LocalServer):
    venue: str = "upbit"  # "bithumb": naive `to` is KST
    first_day: dt.date = dt.date(2017, 9, 25)
    last_day: dt.date = dt.date(2026, 7, 10)
    no_trade_days: frozenset = frozenset({dt.date(2018, 3, 3), dt.date(2021, 5, 19), dt.date(2024, 2, 29)})
    per_second: int = 10
    block_after_429s: int = 5  # this many 429s within 10 s and the client is blocked
    block_seconds: int = 60
    price_shift: float = 0.0  # Bithumb's prices differ a little from Upbit's
    calls: list = field(default_factory=list)  # query params of every request
    too_many: int = 0
    blocked_answers: int = 0
    malformed_next: int = 0
    fail_after: int | None = None
    blocked_until: float = 0.0
    send_remaining: bool = True  # False: the client has only 429s to go by
    ticker_price: float | None = None  # the ticker's current price; default 2 % above the last candle's close
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))  # the ticker's trade time
    markets: dict = field(default_factory=lambda: {"KRW-ETH": 0.04})  # further markets: price scale of BTC's
    warned: frozenset = frozenset()  # markets flagged 유의 (market_event.warning)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.window: deque = deque()
        self.recent_429: deque = deque()
        self._candles = self._make_candles()

    def candles(self, market: str = "KRW-BTC") -> list[dict]:
        """Every candle of a market, oldest first."""
        if market == "KRW-BTC":
            return self._candles
        k = self.markets[market]
        prices = ("opening_price", "high_price", "low_price", "trade_price", "prev_closing_price")
        return [{**c, "market": market, **{p: c[p] * k for p in prices}} for c in self._candles]

    def market_list(self, details: bool) -> list[dict]:
        """/v1/market/all: Upbit's own names; `market_event` only when details were asked for."""
        names = {"KRW-BTC": ("비트코인", "Bitcoin"), "KRW-ETH": ("이더리움", "Ethereum"),
                 "KRW-XRP": ("엑스알피(리플)", "XRP")}  # fmt: skip
        out = []
        for market in ["KRW-BTC", *self.markets, "BTC-ETH"]:
            ko, en = names.get(market.replace("BTC-", "KRW-"), (market, market))
            row = {"market": market, "korean_name": ko, "english_name": en}
            if details:
                row["market_event"] = {"warning": market in self.warned, "caution": {
                    "PRICE_FLUCTUATIONS": False, "TRADING_VOLUME_SOARING": False, "DEPOSIT_AMOUNT_SOARING": False,
                    "GLOBAL_PRICE_DIFFERENCES": False, "CONCENTRATION_OF_SMALL_ACCOUNTS": False}}  # fmt: skip
            out.append(row)
        return out

    def _make_candles(self) -> list[dict]:
        out, day, i = [], self.first_day, 0
        while day <= self.last_day:
            if day not in self.no_trade_days:
                close = round(20_000_000 * math.exp(0.0008 * i + 0.2 * math.sin(i / 40)) * (1 + self.price_shift), -3)
                opn = round(close * (1 + 0.01 * math.sin(i * 1.3)), -3)
                start = dt.datetime.combine(day, dt.time())
                out.append(
                    {
                        "market": "KRW-BTC",
                        "candle_date_time_utc": start.isoformat(),
                        "candle_date_time_kst": (start + dt.timedelta(hours=9)).isoformat(),
                        "opening_price": opn,
                        "high_price": max(opn, close) * 1.02,
                        "low_price": min(opn, close) * 0.98,
                        "trade_price": close,
                        "timestamp": int((start + dt.timedelta(days=1)).replace(tzinfo=dt.UTC).timestamp() * 1000) - 1,
                        "candle_acc_trade_price": close * (1000 + i % 300),
                        "candle_acc_trade_volume": 1000 + (i % 300) + 0.12345678,
                        "prev_closing_price": close,
                        "change_price": 0.0,
                        "change_rate": 0.0,
                    }
                )
            day += dt.timedelta(days=1)
            i += 1
        return out

    def expected(self, start: dt.date, end: dt.date) -> list[tuple]:
        return [
            (dt.date.fromisoformat(c["candle_date_time_utc"][:10]), c["opening_price"], c["high_price"],
             c["low_price"], c["trade_price"], c["candle_acc_trade_volume"])
            for c in self.candles()
            if start <= dt.date.fromisoformat(c["candle_date_time_utc"][:10]) <= end
        ]  # fmt: skip

    def _to(self, text: str) -> dt.datetime:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
        if t.tzinfo is None:
            t = t.replace(tzinfo=dt.UTC if self.venue == "upbit" else KST)
        return t.astimezone(dt.UTC).replace(tzinfo=None)

    def answer(self, path: str, params: dict) -> tuple[int, dict[str, str], bytes]:
        now = time.monotonic()
        with self.lock:
            self.calls.append(params)
            if now < self.blocked_until:
                self.blocked_answers += 1
                wait = math.ceil(self.blocked_until - now)
                body = {"error": {"name": "blocked", "message": f"Too many requests: blocked for {wait} s"}}
                return 418, {"Retry-After": str(wait)}, json.dumps(body).encode()
            while self.window and now - self.window[0] >= 1.0:
                self.window.popleft()
            if len(self.window) >= self.per_second:
                self.too_many += 1
                while self.recent_429 and now - self.recent_429[0] > 10:
                    self.recent_429.popleft()
                self.recent_429.append(now)
                if len(self.recent_429) >= self.block_after_429s:
                    self.blocked_until = now + self.block_seconds
                headers = {"Remaining-Req": "group=candle; min=0; sec=0"}
                return 429, headers, b'{"error":{"name":"too_many_requests","message":"Too many API requests."}}'
            self.window.append(now)
            left = self.per_second - len(self.window)
            remaining = {"Remaining-Req": f"group=candle; min=599; sec={left}"} if self.send_remaining else {}
            if self.fail_after is not None and len(self.calls) > self.fail_after:
                return 503, {}, b"<html><body>503 Service Temporarily Unavailable</body></html>"
            if self.malformed_next > 0:
                self.malformed_next -= 1
                return 200, remaining, b'[{"market":"KRW-BTC","candle_date_time_utc":"2026-07-0'
        if path == "/v1/ticker":
            return self._ticker(params, remaining)
        if path == "/v1/market/all":
            details = params.get("isDetails", params.get("is_details")) == "true"
            return 200, remaining, json.dumps(self.market_list(details), ensure_ascii=False).encode()
        market = params.get("market", "")
        if path != "/v1/candles/days" or (market != "KRW-BTC" and market not in self.markets):
            return 404, remaining, b'{"error":{"name":"404","message":"Code not found"}}'
        count = min(int(params.get("count", 1)), 200)
        to = (
            self._to(params["to"])
            if params.get("to")
            else dt.datetime.combine(self.last_day, dt.time()) + dt.timedelta(days=1)
        )
        older = [c for c in self.candles(market) if dt.datetime.fromisoformat(c["candle_date_time_utc"]) < to]
        return 200, remaining, json.dumps(list(reversed(older[-count:]))).encode()

    def _ticker(self, params: dict, remaining: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """`/v1/ticker?markets=KRW-BTC` (shared/live-quotes.md 3.5): an array, numbers as numbers, the rate a
        fraction, the trade time in ms; its own `ticker` group in Remaining-Req."""
        headers = {k: v.replace("group=candle", "group=ticker") for k, v in remaining.items()}
        market = params.get("markets", "")
        if market != "KRW-BTC" and market not in self.markets:
            return 404, headers, b'{"error":{"name":"404","message":"Code not found"}}'
        prev = self.candles(market)[-1]["trade_price"]
        price = (self.ticker_price if market == "KRW-BTC" else None) or prev * 1.02
        now = self.clock()
        row = {
            "market": market, "trade_date": now.strftime("%Y%m%d"), "trade_time": now.strftime("%H%M%S"),
            "trade_timestamp": int(now.timestamp() * 1000) - 1500, "trade_price": price, "prev_closing_price": prev,
            "change": "RISE" if price > prev else "FALL" if price < prev else "EVEN",
            "signed_change_price": price - prev, "signed_change_rate": price / prev - 1,
            "timestamp": int(now.timestamp() * 1000),
        }  # fmt: skip
        return 200, headers, json.dumps([row]).encode()

    def start(self) -> UpbitServer:
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                status, headers, body = server.answer(url.path, dict(parse_qsl(url.query)))
                ctype = "text/html" if body.startswith(b"<") else "application/json; charset=utf-8"
                self.send_body(status, body, ctype, headers)

        self.serve(Handler)
        return self
