import io

import pandas as pd

from marketdash.domain.csvfiles import csv_bytes


def test_csv_has_bom_header_iso_dates_and_asset_id_columns():
    wide = pd.DataFrame(
        {"samsung": [75800.0, 76000.0], "btc": [1.5e8, 1.51e8]},
        index=pd.DatetimeIndex(["2026-07-01", "2026-07-02"], name="date"),
    )
    data = csv_bytes(wide)
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0] == "date,samsung,btc"
    assert text.splitlines()[1] == "2026-07-01,75800,150000000"  # whole numbers as integers, no float noise
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", index_col="date", parse_dates=True)
    pd.testing.assert_frame_equal(back.astype(float), wide, check_freq=False)


def test_csv_keeps_korean_text_and_formats_date_columns():
    table = pd.DataFrame(
        {"name": ["삼성전자"], "last_date": pd.to_datetime(["2026-07-02"])},
        index=pd.Index(["samsung"], name="asset_id"),
    )
    text = csv_bytes(table).decode("utf-8-sig")
    assert text.splitlines() == ["asset_id,name,last_date", "samsung,삼성전자,2026-07-02"]


def test_moments_keep_their_time_and_offset_and_dates_stay_dates():
    """Issue 26.1: the 7-day quotes CSV wrote quoted_at and fetched_at as 2026-12-04 (a UTC date, when it was
    already 12.05 in Korea)."""
    quotes = pd.DataFrame(
        {"price": [1.0, 2.0], "quoted_at": pd.to_datetime(["2026-12-04 15:34:12", "2026-12-04 16:00:00"]),
         "fetched_at": pd.to_datetime(["2026-12-04 15:34:13", None]), "last_date": pd.to_datetime(["2026-12-04"] * 2)},
        index=pd.Index(["btc", "samsung"], name="asset_id"),
    )  # fmt: skip
    lines = csv_bytes(quotes).decode("utf-8-sig").splitlines()
    assert lines[1] == "btc,1,2026-12-04T15:34:12+00:00,2026-12-04T15:34:13+00:00,2026-12-04"
    assert lines[2] == "samsung,2,2026-12-04T16:00:00+00:00,,2026-12-04"  # on the hour: still a moment
    kst = pd.DataFrame({"btc": [0.5]}, index=pd.DatetimeIndex(["2026-12-05 00:30"], name="time_kst").tz_localize(
        "Asia/Seoul"))  # fmt: skip
    assert csv_bytes(kst).decode("utf-8-sig").splitlines()[1] == "2026-12-05T00:30:00+09:00,0.5"
    at_midnight = pd.DataFrame({"v": [1]}, index=pd.DatetimeIndex(["2026-12-04 00:00"], name="date"))
    assert csv_bytes(at_midnight).decode("utf-8-sig").splitlines()[1] == "2026-12-04,1"
