import datetime as dt

import pytest

from marketdash.domain import catalog
from marketdash.domain.i18n import Translator


def test_spec_ids_codes_and_currencies():
    expected = {
        "kospi200": ("U", "2001", "KRW"),
        "samsung": ("J", "005930", "KRW"),
        "skhynix": ("J", "000660", "KRW"),
        "soxl": ("AMS", "SOXL", "USD"),
        "btc": ("", "KRW-BTC", "KRW"),
        "gold": ("N", "NYGOLD", "USD"),
        "silver": ("N", "NYSILV", "USD"),
        "usdkrw": ("X", "FX@KRW", "KRW"),
    }
    assert {a.id: (a.market_code, a.code, a.currency) for a in catalog.ASSETS.values()} == expected
    assert catalog.COMPARED == ("kospi200", "samsung", "skhynix", "soxl", "btc", "gold", "silver")


def test_every_asset_has_korean_and_english_names():
    for asset in catalog.ASSETS.values():
        assert asset.name_ko and asset.name_en and asset.full_ko and asset.short
    korean = [Translator("ko").name(a) for a in catalog.COMPARED]
    assert korean == ["코스피200", "삼성전자", "SK하이닉스", "SOXL", "비트코인", "금 선물", "은 선물"]
    english = [Translator("en").name(a) for a in catalog.COMPARED]
    assert english == ["KOSPI 200", "Samsung Elec.", "SK hynix", "SOXL", "Bitcoin", "Gold", "Silver"]


def test_parse_ids_keeps_catalog_order_and_rejects_unknown():
    assert catalog.parse_ids(" btc, samsung ") == ["samsung", "btc"]
    assert catalog.parse_ids(None) == list(catalog.ASSETS)
    with pytest.raises(catalog.UnknownAssetError, match=r"Unknown asset 'nvda'\. Known: kospi200"):
        catalog.parse_ids("samsung,nvda")
    assert catalog.parse_ids("samsung,us:nvda") == ["samsung", "us:NVDA"]  # a symbol id is another matter


@pytest.mark.parametrize(
    ("asset_id", "utc_now", "expected"),
    [
        ("samsung", "2026-07-01T06:00", "2026-06-30"),  # 15:00 KST: today's session is still open
        ("samsung", "2026-07-01T06:31", "2026-07-01"),  # 15:31 KST: closed
        ("soxl", "2026-07-01T19:59", "2026-06-30"),  # 15:59 New York (summer time)
        ("soxl", "2026-07-01T20:00", "2026-07-01"),
        ("btc", "2026-07-01T23:00", "2026-06-30"),  # the UTC candle closes at midnight UTC
    ],
)
def test_last_closed_date_never_counts_an_open_session(asset_id, utc_now, expected):
    now = dt.datetime.fromisoformat(utc_now).replace(tzinfo=dt.UTC)
    assert catalog.get(asset_id).last_closed_date(now) == dt.date.fromisoformat(expected)
