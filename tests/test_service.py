import datetime as dt

import pandas as pd
import pytest

from collectors.errors import NetworkError
from marketdash.domain import catalog
from marketdash.domain.config import load_settings
from marketdash.domain.records import DailyBar, bars_to_frame
from marketdash.services.market import MarketService
from marketdash.services.updates import OVERLAP_DAYS
from tests.conftest import run_cli


class ScriptedSource:
    """A stand-in data source: yields the given pages, then raises `fail` if set. Records the ranges asked for."""

    source = "kis"

    def __init__(self, pages: list[list[DailyBar]], fail: Exception | None = None) -> None:
        self._pages, self.fail, self.asked = pages, fail, []

    def pages(self, asset, start, end):
        self.asked.append((start, end))
        for page in self._pages:
            yield [b for b in page if start <= b.date <= end]
        if self.fail:
            raise self.fail


def _page(asset_id: str, first: dt.date, n: int) -> list[DailyBar]:
    return [DailyBar(asset_id, first + dt.timedelta(days=i), 1, 2, 1, 10 + i, 5, "KRW", "kis") for i in range(n)]


def test_fresh_store_serves_sample_data_that_never_enters_the_users_store():
    svc = MarketService(load_settings())
    data = svc.load(list(catalog.COMPARED), dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert data.sample_assets == list(catalog.COMPARED)
    assert set(data.bars["asset_id"]) == set(catalog.COMPARED)
    assert set(data.bars["source"]) == {"sample"}
    assert "DASHBOARD_OFFLINE" in str(data.notes["samsung"])
    assert svc.store.read_bars().empty
    assert svc.settings.sample_db.exists()


def test_stored_assets_are_served_from_the_store_the_rest_from_sample():
    svc = MarketService(load_settings())
    svc.store.upsert_bars(bars_to_frame(_page("samsung", dt.date(2025, 3, 3), 3)))
    data = svc.load(["samsung", "gold"], dt.date(2025, 3, 1), dt.date(2025, 3, 31))
    assert data.origin == {"samsung": "store", "gold": "sample"}
    assert data.bars.loc[data.bars["asset_id"] == "samsung", "close"].tolist() == [10.0, 11.0, 12.0]


def test_a_failure_midway_keeps_what_arrived_and_logs_the_attempt():
    source = ScriptedSource([_page("samsung", dt.date(2026, 1, 10), 5)], fail=NetworkError("link dropped"))
    svc = MarketService(load_settings(), collectors={"samsung": source})
    result = svc.update_one("samsung", start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 20))
    assert result.status == "error" and result.kind == "network" and "link dropped" in result.message
    assert result.new_rows == 5
    assert len(svc.store.read_bars(["samsung"])) == 5
    attempt = svc.store.last_attempts()["samsung"]
    assert (attempt.status, attempt.rows, attempt.message) == ("error", 5, "link dropped")


def test_second_update_only_asks_for_new_days_with_a_small_overlap():
    source = ScriptedSource([_page("samsung", dt.date(2026, 1, 1), 20)])
    svc = MarketService(load_settings(), collectors={"samsung": source})
    first = svc.update_one("samsung", start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 20))
    second = svc.update_one("samsung", end=dt.date(2026, 1, 25))
    assert (first.new_rows, second.new_rows) == (20, 0)
    assert source.asked == [
        (dt.date(2026, 1, 1), dt.date(2026, 1, 20)),
        (dt.date(2026, 1, 20) - dt.timedelta(days=OVERLAP_DAYS), dt.date(2026, 1, 25)),
    ]


def test_no_rows_for_a_long_range_is_an_error_not_success():
    svc = MarketService(load_settings(), collectors={"soxl": ScriptedSource([[]])})
    result = svc.update_one("soxl", start=dt.date(2026, 1, 1), end=dt.date(2026, 2, 1))
    assert result.status == "error" and result.kind == "no data"


def test_asset_without_live_source_says_how_to_get_one(monkeypatch):
    monkeypatch.delenv("DASHBOARD_OFFLINE")
    svc = MarketService(load_settings(), collectors={})
    result = svc.update_one("kospi200")
    assert result.status == "error" and "KIS_APP_KEY" in result.message


def test_cli_update_and_status(subprocess_env, tmp_path):
    db = tmp_path / "cli.duckdb"
    ok = run_cli(subprocess_env, "update", "--assets", "usdkrw", "--start", "2024-01-01", "--db", str(db))
    assert ok.returncode == 0, ok.stderr
    line = ok.stdout.strip().splitlines()[-1]
    assert line.startswith("usdkrw") and " ok " in line and "2024-01-02 .." in line
    failed = run_cli(subprocess_env, "update", "--assets", "usdkrw,samsung", "--db", str(db))
    assert failed.returncode == 1
    assert "samsung   error" in failed.stdout and "usdkrw    skipped" not in failed.stdout
    status = run_cli(subprocess_env, "status", "--db", str(db))
    assert status.returncode == 0
    row = next(r for r in status.stdout.splitlines() if r.strip().startswith("usdkrw"))
    assert "2024-01-02" in row and "ecb" in row and "ok" in row


@pytest.mark.parametrize("args", [("update", "--assets", "nvda"), ("update", "--start", "2024-13-01")])
def test_cli_rejects_bad_input_without_traceback(subprocess_env, args):
    out = run_cli(subprocess_env, *args)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and ("Unknown asset" in out.stderr or "not a YYYY-MM-DD" in out.stderr)


def test_unfinished_sessions_are_dropped():
    from marketdash.services.market import drop_unfinished

    now = dt.datetime(2026, 7, 1, 5, 0, tzinfo=dt.UTC)  # 14:00 KST: KRX still open; the US closed 06-30
    bars = bars_to_frame(_page("samsung", dt.date(2026, 6, 30), 2) + _page("soxl", dt.date(2026, 6, 30), 2))
    kept = drop_unfinished(bars, now)
    assert sorted(zip(kept["asset_id"], kept["date"].dt.day, strict=True)) == [("samsung", 30), ("soxl", 30)]


def test_usd_krw_is_the_stored_fixings_and_the_ecb_rates_outside_them(tmp_path):
    """Issue 14.3: six weeks of KIS fixings in the store must not cut a currency view to six weeks."""
    from collectors import ecb

    svc = MarketService(load_settings({"MARKET_DB": str(tmp_path / "m.duckdb")}))
    kis_days = pd.bdate_range("2026-09-01", "2026-10-15")
    svc.store.upsert_bars(bars_to_frame(DailyBar("usdkrw", d.date(), None, None, None, 1400.0, None, "KRW", "kis")
                                        for d in kis_days))  # fmt: skip
    fx = svc.usd_krw(dt.date(2024, 1, 1), dt.date(2026, 10, 30))
    kis = fx[fx["source"] == "kis"]
    ecb_rows = fx[fx["source"] == "ecb"]
    assert list(kis["date"]) == list(kis_days)
    assert ecb_rows["date"].min() == ecb.usdkrw_history().loc["2024-01-01":].index[0]
    assert not ecb_rows["date"].between(kis_days[0], kis_days[-1]).any()  # the store's own days win
    assert ecb_rows["date"].max() > kis_days[-1]  # and after them, up to the ECB's last fixing
