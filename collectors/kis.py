"""KIS daily chart endpoints for KOSPI 200, Samsung, SK hynix, SOXL, gold, silver, USD/KRW and added symbols
(KRX stocks, ETFs, ETNs and indices, US stocks and ETFs, overseas indices, FX and commodities).

Three steps, as in OpenBB's fetchers: `Endpoint.params` turns a date window into the endpoint's query, `_call`
fetches one raw page (auth headers, throttle, errors), `transform` turns raw rows into DailyBar records. None of
these endpoints supports `tr_cont` continuation: pages are walked backwards by moving the end date to the day
before the oldest row returned, until the start date is passed or a page comes back empty.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from collectors.errors import (
    AuthError,
    BadResponseError,
    CollectorError,
    NoDataError,
    RateLimitedError,
    RealAccountOnlyError,
    SubscriptionError,
)
from collectors.http import HttpClient, Reply
from collectors.kis_auth import MIN_ISSUE_INTERVAL, KisAuth, cache_lock, key_slot, token_client
from collectors.limiter import SharedLimiter
from marketdash.domain.catalog import Asset
from marketdash.domain.config import Secret, Settings
from marketdash.domain.i18n import Msg, Name, Said, msg
from marketdash.domain.records import DailyBar, MalformedValueError, parse_decimal, parse_yyyymmdd

log = logging.getLogger(__name__)

SOURCE = "kis"
MAX_PAGES = 400  # a bound on one series' paging, far above 10 years at 50 rows a page
TOKEN_ERRORS = ("EGW00123", "EGW00121")  # expired / invalid token: renew once, retry once
RATE_LIMITED = "EGW00201"


def _ymd(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


@dataclass(frozen=True)
class Endpoint:
    path: str
    tr_id: str
    rows_per_call: int
    fields: tuple[str, str, str, str, str, str]  # date, open, high, low, close, volume
    params: Callable[[Asset, str, dt.date, dt.date], dict[str, str]]  # (asset, market code, start, end)


def _chart_params(asset: Asset, market: str, start: dt.date, end: dt.date) -> dict[str, str]:
    return {
        "FID_COND_MRKT_DIV_CODE": market,
        "FID_INPUT_ISCD": asset.code,
        "FID_INPUT_DATE_1": _ymd(start),
        "FID_INPUT_DATE_2": _ymd(end),
        "FID_PERIOD_DIV_CODE": "D",
    }


ENDPOINTS = {
    "domestic_stock": Endpoint(
        "/uapi/domestic-stock/v1/quotations/inquire-daily-itemchartprice",
        "FHKST03010100",
        100,
        ("stck_bsop_date", "stck_oprc", "stck_hgpr", "stck_lwpr", "stck_clpr", "acml_vol"),
        lambda a, m, s, e: {**_chart_params(a, m, s, e), "FID_ORG_ADJ_PRC": "0"},  # 0 = adjusted prices
    ),
    "domestic_index": Endpoint(
        "/uapi/domestic-stock/v1/quotations/inquire-daily-indexchartprice",
        "FHKUP03500100",
        50,
        ("stck_bsop_date", "bstp_nmix_oprc", "bstp_nmix_hgpr", "bstp_nmix_lwpr", "bstp_nmix_prpr", "acml_vol"),
        _chart_params,
    ),
    "overseas_stock": Endpoint(
        "/uapi/overseas-price/v1/quotations/dailyprice",
        "HHDFS76240000",
        100,
        ("xymd", "open", "high", "low", "clos", "tvol"),
        # No start date here: 100 sessions ending at BYMD. MODP=1 = adjusted (the reverse of the domestic flag).
        lambda a, m, s, e: {
            "AUTH": "",
            "EXCD": m,
            "SYMB": a.code,
            "GUBN": "0",
            "BYMD": _ymd(e),
            "MODP": "1",
            "KEYB": "",
        },
    ),
    "overseas_chart": Endpoint(
        "/uapi/overseas-price/v1/quotations/inquire-daily-chartprice",
        "FHKST03030100",
        100,
        ("stck_bsop_date", "ovrs_nmix_oprc", "ovrs_nmix_hgpr", "ovrs_nmix_lwpr", "ovrs_nmix_prpr", "acml_vol"),
        _chart_params,
    ),
}


def transform(endpoint: Endpoint, asset: Asset, rows: list) -> list[DailyBar]:
    """Raw `output2` rows -> bars. Empty objects and rows without a date are dropped; a malformed value raises."""
    date_f, open_f, high_f, low_f, close_f, vol_f = endpoint.fields
    bars = []
    for row in rows:
        if not isinstance(row, dict) or not str(row.get(date_f) or "").strip():
            continue  # {} or a padding row with blank values
        bars.append(
            DailyBar(
                asset.id,
                parse_yyyymmdd(row.get(date_f), date_f),
                parse_decimal(row.get(open_f), open_f, required=False),
                parse_decimal(row.get(high_f), high_f, required=False),
                parse_decimal(row.get(low_f), low_f, required=False),
                parse_decimal(row.get(close_f), close_f),
                parse_decimal(row.get(vol_f), vol_f, required=False),
                asset.currency,
                SOURCE,
            )
        )
    return [b for b in bars if b.close > 0]


def _body(reply: Reply) -> dict:
    body = reply.json("KIS")
    if not isinstance(body, dict):
        raise BadResponseError(msg("err.kis_not_object", status=reply.status, kind=type(body).__name__))
    return body


def kis_said(code: str, msg1: str) -> Msg:
    """KIS's code, with its own (Korean) words for Korean readers: "(EGW00201: 초당 거래건수를 초과하였습니다.)"."""
    return msg("err.kis_code", code=code, said=Said(msg1, "ko", prefix=": "))


def kis_error(msg_cd: str, msg1: str, status: int, asset: Asset | None = None) -> CollectorError:
    """A KIS error code in plain words, as the matching error type; a refusal of the request itself (an input KIS
    rejects, a service code it does not know) names the asset asked for."""
    said = kis_said(msg_cd, msg1)
    named = Name(asset.id) if asset is not None else "-"
    if msg_cd == "OPSQ0002":
        return CollectorError(msg("err.kis_service", asset=named, said=said), code=msg_cd)
    if msg_cd.startswith("OPSQ"):
        return CollectorError(msg("err.kis_input", asset=named, said=said), code=msg_cd)
    if msg_cd == RATE_LIMITED:
        return RateLimitedError(msg("err.kis_rate_limited", said=said), code=msg_cd)
    if msg_cd in TOKEN_ERRORS:
        return AuthError(msg("err.kis_token_refused", said=said), code=msg_cd)
    if msg_cd == "EGW02004":
        return AuthError(msg("err.kis_paper_key", said=said), code=msg_cd)
    if "모의투자TR이아닙니다" in "".join(msg1.split()):  # the paper host refusing a real-only TR (no code seen)
        return RealAccountOnlyError(msg("err.kis_real_only", said=said), code=msg_cd)
    if msg_cd == "EGW00551":
        return SubscriptionError(msg("err.kis_not_subscribed", said=said), code=msg_cd)
    if msg_cd == "MCA00124":
        return SubscriptionError(msg("err.kis_not_offered", said=said), code=msg_cd)
    if msg_cd.startswith("EGW001"):
        return AuthError(msg("err.kis_credentials", said=said), code=msg_cd)
    return CollectorError(msg("err.kis_other", status=status, said=said), code=msg_cd)


class KisCollector:
    source = SOURCE

    def __init__(self, http: HttpClient, auth: KisAuth, app_key: Secret, app_secret: Secret) -> None:
        self.http = http
        self.auth = auth
        self._app_key = app_key
        self._app_secret = app_secret
        self._working_code: dict[str, str] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"KisCollector(host={self.http.base_url!r}, app_key='***')"

    @classmethod
    def from_settings(cls, settings: Settings) -> KisCollector:
        if not settings.has_kis:
            raise AuthError(msg("err.kis_no_keys"))
        return cls.connect(
            settings.kis_base_url, settings.kis_app_key, settings.kis_app_secret, settings.kis_token_cache,
            max_rps=settings.kis_max_rps,
        )  # fmt: skip

    @classmethod
    def connect(
        cls,
        base_url: str,
        app_key: Secret,
        app_secret: Secret,
        token_cache: Path,
        *,
        max_rps: float,
        min_issue_interval: float = MIN_ISSUE_INTERVAL,
        max_wait: float = 75.0,
        **http_options,
    ) -> KisCollector:
        """Wire one key's transport: the token cache and the rate budget beside it share one file lock, so every
        process using this key on this host keeps to one budget and one token."""
        lock = cache_lock(token_cache)
        limiter = SharedLimiter(
            Path(str(token_cache) + ".rate"), lock, key_slot(base_url, app_key), ceiling=max_rps,
            floor=min(0.5, max_rps),
        )  # fmt: skip
        http_options = {"backoff": 0.25, **http_options}
        http = HttpClient(base_url, service="KIS", max_rps=max_rps, throttle=limiter, **http_options)
        auth = KisAuth(token_client(base_url, **http_options), app_key, app_secret, token_cache,
                       min_issue_interval=min_issue_interval, max_wait=max_wait, lock=lock)  # fmt: skip
        return cls(http, auth, app_key, app_secret)

    def _retry_rate_limit(self, reply: Reply) -> float | None:
        """EGW00201 (too many requests a second) comes as HTTP 500 or 200: tell the key's budget, then retry.

        It means the key's limit is lower than the rate we ran at (a new account's first days), or someone outside
        this budget shares the key. The budget settles under what the key accepted; the retry waits for its slot.
        """
        body = reply.body if isinstance(reply.body, dict) else {}
        if body.get("msg_cd") != RATE_LIMITED:
            return None
        self.http.throttle.refused(reply.sent_at)
        return 0.2

    def market_codes(self, asset: Asset) -> tuple[str, ...]:
        """The market codes to try for an asset: the one that answered before, else its own then its alternatives
        (NAS, NYS, AMS for a US symbol no list named). Never S for a commodity: a dead feed (kis-api.md)."""
        with self._lock:
            known = self._working_code.get(asset.id)
        return (known,) if known else (asset.market_code, *asset.alt_markets)

    def remember_code(self, asset_id: str, market: str) -> None:
        with self._lock:
            self._working_code[asset_id] = market

    def _call(self, endpoint: Endpoint, params: dict[str, str], asset: Asset) -> dict:
        return self.call(endpoint.path, endpoint.tr_id, params, asset)

    def call(self, path: str, tr_id: str, params: dict[str, str], asset: Asset | None = None) -> dict:
        """One GET: renews the token once on EGW00123/EGW00121; any other rt_cd != "0" (rt_cd "1", and "2" for an
        input KIS rejects) becomes a typed error, never retried here."""
        return self.exchange(path, tr_id, params, asset)[0]

    def exchange(
        self, path: str, tr_id: str, params: dict[str, str], asset: Asset | None = None, tr_cont: str = ""
    ) -> tuple[dict, Mapping[str, str]]:
        """`call` with the continuation header sent (`tr_cont`: "N" asks for the next page of the TRs that page
        that way) and the reply's headers returned beside its body (their `tr_cont`: "M"/"F" means more)."""
        token = self.auth.token()
        for attempt in range(2):
            headers = {
                "content-type": "application/json; charset=utf-8",
                "authorization": f"Bearer {token}",
                "appkey": self._app_key.reveal(),
                "appsecret": self._app_secret.reveal(),
                "tr_id": tr_id,
                "custtype": "P",
                **({"tr_cont": tr_cont} if tr_cont else {}),
            }
            reply = self.http.request("GET", path, params=params, headers=headers, retry_delay=self._retry_rate_limit)
            body = _body(reply)
            if str(body.get("rt_cd")) == "0":
                return body, reply.headers
            msg_cd, msg1 = str(body.get("msg_cd") or body.get("error_code") or ""), str(body.get("msg1") or "")
            if msg_cd in TOKEN_ERRORS and attempt == 0:
                log.info("KIS token refused (%s): renewing once", msg_cd)
                token = self.auth.renew(token)
                continue
            raise kis_error(msg_cd or str(reply.status), msg1[:200], reply.status, asset)
        raise AssertionError("unreachable")

    def _walk(self, endpoint: Endpoint, asset: Asset, market: str, start: dt.date, end: dt.date):
        """Pages of [start, end], newest first. Raises NoDataError when the very first page is empty."""
        cursor, seen = end, set()
        for page_no in range(MAX_PAGES):
            body = self._call(endpoint, endpoint.params(asset, market, start, cursor), asset)
            rows = body.get("output2") or []
            if not isinstance(rows, list):
                raise BadResponseError(msg("err.kis_rows_shape", code=asset.code, kind=type(rows).__name__))
            try:
                bars = transform(endpoint, asset, rows)
            except MalformedValueError as exc:
                raise BadResponseError(msg("err.kis_malformed_row", code=asset.code, detail=exc.msg)) from None
            if not bars:
                if page_no == 0:
                    key = "err.kis_no_rows_excd" if asset.kind == "overseas_stock" else "err.kis_no_rows"
                    raise NoDataError(msg(key, code=asset.code, market=market, start=start, end=end))
                return
            fresh = [b for b in bars if start <= b.date <= cursor and b.date not in seen]
            seen.update(b.date for b in fresh)
            yield fresh
            oldest = min(b.date for b in bars)
            if oldest <= start:
                return
            if oldest > cursor:
                raise BadResponseError(msg("err.kis_ignored_end", end=cursor, code=asset.code, oldest=oldest))
            cursor = oldest - dt.timedelta(days=1)
        raise BadResponseError(msg("err.kis_paging", code=asset.code, pages=MAX_PAGES))

    def pages(self, asset: Asset, start: dt.date, end: dt.date) -> Iterator[list[DailyBar]]:
        endpoint = ENDPOINTS[asset.kind]
        codes = self.market_codes(asset)
        failures: list[Msg] = []
        for market in codes:
            try:
                walk = self._walk(endpoint, asset, market, start, end)
                first = next(walk)  # an empty first page raises NoDataError here, before anything is yielded
            except StopIteration:
                return
            except CollectorError as exc:
                refused = str(exc.code or "").startswith("OPSQ")  # the request itself: the same under any code
                fatal = (
                    refused
                    or isinstance(exc, AuthError | RateLimitedError)
                    or (exc.code is None and not isinstance(exc, NoDataError))
                )
                if fatal or len(codes) == 1:
                    raise
                failures.append(msg("err.under_market", market=market, error=exc.msg))  # try the next code
                continue
            self.remember_code(asset.id, market)
            yield first
            yield from walk
            return
        raise NoDataError(
            msg("err.kis_no_market", asset=Name(asset.id, full=True), start=start, end=end, codes="/".join(codes),
                failures=failures)
        )  # fmt: skip
