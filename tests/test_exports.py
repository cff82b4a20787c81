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
