import datetime as dt

import pytest

from marketdash.domain.records import DailyBar, MalformedValueError, bars_to_frame, parse_decimal, parse_yyyymmdd


@pytest.mark.parametrize(
    ("raw", "expected"), [("75800", 75800.0), (" 31.2500", 31.25), ("+2.86", 2.86), ("1,234", 1234.0), (0.1, 0.1)]
)
def test_parse_decimal_is_exact(raw, expected):
    assert parse_decimal(raw, "f") == expected


@pytest.mark.parametrize("raw", ["abc", "1e", "NaN", "Infinity"])
def test_parse_decimal_rejects_garbage_with_field_name(raw):
    with pytest.raises(MalformedValueError, match="'stck_clpr'"):
        parse_decimal(raw, "stck_clpr")


def test_parse_decimal_optional_and_required():
    assert parse_decimal("", "acml_vol", required=False) is None
    with pytest.raises(MalformedValueError, match="missing"):
        parse_decimal(None, "stck_clpr")


def test_parse_yyyymmdd():
    assert parse_yyyymmdd("20260702", "d") == dt.date(2026, 7, 2)
    with pytest.raises(MalformedValueError):
        parse_yyyymmdd("2026-07-02", "stck_bsop_date")


def test_bars_to_frame_dedupes_later_wins_and_sorts():
    d1, d2 = dt.date(2026, 7, 1), dt.date(2026, 7, 2)
    frame = bars_to_frame(
        [
            DailyBar("samsung", d2, 1, 2, 1, 2, 10, "KRW", "kis"),
            DailyBar("samsung", d1, 1, 2, 1, 1, 10, "KRW", "kis"),
            DailyBar("samsung", d2, 1, 2, 1, 3, 10, "KRW", "kis"),
        ]
    )
    assert frame["date"].dt.date.tolist() == [d1, d2]
    assert frame["close"].tolist() == [1.0, 3.0]
