"""The KIS collector against a local server speaking KIS's wire format (tests/kis_server.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import stat
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from collectors.errors import AuthError, NetworkError, NoDataError
from collectors.kis import ENDPOINTS, KisCollector, transform
from marketdash.domain import catalog
from marketdash.domain.config import Secret, load_settings
from marketdash.services.market import MarketService
from marketdash.services.store import Store
from tests.conftest import run_cli
from tests.kis_server import APP_KEY, APP_SECRET, PAPER_KEY, KisServer, cli_env

KIS_ASSETS = {"kospi200": "2001", "samsung": "005930", "skhynix": "000660", "soxl": "SOXL", "gold": "NYGOLD",
              "silver": "NYSILV", "usdkrw": "FX@KRW"}  # fmt: skip
TODAY = dt.date(2026, 7, 10)  # a Friday: the server's data ends here, the client asks up to here


@pytest.fixture
def server():
    srv = KisServer(today=TODAY).start()
    yield srv
    srv.stop()


def make_collector(server: KisServer, tmp_path: Path, *, key=APP_KEY, secret=APP_SECRET, rps=20.0, timeout=(2, 5),
                   min_issue=0.3, max_wait=5.0, attempts=4) -> KisCollector:  # fmt: skip
    return KisCollector.connect(
        server.url, Secret(key), Secret(secret), tmp_path / "token.json", max_rps=rps, min_issue_interval=min_issue,
        max_wait=max_wait, timeout=timeout, max_attempts=attempts, backoff=0.05,
    )  # fmt: skip


def stored(store: Store, asset_id: str) -> list[tuple]:
    frame = store.read_bars([asset_id])
    return [
        (d.date(), o, h, lo, c, v)
        for d, o, h, lo, c, v in frame[["date", "open", "high", "low", "close", "volume"]].itertuples(index=False)
    ]


def service_with(collector: KisCollector) -> MarketService:
    return MarketService(load_settings(), collectors=dict.fromkeys(KIS_ASSETS, collector))


# -- pure transform on captured payloads (shared/kis-api.md shapes) --------------------------------------------------
def test_transform_domestic_payload_drops_empty_objects_and_parses_exactly():
    payload = json.loads(
        '{"rt_cd":"0","msg_cd":"MCA00000","msg1":"정상처리 되었습니다.",'
        '"output1":{"hts_kor_isnm":"삼성전자","stck_prpr":"75800"},'
        '"output2":[{"stck_bsop_date":"20260702","stck_oprc":"76000","stck_hgpr":"76200","stck_lwpr":"75500",'
        '"stck_clpr":"75800","acml_vol":"12345678"},{"stck_bsop_date":"20260701","stck_oprc":"76500",'
        '"stck_hgpr":"76800","stck_lwpr":"75900","stck_clpr":"76000","acml_vol":"11000000"},{}]}'
    )
    bars = transform(ENDPOINTS["domestic_stock"], catalog.get("samsung"), payload["output2"])
    assert [(b.date, b.open, b.close, b.volume) for b in bars] == [
        (dt.date(2026, 7, 2), 76000.0, 75800.0, 12345678.0),
        (dt.date(2026, 7, 1), 76500.0, 76000.0, 11000000.0),
    ]


def test_transform_soxl_dailyprice_payload():
    row = {"xymd": "20260707", "clos": "31.2500", "open": "30.6000", "high": "31.6100", "low": "30.1200",
           "tvol": "61234567", "sign": "2", "diff": "0.8700", "rate": "+2.86"}  # fmt: skip
    (bar,) = transform(ENDPOINTS["overseas_stock"], catalog.get("soxl"), [row])
    assert (bar.date, bar.open, bar.high, bar.low, bar.close, bar.currency) == (
        dt.date(2026, 7, 7), 30.6, 31.61, 30.12, 31.25, "USD",
    )  # fmt: skip


# -- the command line, end to end ------------------------------------------------------------------------------------
def test_cli_backfills_every_series_exactly_with_one_token_then_only_new_days(server, tmp_path):
    db = tmp_path / "m.duckdb"
    env = cli_env(server, tmp_path)
    ids = ",".join(KIS_ASSETS)
    first = run_cli(env, "update", "--assets", ids, "--start", "2016-01-01", "--end", str(TODAY), "--db", str(db))
    assert first.returncode == 0, first.stdout + first.stderr
    assert server.token_issues == 1
    store = Store(db)
    for asset_id, code in KIS_ASSETS.items():
        assert stored(store, asset_id) == server.expected(code, dt.date(2016, 1, 1), TODAY), asset_id
    assert len(first.stdout.strip().splitlines()) == len(KIS_ASSETS)

    before = len(server.calls)
    second = run_cli(env, "update", "--assets", ids, "--end", str(TODAY), "--db", str(db))
    assert second.returncode == 0, second.stdout + second.stderr
    per_series = Counter(p.get("FID_INPUT_ISCD") or p.get("SYMB") for _, p in server.calls[before:])
    assert per_series and max(per_series.values()) <= 2, per_series
    assert set(per_series) == set(KIS_ASSETS.values())
    assert server.token_issues == 1  # the cached token was reused by the second process
    assert "+0 new" in second.stdout


def test_two_processes_share_one_token(server, tmp_path):
    env = cli_env(server, tmp_path)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "collectors",
                "update",
                "--assets",
                asset,
                "--start",
                "2026-01-01",
                "--end",
                str(TODAY),
                "--db",
                str(tmp_path / f"{asset}.duckdb"),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for asset in ("samsung", "soxl", "gold")
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    assert server.token_issues == 1
    cache = tmp_path / "token.json"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert APP_SECRET not in cache.read_text()


def test_no_secret_in_output_logs_or_errors(server, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    env = cli_env(server, tmp_path)
    ok = run_cli(env, "update", "--assets", "samsung", "--start", "2026-06-01", "--end", str(TODAY),
              "--db", str(tmp_path / "a.duckdb"))  # fmt: skip
    bad = run_cli({**env, "KIS_APP_SECRET": APP_SECRET[:-4] + "AAAA", "KIS_TOKEN_CACHE": str(tmp_path / "t2.json")},
               "update", "--assets", "samsung", "--db", str(tmp_path / "b.duckdb"))  # fmt: skip
    assert ok.returncode == 0 and bad.returncode == 1
    assert "EGW00105" in bad.stdout and "app secret" in bad.stdout
    (tmp_path / "other").mkdir()
    coll = make_collector(server, tmp_path / "other", secret="wrong-" + APP_SECRET)
    with pytest.raises(AuthError) as err:
        coll.auth.token()
    token = json.loads((tmp_path / "token.json").read_text()) if (tmp_path / "token.json").exists() else {}
    texts = [ok.stdout, ok.stderr, bad.stdout, bad.stderr, caplog.text, str(err.value), repr(coll), repr(coll.auth)]
    for secret in (APP_SECRET, APP_SECRET[:-4] + "AAAA", APP_KEY, *[v.get("access_token", "") for v in token.values()]):
        assert secret and not any(secret in t for t in texts)


# -- token lifecycle ------------------------------------------------------------------------------------------------
def test_expired_token_is_renewed_once_and_the_call_retried(server, tmp_path):
    coll = make_collector(server, tmp_path)
    server.token_interval = 0.3
    svc = service_with(coll)
    assert svc.update_one("samsung", dt.date(2026, 6, 1), TODAY).ok
    server.expire_all_tokens()
    result = svc.update_one("skhynix", dt.date(2026, 6, 1), TODAY)
    assert result.ok, result.message
    assert server.token_issues == 2
    assert stored(svc.store, "skhynix") == server.expected("000660", dt.date(2026, 6, 1), TODAY)


def test_token_reused_across_collectors_until_near_expiry(server, tmp_path):
    a, b = make_collector(server, tmp_path), make_collector(server, tmp_path)
    assert a.auth.token() == b.auth.token()
    assert (a.auth.issued, b.auth.issued, server.token_issues) == (1, 0, 1)


def test_never_two_issuances_within_the_interval(server, tmp_path):
    server.token_interval = 1.0
    coll = make_collector(server, tmp_path, min_issue=1.0)
    first = coll.auth.token()
    second = coll.auth.renew(first)  # must wait out the minute rule instead of triggering EGW00133
    assert first != second and server.token_issues == 2


def test_egw00133_from_another_client_is_a_clear_error(server, tmp_path):
    server.last_issue[APP_KEY] = time.time()  # someone else took this minute's token
    coll = make_collector(server, tmp_path, min_issue=60.0, max_wait=1.0)
    with pytest.raises(AuthError, match="one per minute") as err:
        coll.auth.token()
    assert err.value.code == "EGW00133"


def test_paper_key_on_real_host_says_so(server, tmp_path):
    coll = make_collector(server, tmp_path, key=PAPER_KEY)
    result = service_with(coll).update_one("samsung", dt.date(2026, 6, 1), TODAY)
    assert result.kind == "credentials" and "KIS_ENV=paper" in result.message and "EGW02004" in result.message


# -- limits and faults ----------------------------------------------------------------------------------------------
def test_rate_limit_answers_are_backed_off_and_nothing_is_lost(server, tmp_path):
    server.rps = 4
    coll = make_collector(server, tmp_path, rps=50.0, attempts=8)
    svc = service_with(coll)
    result = svc.update_one("kospi200", dt.date(2025, 6, 1), TODAY)  # 50 rows a call: several pages
    assert result.ok, result.message
    assert server.rate_limited > 0
    assert stored(svc.store, "kospi200") == server.expected("2001", dt.date(2025, 6, 1), TODAY)


def test_index_pages_hold_50_rows_and_walk_back_by_date(server, tmp_path):
    svc = service_with(make_collector(server, tmp_path))
    svc.update_one("kospi200", dt.date(2026, 1, 1), TODAY)
    pages = server.data_calls("index")
    ends = [p["FID_INPUT_DATE_2"] for _, p in pages]
    assert ends[0] == TODAY.strftime("%Y%m%d") and ends == sorted(ends, reverse=True)
    assert len(pages) == -(-len(server.expected("2001", dt.date(2026, 1, 1), TODAY)) // 50)


def test_html_502_pages_are_retried(server, tmp_path):
    server.html_502_next = 2
    svc = service_with(make_collector(server, tmp_path))
    assert svc.update_one("samsung", dt.date(2026, 1, 1), TODAY).ok
    assert stored(svc.store, "samsung") == server.expected("005930", dt.date(2026, 1, 1), TODAY)


def test_a_fault_midway_keeps_every_page_that_arrived(server, tmp_path):
    svc = service_with(make_collector(server, tmp_path, attempts=2))
    server.fail_after = 3  # three pages of 100, then only HTML 502 pages
    result = svc.update_one("samsung", dt.date(2016, 1, 1), TODAY)
    assert result.status == "error" and "502" in result.message and "non-JSON" in result.message
    expected = server.expected("005930", dt.date(2016, 1, 1), TODAY)
    assert stored(svc.store, "samsung") == expected[-300:]
    assert svc.store.last_attempts()["samsung"].status == "error"
    server.fail_after = None
    again = svc.update_one("samsung", dt.date(2016, 1, 1), TODAY)  # --start before the first stored day
    assert again.ok and stored(svc.store, "samsung") == expected


def test_slow_answers_past_the_timeout(server, tmp_path):
    # A read timeout well above a loaded machine's answer time (4 test files at once on 2 cores: the retried
    # answer took over 0.3 s once), far below the slow answer's.
    coll = make_collector(server, tmp_path, timeout=(1, 0.8), attempts=2)
    coll.auth.token()
    server.slow_seconds, server.slow_next = 2.5, 1
    svc = service_with(coll)
    assert svc.update_one("samsung", dt.date(2026, 6, 1), TODAY).ok  # one slow answer: retried
    server.slow_next = 10
    with pytest.raises(NetworkError, match="did not answer within"):
        list(coll.pages(catalog.get("skhynix"), dt.date(2026, 6, 1), TODAY))


def test_gold_under_no_live_market_code_explains_what_to_try(server, tmp_path):
    server.gold_market = "Z"
    result = service_with(make_collector(server, tmp_path)).update_one("gold", dt.date(2026, 1, 1), TODAY)
    assert result.kind == "no data"
    assert "NYGOLD (N)" in result.message
    assert {p["FID_COND_MRKT_DIV_CODE"] for _, p in server.data_calls("chart")} == {"N"}  # never the dead S


def test_wrong_exchange_code_is_a_failure_not_an_empty_success(server, tmp_path):
    coll = make_collector(server, tmp_path)
    wrong = dataclasses.replace(catalog.get("soxl"), market_code="NAS")
    with pytest.raises(NoDataError, match="exchange code"):
        list(coll.pages(wrong, dt.date(2026, 1, 1), TODAY))


def test_usdkrw_from_kis_fx(server, tmp_path):
    svc = service_with(make_collector(server, tmp_path))
    assert svc.update_one("usdkrw", dt.date(2025, 1, 1), TODAY).ok
    assert stored(svc.store, "usdkrw") == server.expected("FX@KRW", dt.date(2025, 1, 1), TODAY)


def test_a_refused_issuance_is_reported_again_at_once_not_after_a_minute(server, tmp_path):
    coll = make_collector(server, tmp_path, secret="wrong-secret", min_issue=60.0, max_wait=75.0)
    with pytest.raises(AuthError, match="EGW00105"):
        coll.auth.token()
    started = time.monotonic()
    with pytest.raises(AuthError, match="EGW00105"):
        coll.auth.token()
    assert time.monotonic() - started < 1.0
    assert server.token_issues == 0


def test_padding_rows_with_blank_values_are_dropped():
    rows = [
        {"xymd": "20260707", "clos": "31.2500", "open": "30.6", "high": "31.61", "low": "30.12", "tvol": "1"},
        {"xymd": "", "clos": "", "open": "", "high": "", "low": "", "tvol": ""},
        {},
    ]
    assert len(transform(ENDPOINTS["overseas_stock"], catalog.get("soxl"), rows)) == 1
