"""A local KIS Open API server on 127.0.0.1 that speaks the wire format of shared/kis-api.md.

Token issuance with the one-per-minute rule (EGW00133) and secret check (EGW00105); bearer checks (EGW00121,
EGW00123 once tokens are expired); per-app-key rate limiting answering HTTP 500 EGW00201; row caps (100, 50, 100),
newest first, date-cursor paging with no tr_cont; empty objects in output2; holidays simply absent; numbers as
strings; a wrong exchange code answering rt_cd "0" with no rows; gold and silver under one market code only; and
faults on demand: HTML 502 pages, slow answers, a paper key on the real host (EGW02004), and spurious EGW00201
refusals under the limit (as KIS's gateway sends in the field), half as HTTP 500 and half as HTTP 200 with rt_cd "1".

And the answers projects that logged real calls measured (kis-api.md, "Field facts measured by others"): the `S`
market a dead feed (a frozen 2023 `output1`, no rows), a US price outside hours (`last` "" after the close, `last`
equal to `base` with no volume before the open), the overseas chart's `output1` delayed to the previous US close in
the Korean daytime, the symbol sent with its master class letter answering nothing, `rt_cd "2"` OPSQ2002 for an input
KIS rejects, and EGW00121 (an invalid token) where a token dies early.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from tests import kis_dividends_server as dividends
from tests.local_server import LocalServer, QuietHandler

KST = ZoneInfo("Asia/Seoul")
APP_KEY = "PSk1Tz0TESTAPPKEY0000000000000000001"
APP_SECRET = "s3cr3t/TESTSECRETvalue+0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLmnopqrstuvwxyz0123456789=="
PAPER_KEY = "PSpaperKEYonREALhost000000000000002"

# Holidays the server's markets observe (only to have gaps; the collector must not need a calendar).
KRX_HOLIDAYS = {
    dt.date(2016, 2, 8),
    dt.date(2016, 2, 9),
    dt.date(2016, 2, 10),
    dt.date(2025, 10, 6),
    dt.date(2026, 6, 3),
}
US_HOLIDAYS = {dt.date(y, 7, 4) for y in range(2014, 2028)} | {dt.date(y, 12, 25) for y in range(2014, 2028)}

PATHS = {
    "/uapi/domestic-stock/v1/quotations/inquire-daily-itemchartprice": ("stock", "FHKST03010100", 100),
    "/uapi/domestic-stock/v1/quotations/inquire-daily-indexchartprice": ("index", "FHKUP03500100", 50),
    "/uapi/overseas-price/v1/quotations/dailyprice": ("overseas", "HHDFS76240000", 100),
    "/uapi/overseas-price/v1/quotations/inquire-daily-chartprice": ("chart", "FHKST03030100", 100),
    # current prices (shared/live-quotes.md)
    "/uapi/domestic-stock/v1/quotations/inquire-price": ("quote_stock", "FHKST01010100", 1),
    "/uapi/domestic-stock/v1/quotations/inquire-index-price": ("quote_index", "FHPUP02100000", 1),
    "/uapi/overseas-price/v1/quotations/price": ("quote_overseas", "HHDFS00000300", 1),
    **dividends.PATHS,  # the real-only dividend records (kis_dividends_server.py)
    # 주식기본조회: a KRX code's security group (ST a stock, EF an ETF, EN an ETN)
    "/uapi/domestic-stock/v1/quotations/search-stock-info": ("stock_info", "CTPF1002R", 1),
}
SECURITY_GROUPS = {"005930": "ST", "000660": "ST", "005380": "ST", "069500": "EF", "122630": "EF", "Q520086": "EN"}
QUOTE_KINDS = {"quote_stock": "stock", "quote_index": "index", "quote_overseas": "overseas"}
FIELDS = {
    "stock": ("stck_bsop_date", "stck_oprc", "stck_hgpr", "stck_lwpr", "stck_clpr", "acml_vol"),
    "index": ("stck_bsop_date", "bstp_nmix_oprc", "bstp_nmix_hgpr", "bstp_nmix_lwpr", "bstp_nmix_prpr", "acml_vol"),
    "overseas": ("xymd", "open", "high", "low", "clos", "tvol"),
    "chart": ("stck_bsop_date", "ovrs_nmix_oprc", "ovrs_nmix_hgpr", "ovrs_nmix_lwpr", "ovrs_nmix_prpr", "acml_vol"),
}


@dataclass(frozen=True)
class SeriesDef:
    kind: str
    code: str
    base: float
    decimals: int
    us_calendar: bool
    excd: str = "AMS"  # the exchange an overseas stock answers on (any other answers empty values)
    market: str = ""  # the chart's market code, when it is not the kind's own


SERIES = {
    "005930": SeriesDef("stock", "005930", 30_000, 0, False),
    "000660": SeriesDef("stock", "000660", 40_000, 0, False),
    "2001": SeriesDef("index", "2001", 240, 2, False),
    "SOXL": SeriesDef("overseas", "SOXL", 5, 4, True),
    "FX@KRW": SeriesDef("chart", "FX@KRW", 1100, 2, False),
    "NYGOLD": SeriesDef("chart", "NYGOLD", 1200, 2, True),
    "NYSILV": SeriesDef("chart", "NYSILV", 16, 3, True),
    # added symbols (issue 16): a KOSPI stock, an ETN (its Q kept), the KOSDAQ index, a NASDAQ stock, the S&P 500
    "005380": SeriesDef("stock", "005380", 150_000, 0, False),
    "Q520086": SeriesDef("stock", "Q520086", 9_000, 0, False),
    "1001": SeriesDef("index", "1001", 700, 2, False),
    "NVDA": SeriesDef("overseas", "NVDA", 20, 4, True, excd="NAS"),
    "SPX": SeriesDef("chart", "SPX", 2000, 2, True, market="N"),
    # one of each overseas class the chart serves (the master's class letter is never part of the code sent)
    "XAUUSDCOMP": SeriesDef("chart", "XAUUSDCOMP", 1300, 2, True, market="N"),  # C: a commodity
    "Y0202": SeriesDef("chart", "Y0202", 2.5, 3, True, market="I"),  # B: a government bond's yield
    "FX@JPY": SeriesDef("chart", "FX@JPY", 110, 2, False, market="X"),  # X: an FX rate
    "JP#NI225": SeriesDef("chart", "JP#NI225", 20000, 2, True, market="N"),  # W: a world index
    # frgn_code.mst's swapped pair: FX@INR answers the rupiah's rate, FX@IDR the rupee's
    "FX@INR": SeriesDef("chart", "FX@INR", 16000, 2, False, market="X"),
    "FX@IDR": SeriesDef("chart", "FX@IDR", 85, 2, False, market="X"),
}
FROZEN_S = {"ovrs_nmix_prpr": "1928.60", "ovrs_nmix_prdy_clpr": "1925.10", "ovrs_nmix_prdy_vrss": "3.50",
            "prdy_ctrt": "0.18", "hts_kor_isnm": "금선물"}  # fmt: skip


def trading_days(us: bool, start: dt.date, end: dt.date) -> list[dt.date]:
    holidays = US_HOLIDAYS if us else KRX_HOLIDAYS
    days, d = [], start
    while d <= end:
        if d.weekday() < 5 and d not in holidays:
            days.append(d)
        d += dt.timedelta(days=1)
    return days


def _fmt(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


@dataclass
class KisServer(LocalServer):
    rps: int = 20
    token_interval: float = 60.0
    gold_market: str = "N"
    history_start: dt.date = dt.date(2014, 1, 2)
    today: dt.date = field(default_factory=lambda: dt.datetime.now(KST).date())
    # state and counters
    token_issues: int = 0
    rate_limited: int = 0
    calls: list = field(default_factory=list)  # (path, params) of data calls that got an answer
    first_request_at: float | None = None  # time.monotonic() of the first request of any kind (bench/backfill.py)
    first_data_at: float | None = None  # time.monotonic() of the first data call answered (bench/backfill.py)
    html_502_next: int = 0  # the next N data calls answer an HTML 502 page
    fail_after: int | None = None  # after this many data calls, every call answers HTML 502
    slow_next: int = 0  # the next N data calls are answered after `slow_seconds`
    slow_seconds: float = 0.0
    html_502_share: float = 0.0  # this share of data calls (seeded, repeatable) answers an HTML 502 page
    spurious_refusal_share: float = 0.0  # this share of data calls under the limit (seeded) is refused EGW00201
    first_token_dies_after: int | None = None  # the first token issued is refused (EGW00123) after this many calls
    index_quote_offered: bool = True  # False: FHPUP02100000 answers MCA00124, as on a paper host
    quote_faults: dict = field(default_factory=dict)  # code -> "empty" ("" values) or "zero" ("0" / "0.00")
    us_hours: str = "open"  # HHDFS00000300: "open", "closed" (last "") or "preopen" (last == base, no volume)
    chart_delayed: bool = False  # FHKST03030100's output1 is the previous session's close, today's bar not yet out
    first_token_invalid_after: int | None = None  # the first token is refused EGW00121 after this many calls
    input_errors: set = field(default_factory=set)  # codes answered rt_cd "2" OPSQ2002 (an input KIS rejects)
    # dividend records (kis_dividends_server.py): by default 삼성전자 (and 005935) quarterly 361원, SK하이닉스
    # quarterly 300원, SOXL quarterly in USD, QQQ beside QQQM
    payouts: list | None = None
    paper_host: bool = False  # the paper host: the real-only dividend TRs are refused
    ksd_key: str = "output1"  # where HHKDB669102C0 puts its rows ("output" as some replies do)
    ksd_single_object: bool = False  # one row sent as an object, not an array
    ksd_repeat_pages: bool = False  # HHKDB669102C0 says "more" (tr_cont M) and its next page repeats the rows
    page_rows: int = 0  # CTRGT011R rows per page (0: all on one page)

    def __post_init__(self) -> None:
        self.tokens: dict[str, tuple[str, dt.datetime]] = {}
        self.last_issue: dict[str, float] = {}
        self.windows: dict[str, deque] = {}
        self.lock = threading.Lock()
        self.random = random.Random(20260702)
        self.noise = random.Random(20261202)  # spurious refusals: their own sequence, so 502s stay where they were
        self.served_502 = 0
        self.spurious_refused = 0  # refusals under the limit (not in rate_limited, which counts real ones)
        self._first_token: str | None = None
        self._first_token_uses = 0
        self._rows: dict[str, list[dict[str, str]]] = {}
        self.live: dict[str, float] = {}  # code -> current price; default: 1 % above the previous close
        self._days = {us: trading_days(us, self.history_start, self.today) for us in (False, True)}
        if self.payouts is None:
            year = self.history_start.year
            hynix = dividends.krx_quarterly(max(year, 2021), self.today, 300, (("000660", "보통"),))
            soxl = dividends.soxl(year, self.today, self._days[True])
            self.payouts = [*dividends.krx_quarterly(year, self.today), *hynix, *soxl, *dividends.qqq(self.today)]

    # -- live prices ---------------------------------------------------------------------------------------------
    def prev_close(self, code: str) -> float:
        return float(self.rows(code)[-1][FIELDS[SERIES[code].kind][4]])

    def price(self, code: str) -> float:
        return self.live.get(code, round(self.prev_close(code) * 1.01, SERIES[code].decimals))

    def set_price(self, code: str, price: float) -> None:
        with self.lock:
            self.live[code] = price

    def quote_calls(self) -> list:
        """Calls for current prices: the quote endpoints, and the week-long chart windows quotes ask for."""
        week = (self.today - dt.timedelta(days=8)).strftime("%Y%m%d")
        quotes = [c for c in self.calls if PATHS[c[0]][0] in QUOTE_KINDS]
        return quotes + [c for c in self.calls if c[1].get("FID_INPUT_DATE_1", "0") >= week]

    # -- data ----------------------------------------------------------------------------------------------------
    def rows(self, code: str) -> list[dict[str, str]]:
        """The series' bars oldest first as wire strings (the truth tests compare the store with); built once per
        series, so answering a call costs the server little of the GIL it shares with the client under test."""
        with self.lock:
            if code not in self._rows:
                self._rows[code] = self._build_rows(code)
            return self._rows[code]

    def _build_rows(self, code: str) -> list[dict[str, str]]:
        s = SERIES[code]
        out = []
        for i, day in enumerate(self._days[s.us_calendar]):
            close = s.base * math.exp(0.0004 * i + 0.05 * math.sin(i / 9.0) + 0.01 * math.sin(i * 1.7))
            opn = close * (1 + 0.004 * math.sin(i * 2.3))
            f = FIELDS[s.kind]
            out.append(
                {
                    f[0]: day.strftime("%Y%m%d"),
                    f[1]: _fmt(opn, s.decimals),
                    f[2]: _fmt(max(opn, close) * 1.01, s.decimals),
                    f[3]: _fmt(min(opn, close) * 0.99, s.decimals),
                    f[4]: _fmt(close, s.decimals),
                    f[5]: str(1_000_000 + (i * 7919) % 500_000),
                }
            )
        return out

    def expected(self, code: str, start: dt.date, end: dt.date) -> list[tuple]:
        """(date, open, high, low, close, volume) as floats for [start, end]."""
        f = FIELDS[SERIES[code].kind]
        out = []
        for r in self.rows(code):
            day = dt.datetime.strptime(r[f[0]], "%Y%m%d").date()
            if start <= day <= end:
                out.append((day, *(float(r[k]) for k in f[1:])))
        return out

    # -- control -------------------------------------------------------------------------------------------------
    def expire_all_tokens(self) -> None:
        with self.lock:
            for token, (key, _) in list(self.tokens.items()):
                self.tokens[token] = (key, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))

    def data_calls(self, path_kind: str | None = None) -> list:
        return [c for c in self.calls if path_kind is None or PATHS[c[0]][0] == path_kind]

    # -- serving -------------------------------------------------------------------------------------------------
    def start(self) -> KisServer:
        server = self

        class Handler(QuietHandler):
            def _send(self, status: int, body: dict | bytes, headers: dict | None = None) -> None:
                if isinstance(body, bytes):
                    return self.send_body(status, body, "text/html")
                self.send_body(status, json.dumps(body, ensure_ascii=False).encode(), "application/json; charset=utf-8",
                               headers)  # fmt: skip

            def handle_one_request(self) -> None:
                server.first_request_at = server.first_request_at or time.monotonic()
                super().handle_one_request()

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                if urlsplit(self.path).path != "/oauth2/tokenP":
                    return self._send(404, {"error_code": "404", "error_description": "not found"})
                self._send(*server.issue(json.loads(raw or b"{}")))

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                params = dict(parse_qsl(url.query, keep_blank_values=True))
                self._send(*server.answer(url.path, params, {k.lower(): v for k, v in self.headers.items()}))

        self.serve(Handler)
        return self

    def issue(self, body: dict) -> tuple[int, dict]:
        key, secret = body.get("appkey"), body.get("appsecret")
        if body.get("grant_type") != "client_credentials":
            return 403, {"error_code": "EGW00002", "error_description": "grant_type 오류"}
        if key not in (APP_KEY, PAPER_KEY) or secret != APP_SECRET:
            return 403, {"error_code": "EGW00105", "error_description": "유효하지 않은 AppSecret입니다."}
        with self.lock:
            now = time.time()
            if now - self.last_issue.get(key, -1e9) < self.token_interval:
                return 403, {
                    "error_code": "EGW00133",
                    "error_description": "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)",
                }
            self.last_issue[key] = now
            self.token_issues += 1
            token = "eyJ0eXAiOiJKV1Qi." + uuid.uuid4().hex + uuid.uuid4().hex
            expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=24)
            self.tokens[token] = (key, expires)
            self._first_token = self._first_token or token
        return 200, {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 86400,
            "access_token_token_expired": expires.astimezone(KST).strftime("%Y-%m-%d %H:%M:%S"),
        }

    def _error(self, status: int, code: str, msg: str) -> tuple[int, dict]:
        return status, {"rt_cd": "1", "msg_cd": code, "msg1": msg}

    def answer(self, path: str, params: dict, headers: dict) -> tuple:
        if path not in PATHS:
            return 404, {"rt_cd": "1", "msg_cd": "404", "msg1": "not found"}
        kind, tr_id, cap = PATHS[path]
        key = headers.get("appkey")
        auth = headers.get("authorization", "")
        with self.lock:
            token = auth.removeprefix("Bearer ").strip()
            owner = self.tokens.get(token)
            if owner is None or owner[0] != key or headers.get("appsecret") != APP_SECRET:
                return self._error(500, "EGW00121", "유효하지 않은 token 입니다.")
            if owner[1] < dt.datetime.now(dt.UTC):
                return self._error(500, "EGW00123", "기간이 만료된 token 입니다.")
            if token == self._first_token and self.first_token_dies_after is not None:
                if self._first_token_uses >= self.first_token_dies_after:
                    return self._error(500, "EGW00123", "기간이 만료된 token 입니다.")
                self._first_token_uses += 1
            if token == self._first_token and self.first_token_invalid_after is not None:
                if self._first_token_uses >= self.first_token_invalid_after:
                    return self._error(500, "EGW00121", "유효하지 않은 token 입니다.")
                self._first_token_uses += 1
            window = self.windows.setdefault(key, deque())
            now = time.monotonic()
            while window and now - window[0] >= 1.0:
                window.popleft()
            if len(window) >= self.rps:
                self.rate_limited += 1
                return self._error(500, "EGW00201", "초당 거래건수를 초과하였습니다.")
            if self.spurious_refusal_share and self.noise.random() < self.spurious_refusal_share:
                self.spurious_refused += 1
                status = 500 if self.spurious_refused % 2 else 200
                return self._error(status, "EGW00201", "초당 거래건수를 초과하였습니다.")
            window.append(now)
            if key == PAPER_KEY:
                return self._error(500, "EGW02004", "실전투자 TR이 아닙니다. 모의투자 TR을 사용하세요.")
            if self.fail_after is not None and len(self.calls) >= self.fail_after:
                return (
                    502,
                    b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>",
                )
            if self.html_502_next > 0 or self.random.random() < self.html_502_share:
                self.html_502_next = max(0, self.html_502_next - 1)
                self.served_502 += 1
                return 502, b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            slow = self.slow_seconds if self.slow_next > 0 else 0.0
            self.slow_next = max(0, self.slow_next - 1)
        if slow:
            time.sleep(slow)
        if headers.get("tr_id") != tr_id or headers.get("custtype") != "P":
            return self._error(500, "OPSQ0002", "없는 서비스 코드 입니다")
        code = params.get("FID_INPUT_ISCD") or params.get("SYMB", "")
        reply_headers: dict = {}
        if kind in dividends.REAL_ONLY:
            status, body, reply_headers = dividends.answer(self, kind, params, headers)
        elif code in self.input_errors:
            status, body = 500, {"rt_cd": "2", "msg_cd": "OPSQ2002", "msg1": "ERROR : INPUT_FIELD_SIZE 오류"}
        elif kind == "quote_index" and not self.index_quote_offered:
            status, body = self._error(500, "MCA00124", "모의투자에서는 해당업무가 제공되지 않습니다.")
        elif kind in QUOTE_KINDS:
            status, body = self._quote(kind, params)
        elif kind == "stock_info":
            status, body = self._stock_info(params)
        else:
            status, body = self._chart(kind, cap, params)
        with self.lock:
            self.calls.append((path, params))
            self.first_data_at = self.first_data_at or time.monotonic()
        return status, body, reply_headers

    def _stock_info(self, params: dict) -> tuple[int, dict]:
        """주식기본조회 (CTPF1002R): `scty_grp_id_cd` of the codes in SECURITY_GROUPS; an unknown code answers
        success with blank fields, as KIS does for a code it does not know."""
        code = params.get("PDNO", "")
        group = SECURITY_GROUPS.get(code, "")
        out = {"pdno": code if group else "", "prdt_type_cd": params.get("PRDT_TYPE_CD", ""), "scty_grp_id_cd": group,
               "mket_id_cd": "STK" if group else "", "excg_dvsn_cd": "02" if group else ""}  # fmt: skip
        return 200, {"rt_cd": "0", "msg_cd": "KIOK0000", "msg1": "정상처리 되었습니다.", "output": out}

    def _snapshot(self, code: str) -> tuple[str, str, str, str]:
        """(price, previous close, signed change, change %) as wire strings, with the faults asked for."""
        s = SERIES[code]
        price, prev = self.price(code), self.prev_close(code)
        fault = self.quote_faults.get(code)
        if fault == "empty":
            return "", "", "", ""
        if fault == "zero":
            zero = _fmt(0, s.decimals)
            return zero, zero, zero, "0.00"
        return (_fmt(price, s.decimals), _fmt(prev, s.decimals), _fmt(price - prev, s.decimals),
                f"{(price / prev - 1) * 100:.2f}")  # fmt: skip

    def _quote(self, kind: str, params: dict) -> tuple[int, dict]:
        ok = {"rt_cd": "0", "msg_cd": "MCA00000", "msg1": "정상처리 되었습니다."}
        code = params.get("FID_INPUT_ISCD") or params.get("SYMB", "")
        known = code in SERIES and SERIES[code].kind == QUOTE_KINDS[kind]
        if kind == "quote_overseas":
            if not known or params.get("EXCD") != SERIES[code].excd:  # a wrong exchange: success, empty strings
                return 200, {**ok, "output": {"rsym": "", "zdiv": "", "base": "", "last": "", "sign": "", "diff": "",
                                              "rate": ""}}  # fmt: skip
            price, prev, change, pct = self._snapshot(code)
            sign = "2" if change and float(change) > 0 else "5" if change and float(change) < 0 else "3"
            diff = change.lstrip("-")  # unsigned: the direction is in `sign`
            out = {"rsym": f"D{SERIES[code].excd}{code}", "zdiv": "4", "base": prev, "last": price, "sign": sign,
                   "diff": diff, "rate": pct, "tvol": "18234511", "ordy": "매수가능"}  # fmt: skip
            if self.us_hours == "closed":  # after the close, before the pre-market: no last price at all
                out.update(last="", diff="", rate="", sign="", tvol="")
            elif self.us_hours == "preopen":  # before the open: the previous close, nothing traded
                out.update(last=prev, diff="0.0000", rate="0.00", sign="0", tvol="0")
            return 200, {**ok, "output": out}
        if not known:  # an unknown stock: success with a price of "0"
            return 200, {**ok, "output": {"stck_prpr": "0", "prdy_vrss": "0", "prdy_ctrt": "0.00"}}
        price, prev, change, pct = self._snapshot(code)
        if kind == "quote_stock":
            out = {"stck_prpr": price, "prdy_vrss": change, "prdy_ctrt": pct, "stck_sdpr": prev,
                   "rprs_mrkt_kor_name": "KOSPI200", "stck_shrn_iscd": code}  # fmt: skip
        else:
            out = {"bstp_nmix_prpr": price, "bstp_nmix_prdy_vrss": change, "bstp_nmix_prdy_ctrt": pct}
        return 200, {**ok, "output": out}

    def _chart(self, kind: str, cap: int, params: dict) -> tuple[int, dict]:
        ok = {"rt_cd": "0", "msg_cd": "MCA00000", "msg1": "정상처리 되었습니다."}
        if kind == "overseas":
            symbol = params.get("SYMB", "")
            if symbol not in SERIES or params.get("EXCD") != SERIES[symbol].excd:
                return 200, {**ok, "output1": {"rsym": "", "zdiv": "0", "nrec": "0"}, "output2": []}
            end = dt.datetime.strptime(params["BYMD"], "%Y%m%d").date() if params.get("BYMD") else self.today
            rows = [r for r in self.rows(params["SYMB"]) if r["xymd"] <= end.strftime("%Y%m%d")]
            page = list(reversed(rows[-cap:]))
            out1 = {"rsym": f"D{SERIES[symbol].excd}{symbol}", "zdiv": "4", "nrec": str(len(page))}
            return 200, {**ok, "output1": out1, "output2": page}
        code, market = params.get("FID_INPUT_ISCD", ""), params.get("FID_COND_MRKT_DIV_CODE")
        wanted_market = {"stock": "J", "index": "U"}.get(kind) or ("X" if code == "FX@KRW" else self.gold_market)
        if code in SERIES and SERIES[code].market:
            wanted_market = SERIES[code].market
        if kind == "chart" and market == "S":  # 금선물: answers every code with values frozen in 2023, no rows
            return 200, {**ok, "output1": {**FROZEN_S, "stck_shrn_iscd": code}, "output2": []}
        if code not in SERIES or SERIES[code].kind != kind or market != wanted_market:
            return 200, {**ok, "output1": {}, "output2": []}
        if params.get("FID_PERIOD_DIV_CODE") != "D":
            return self._error(500, "OPSQ2001", "FID_PERIOD_DIV_CODE 오류")
        if kind == "stock" and params.get("FID_ORG_ADJ_PRC") != "0":
            return self._error(500, "OPSQ2001", "test server serves adjusted prices only (FID_ORG_ADJ_PRC=0)")
        d1, d2 = params.get("FID_INPUT_DATE_1", ""), params.get("FID_INPUT_DATE_2", "")
        date_field = FIELDS[kind][0]
        if kind == "chart" and self.chart_delayed:  # the Korean daytime: the US session of today has no bar yet
            d2 = min(d2, (self.today - dt.timedelta(days=1)).strftime("%Y%m%d"))
        rows = [r for r in self.rows(code) if d1 <= r[date_field] <= d2]
        page = list(reversed(rows[-cap:]))
        if kind == "stock" and len(page) < cap:
            page.append({})  # KIS pads short pages with empty objects
        price, prev, change, pct = self._snapshot(code)
        if kind == "index":
            out1 = {"hts_kor_isnm": "코스피200", "bstp_nmix_prpr": price, "prdy_nmix": prev,
                    "bstp_nmix_prdy_vrss": change, "bstp_nmix_prdy_ctrt": pct}  # fmt: skip
        elif kind == "chart":  # the snapshot gold, silver and USD/KRW quotes read (values may come space-padded)
            if self.chart_delayed and len(rows) >= 2:  # "지연시세 or 종가시세": the newest bar's close
                close = FIELDS["chart"][4]
                price, prev = rows[-1][close], rows[-2][close]
                change = _fmt(float(price) - float(prev), SERIES[code].decimals)
            out1 = {"hts_kor_isnm": code, "stck_shrn_iscd": code, "ovrs_nmix_prpr": f"  {price}",
                    "ovrs_nmix_prdy_clpr": prev, "ovrs_nmix_prdy_vrss": change, "prdy_ctrt": pct}  # fmt: skip
        else:
            out1 = {"hts_kor_isnm": code, "stck_prpr": price}
        return 200, {**ok, "output1": out1, "output2": page}


def cli_env(server: KisServer, tmp_path, **extra: str) -> dict[str, str]:
    """A child process's environment: online, KIS keys for this server, the token cache under tmp_path."""
    import os

    from tests.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if k != "DASHBOARD_OFFLINE"}
    env.update(PYTHONPATH=str(ROOT), KIS_BASE_URL=server.url, KIS_APP_KEY=APP_KEY, KIS_APP_SECRET=APP_SECRET,
               KIS_TOKEN_CACHE=str(tmp_path / "token.json"), KIS_MASTER_URL="http://127.0.0.1:9")  # fmt: skip
    env.update(extra)
    return env
