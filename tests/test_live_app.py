"""The app with KIS keys, pointed at the local KIS and Upbit servers: live data, no sample banner, plain errors."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from marketdash import catalog
from marketdash.store import Store
from tests.kis_server import APP_KEY, APP_SECRET, KisServer
from tests.test_pages import run_page
from tests.upbit_server import UpbitServer


@pytest.fixture
def live_env(monkeypatch, tmp_path):
    kis = KisServer(history_start=dt.date(2025, 6, 2)).start()
    upbit = UpbitServer(first_day=dt.date(2025, 1, 1), last_day=dt.datetime.now(dt.UTC).date()).start()
    monkeypatch.delenv("DASHBOARD_OFFLINE")
    for name, value in {
        "KIS_BASE_URL": kis.url, "KIS_APP_KEY": APP_KEY, "KIS_APP_SECRET": APP_SECRET, "KIS_MAX_RPS": "20",
        "UPBIT_BASE_URL": upbit.url, "BITHUMB_BASE_URL": "http://127.0.0.1:9",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    yield kis, upbit
    kis.stop()
    upbit.stop()


def test_with_keys_pages_show_live_data_without_the_sample_banner(live_env):
    kis, upbit = live_env
    at = run_page("app.py")
    assert not any("Sample data" in w.value for w in at.warning)
    assert [m.label for m in at.metric] == [catalog.get(a).label for a in catalog.COMPARED]
    assert kis.token_issues == 1 and upbit.calls
    at.switch_page("pages/1_compare.py").run()
    assert not at.exception
    assert "Sample data" not in at.get("plotly_chart")[0].proto.spec


def test_update_now_reports_each_series(live_env):
    at = run_page("pages/4_data.py")
    at.button[0].click().run()
    assert not at.exception
    lines = [m.value for m in at.markdown if m.value.startswith(("✅", "⚠️"))]
    assert len(lines) == len(catalog.ASSETS)
    assert all(line.startswith("✅") for line in lines), lines
    coverage = at.dataframe[0].value
    assert (coverage.loc[list(catalog.ASSETS), "last_status"] == "ok").all()


def test_wrong_secret_is_explained_in_plain_words(live_env, monkeypatch):
    monkeypatch.setenv("KIS_APP_SECRET", "not-the-secret")
    at = run_page("pages/4_data.py")
    at.button[0].click().run()
    assert not at.exception
    lines = [m.value for m in at.markdown if m.value.startswith("⚠️")]
    samsung = next(line for line in lines if "Samsung" in line)
    assert "KIS rejected the app secret (EGW00105)" in samsung and "Check the KIS app key/secret" in samsung
    assert all("not-the-secret" not in m.value for m in at.markdown)


def test_krw_view_fetches_usdkrw_from_kis_and_says_so(live_env):
    kis, _ = live_env
    at = run_page("pages/1_compare.py")
    at.get("segmented_control")[2].set_value("KRW").run()
    assert not at.exception
    assert any(c.value.startswith("USD/KRW: KIS (Seoul close)") for c in at.caption)
    assert any(p.get("FID_INPUT_ISCD") == "FX@KRW" for _, p in kis.calls)


def test_first_open_fetches_the_range_on_screen_then_the_history_behind_it(live_env):
    from marketdash import ui

    kis, _ = live_env
    at = run_page("app.py")  # Overview's default range: 1Y
    assert at.get("plotly_chart")
    one_year_back = (dt.date.today() - dt.timedelta(days=366)).strftime("%Y%m%d")
    firsts = {}
    for _, params in kis.calls:
        firsts.setdefault(params.get("FID_INPUT_ISCD") or params.get("SYMB"), params)
    # Each series' first call asked for the range on screen only (SOXL's endpoint takes an end date alone).
    assert {p["FID_INPUT_DATE_1"] for p in firsts.values() if "FID_INPUT_DATE_1" in p} == {one_year_back}

    job = ui._history()["job"]
    assert job is not None and set(job.assets) >= {"kospi200", "samsung", "btc"}
    deadline = dt.datetime.now() + dt.timedelta(seconds=90)
    while job.running and dt.datetime.now() < deadline:
        time.sleep(0.2)
    assert not job.running and not job.failures() and not job.error
    store = Store(ui.service().settings.market_db)
    cov = store.coverage().set_index("asset_id")
    for asset_id in ("kospi200", "samsung", "gold"):  # the server's history starts 2025-06-02
        assert cov.loc[asset_id, "first_date"].date() <= dt.date(2025, 6, 3), asset_id
    assert cov.loc["btc", "first_date"].date() == dt.date(2025, 1, 1)
    assert kis.rate_limited == 0 and kis.token_issues == 1
