"""The one catalog of assets (SPEC.md, "The assets"): every other module reads it instead of repeating ids or codes.

The seven (and USD/KRW) are fixed entries; any other listed symbol is resolved from its id (`krx:005380`,
`us:NVDA`, `kidx:1001`, `ovs:SPX`, `coin:ETH`), named from the KIS/Upbit master lists where they are stored
(`register`), so every layer asks `get(id)` whichever asset it is.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import urllib.parse
from dataclasses import dataclass
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Asset:
    """One series the dashboard stores; `compared` marks the seven assets shown side by side."""

    id: str
    name_ko: str
    name_en: str
    short: str
    source: str  # primary live source: "kis" or "upbit"
    kind: str  # which KIS/exchange endpoint family serves it
    market_code: str
    code: str
    currency: str
    unit: str
    calendar: str  # exchange_calendars code, or "24/7"
    timezone: str  # the market's own calendar: session dates are local dates here
    close_time: dt.time  # local time after which the day's bar is final
    periods_per_year: int  # 252 sessions for exchange-traded assets, 365 days for Bitcoin
    decimals: int
    full_ko: str  # the long Korean name for help texts (name_en is the long English one)
    compared: bool = True
    alt_markets: tuple[str, ...] = ()  # further market codes to try when the first answers with no rows
    fixed: bool = True  # one of the catalog's own entries (sample data exists for it), not an added symbol
    listing: str = ""  # a KRX symbol's kind as its list or KIS says (stock, etf, etn, reit, fund); "" not known

    @property
    def pays_dividends(self) -> bool:
        """Listed shares and funds: KRX stocks and ETFs (not ETNs, notes whose codes start with Q) and US stocks and
        ETFs. An index is a price index, a coin or a future pays nothing."""
        return (self.kind == "domestic_stock" and not self.code.startswith("Q")) or self.kind == "overseas_stock"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def last_closed_date(self, now: dt.datetime) -> dt.date:
        """The latest local date whose session has closed at `now`: today's unfinished bar never counts."""
        local = now.astimezone(self.tz)
        if local.time() >= self.close_time:
            return local.date()
        return local.date() - dt.timedelta(days=1)


_KST, _NY, _UTC = "Asia/Seoul", "America/New_York", "UTC"

ASSETS: dict[str, Asset] = {
    a.id: a
    for a in (
        Asset("kospi200", "코스피200", "KOSPI 200", "KOSPI 200", "kis", "domestic_index", "U", "2001", "KRW",
              "index points", "XKRX", _KST, dt.time(15, 30), 252, 2, "코스피200 지수"),
        Asset("samsung", "삼성전자", "Samsung Electronics", "Samsung Elec.", "kis", "domestic_stock", "J", "005930",
              "KRW", "KRW per share", "XKRX", _KST, dt.time(15, 30), 252, 0, "삼성전자 (005930)"),
        Asset("skhynix", "SK하이닉스", "SK hynix", "SK hynix", "kis", "domestic_stock", "J", "000660", "KRW",
              "KRW per share", "XKRX", _KST, dt.time(15, 30), 252, 0, "SK하이닉스 (000660)"),
        Asset("soxl", "SOXL", "SOXL (Direxion Semiconductor Bull 3X)", "SOXL", "kis", "overseas_stock", "AMS",
              "SOXL", "USD", "USD per share", "XNYS", _NY, dt.time(16, 0), 252, 4, "SOXL (디렉시온 반도체 3배 ETF)"),
        Asset("btc", "비트코인", "Bitcoin", "Bitcoin", "upbit", "crypto", "", "KRW-BTC", "KRW", "KRW per BTC",
              "24/7", _UTC, dt.time(23, 59, 59), 365, 0, "비트코인 (업비트 KRW-BTC)"),
        Asset("gold", "금 선물", "Gold futures (COMEX)", "Gold", "kis", "overseas_chart", "N", "NYGOLD", "USD",
              "USD per troy ounce", "CMES", _NY, dt.time(17, 0), 252, 2, "금 선물 (COMEX)"),
        Asset("silver", "은 선물", "Silver futures (COMEX)", "Silver", "kis", "overseas_chart", "N", "NYSILV", "USD",
              "USD per troy ounce", "CMES", _NY, dt.time(17, 0), 252, 3, "은 선물 (COMEX)"),
        Asset("usdkrw", "원/달러", "USD/KRW", "USD/KRW", "kis", "overseas_chart", "X", "FX@KRW", "KRW",
              "KRW per USD", "XKRX", _KST, dt.time(15, 30), 252, 2, "원/달러 환율", compared=False),
    )
}  # fmt: skip

COMPARED: tuple[str, ...] = tuple(a.id for a in ASSETS.values() if a.compared)
FX_ASSET = "usdkrw"


class UnknownAssetError(ValueError):
    """An asset id that is neither a catalog entry nor a well-formed symbol id; the message names it."""


# -- ids of any listed symbol ------------------------------------------------------------------------------------
PREFIXES = ("krx", "kidx", "us", "ovs", "coin")
_CODE_SHAPES = {
    "krx": re.compile(r"[0-9A-Z]{6}|Q[0-9]{6}"),
    "kidx": re.compile(r"[0-9]{4}"),
    "us": re.compile(r"[A-Z0-9][A-Z0-9./ -]{0,11}"),
    "ovs": re.compile(r"[A-Z0-9#@._&-]{1,10}"),
    "coin": re.compile(r"[A-Z0-9]{1,12}"),
}
_PREFIX_OF_KIND = {"domestic_stock": "krx", "domestic_index": "kidx", "overseas_stock": "us", "overseas_chart": "ovs",
                   "crypto": "coin"}  # fmt: skip


def external_id(asset: Asset) -> str:
    """The symbol id of an asset (`samsung` -> `krx:005930`): how the master lists name it."""
    code = asset.code.removeprefix("KRW-") if asset.kind == "crypto" else asset.code
    return f"{_PREFIX_OF_KIND[asset.kind]}:{code}"


ALIASES: dict[str, str] = {external_id(a): a.id for a in ASSETS.values()}  # krx:005930 -> samsung: one series


def canonical(asset_id: str) -> str:
    """The one spelling of an id: the seven in lower case, a symbol id as `prefix:CODE` (percent-decoded), and a
    symbol id of a catalog entry as the entry's own id (`KRX:005930` -> `samsung`)."""
    text = str(asset_id).strip()
    prefix, colon, code = text.partition(":")
    if not colon:
        return text.lower()
    out = f"{prefix.strip().lower()}:{urllib.parse.unquote(code).strip().upper()}"
    return ALIASES.get(out, out)


def _unknown(asset_id: str) -> UnknownAssetError:
    return UnknownAssetError(f"Unknown asset '{asset_id}'. Known: {', '.join(ASSETS)} or a symbol id "
                             "(krx:005380, us:NVDA, kidx:1001, ovs:SPX, coin:ETH)")  # fmt: skip


def split_id(asset_id: str) -> tuple[str, str]:
    """`krx:005380` -> ("krx", "005380"); raises UnknownAssetError for anything that is not a symbol id."""
    prefix, _, code = canonical(asset_id).partition(":")
    shape = _CODE_SHAPES.get(prefix)
    if shape is None or not shape.fullmatch(code):
        raise _unknown(asset_id)
    return prefix, code


_US = {"currency": "USD", "calendar": "XNYS", "timezone": _NY, "close_time": dt.time(16, 0)}
_KRX = {"currency": "KRW", "calendar": "XKRX", "timezone": _KST, "close_time": dt.time(15, 30)}
# Overseas indices by KIS's symbol prefix: (calendar, time zone, close, currency); others trade on US hours.
_WORLD = {
    "JP#": ("XTKS", "Asia/Tokyo", dt.time(15, 30), "JPY"), "HK#": ("XHKG", "Asia/Hong_Kong", dt.time(16, 0), "HKD"),
    "SHANG": ("XSHG", "Asia/Shanghai", dt.time(15, 0), "CNY"), "TW#": ("XTAI", "Asia/Taipei", dt.time(13, 30), "TWD"),
    "GR#": ("XFRA", "Europe/Berlin", dt.time(17, 30), "EUR"), "GB#": ("XLON", "Europe/London", dt.time(16, 30), "GBP"),
    "FR#": ("XPAR", "Europe/Paris", dt.time(17, 30), "EUR"),
}  # fmt: skip
# frgn_code class -> FID_COND_MRKT_DIV_CODE (else N). Never S: KIS's 금선물 market is a dead feed (values frozen in
# 2023, no rows), so the commodities listed only there (class E) are not served (symbols.NOT_SERVED).
OVERSEAS_MARKET = {"X": "X", "R": "I", "L": "I", "B": "I"}
# frgn_code.mst names two FX codes for each other's series (measured live): FX@INR answers the Indonesian rupiah
# rate and FX@IDR the Indian rupee's; the Korean names follow the values. A rate's currency is the series'.
SWAPPED_FX = {"FX@INR": "IDR", "FX@IDR": "INR"}


def symbol_asset(
    asset_id: str,
    name_ko: str = "",
    name_en: str = "",
    *,
    exchange: str = "",
    symbol_class: str = "",
    kind: str = "",
) -> Asset:
    """Everything every layer needs about a listed symbol, from its id and what its master list says (names, the
    exchange a US symbol answers on, an overseas symbol's class). Without a list entry the id alone still
    serves: a US symbol then tries NAS, NYS and AMS, and names fall back to the code."""
    prefix, code = split_id(asset_id)
    name_ko, name_en = name_ko or code, name_en or name_ko or code
    full_ko = f"{name_ko} ({code})" if name_ko != code else code
    common = {"id": f"{prefix}:{code}", "name_ko": name_ko, "name_en": name_en, "full_ko": full_ko,
              "compared": True, "fixed": False}  # fmt: skip
    short = name_en if len(name_en) <= 16 else code
    if prefix == "krx":
        kind = kind or ("etn" if code.startswith("Q") else "")  # an ETN's code carries its Q, listed or not
        unit = "KRW per share" if kind not in ("etf", "etn") else "KRW per unit"
        return Asset(short=short, source="kis", kind="domestic_stock", market_code="J", code=code, unit=unit,
                     periods_per_year=252, decimals=0, listing=kind, **_KRX, **common)  # fmt: skip
    if prefix == "kidx":
        return Asset(short=short, source="kis", kind="domestic_index", market_code="U", code=code,
                     unit="index points", periods_per_year=252, decimals=2, **_KRX, **common)  # fmt: skip
    if prefix == "us":
        markets = (exchange,) if exchange else ("NAS", "NYS", "AMS")
        return Asset(short=code, source="kis", kind="overseas_stock", market_code=markets[0], code=code,
                     unit="USD per share", periods_per_year=252, decimals=2, alt_markets=markets[1:], **_US,
                     **common)  # fmt: skip
    if prefix == "coin":
        return Asset(short=code, source="upbit", kind="crypto", market_code="", code=f"KRW-{code}", currency="KRW",
                     unit=f"KRW per {code}", calendar="24/7", timezone=_UTC, close_time=dt.time(23, 59, 59),
                     periods_per_year=365, decimals=2, **common)  # fmt: skip
    return _overseas(code, symbol_class, short, common)


def _overseas(code: str, symbol_class: str, short: str, common: dict) -> Asset:
    """An overseas index, FX rate, commodity or rate (KIS's frgn_code list) on the overseas chart endpoint."""
    market = OVERSEAS_MARKET.get(symbol_class, "N")
    world = next((v for k, v in _WORLD.items() if code.startswith(k)), None)
    if code.startswith("FX@"):
        currency = "KRW" if code.startswith("FX@KRW") else SWAPPED_FX.get(code, code[3:6])
        return Asset(short=short, source="kis", kind="overseas_chart", market_code="X", code=code,
                     unit="exchange rate", periods_per_year=252, decimals=2, **{**_KRX, "currency": currency},
                     **common)  # fmt: skip
    if symbol_class in ("R", "L", "B"):
        return Asset(short=short, source="kis", kind="overseas_chart", market_code=market, code=code, unit="%",
                     periods_per_year=252, decimals=3, **{**_US, "currency": "%"}, **common)  # fmt: skip
    if world:
        calendar, tz, close, currency = world
        return Asset(short=short, source="kis", kind="overseas_chart", market_code=market, code=code,
                     currency=currency, unit="index points", calendar=calendar, timezone=tz, close_time=close,
                     periods_per_year=252, decimals=2, **common)  # fmt: skip
    futures = symbol_class in ("C", "F")
    return Asset(short=short, source="kis", kind="overseas_chart", market_code=market, code=code,
                 unit="USD" if futures else "index points", periods_per_year=252, decimals=2,
                 **{**_US, **({"calendar": "CMES", "close_time": dt.time(17, 0)} if futures else {})},
                 **common)  # fmt: skip


_ADDED: dict[str, Asset] = {}
_ADDED_LOCK = threading.Lock()


def register(asset: Asset) -> Asset:
    """Make an added symbol's resolved entry (with its master-list names) the one every later `get` returns."""
    with _ADDED_LOCK:
        _ADDED[asset.id] = asset
    return asset


def get(asset_id: str) -> Asset:
    """The entry of a catalog id or a symbol id (resolved from the id alone if no master list named it yet)."""
    found = ASSETS.get(asset_id)
    if found is not None:
        return found
    cid = canonical(asset_id)
    found = ASSETS.get(cid) or _ADDED.get(cid)
    if found is not None:
        return found
    if ":" not in cid:
        raise _unknown(asset_id)
    with _ADDED_LOCK:
        return _ADDED.setdefault(cid, symbol_asset(cid))


def find(asset_id: str) -> Asset | None:
    """`get`, or None for an id that is neither a catalog id nor a well-formed symbol id."""
    try:
        return get(asset_id)
    except UnknownAssetError:
        return None


def known(asset_id: str) -> bool:
    return find(asset_id) is not None


def parse_ids(text: str | None, default: tuple[str, ...] = tuple(ASSETS)) -> list[str]:
    """'samsung, btc, krx:005380' -> ['samsung', 'btc', 'krx:005380']: the catalog's own in catalog order, then
    added symbols in the order given; a malformed id raises, naming it."""
    if not text:
        return list(default)
    wanted = []
    for part in text.split(","):
        if part.strip() and get(part.strip()).id not in wanted:
            wanted.append(get(part.strip()).id)
    return [a for a in ASSETS if a in wanted] + [a for a in wanted if a not in ASSETS]
