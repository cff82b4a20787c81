"""The one catalog of assets (SPEC.md, "The assets"): every other module reads it instead of repeating ids or codes."""

from __future__ import annotations

import datetime as dt
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
    """An asset id that is not in the catalog; the message lists the valid ones."""


def get(asset_id: str) -> Asset:
    try:
        return ASSETS[asset_id]
    except KeyError:
        raise UnknownAssetError(f"Unknown asset '{asset_id}'. Known assets: {', '.join(ASSETS)}") from None


def parse_ids(text: str | None, default: tuple[str, ...] = tuple(ASSETS)) -> list[str]:
    """'samsung, btc' -> ['samsung', 'btc'] in catalog order; unknown ids raise with the valid list."""
    if not text:
        return list(default)
    wanted = {part.strip().lower() for part in text.split(",") if part.strip()}
    for asset_id in wanted:
        get(asset_id)
    return [a for a in ASSETS if a in wanted]
