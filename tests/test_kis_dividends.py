"""KIS's dividend records (issue 33.1) against the local KIS server speaking the three TRs with their traps
(tests/kis_dividends_server.py): the collector, the daily update, the paper key, and the command line."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pytest

from collectors.errors import RealAccountOnlyError
from collectors.kis_dividends import KisDividends
from marketdash.domain import catalog, clock
from marketdash.domain.config import load_settings
from marketdash.services.dividends import DATASET
from marketdash.services.market import MarketService
from marketdash.services.store import Store
from tests.conftest import run_cli
from tests.kis_dividends_server import Payout
from tests.kis_server import KisServer, cli_env
from tests.test_kis import make_collector

TODAY = dt.date(2026, 7, 10)
NOW = dt.datetime(2026, 7, 10, 18, 0, tzinfo=clock.KST)  # after the KRX close, the US one of the 9th is in
WINDOW = (dt.date(2024, 1, 1), dt.date(2027, 7, 10))


@pytest.fixture
def server():
    srv = KisServer(today=TODAY, history_start=dt.date(2024, 1, 2)).start()
    yield srv
    srv.stop()


def dividend_calls(server: KisServer) -> list:
    return [c for c in server.calls if c[0].endswith(("/dividend", "/period-rights", "/rights-by-ice"))]


def expected(server: KisServer, code: str, start: dt.date, end: dt.date) -> list[tuple]:
    """(record date, amount, pay date) of the server's fixed payouts of exactly `code`."""
    return sorted((p.record, float(p.amount), p.pay) for p in server.payouts
                  if p.code == code and p.pay and float(p.amount) > 0 and start <= p.record <= end)  # fmt: skip


def got(rows) -> list[tuple]:
    return sorted((r.record_date, r.amount, r.pay_date) for r in rows if r.fixed)


# -- the collector -------------------------------------------------------------------------------------------------
def test_samsung_quarterly_361_won_exactly_without_the_preferred_share_or_unfixed_rows(server, tmp_path):
    rows = KisDividends(make_collector(server, tmp_path)).dividends(catalog.get("samsung"), *WINDOW)
    assert got(rows) == expected(server, "005930", *WINDOW) and len(rows) == 9
    assert {r.amount for r in rows} == {361.0}  # "000000000361"
    assert dt.date(2026, 6, 30) not in {r.record_date for r in rows}  # "0" and no pay date yet: asked again later
    assert [r.kind for r in rows if r.record_date.month == 12] == ["final", "final"]
    assert next(r for r in rows if r.record_date == dt.date(2024, 12, 31)).pay_date == dt.date(2025, 4, 17)
    assert len(dividend_calls(server)) == 1  # one call per asset, any window


@pytest.mark.parametrize("shape", ["output", "single_object", "repeated_pages"])
def test_every_shape_of_the_domestic_answer_reads_the_same(server, tmp_path, shape):
    """`output` instead of `output1`, one row as an object, and a reply saying "more" whose next page repeats it."""
    if shape == "output":
        server.ksd_key = "output"
    elif shape == "single_object":
        server.payouts = [p for p in server.payouts if p.code == "005930" and p.record == dt.date(2025, 3, 31)]
        server.ksd_single_object = True
    else:
        server.ksd_repeat_pages = True
    rows = KisDividends(make_collector(server, tmp_path)).dividends(catalog.get("samsung"), *WINDOW)
    assert got(rows) == expected(server, "005930", *WINDOW)
    assert len(rows) == len({(r.record_date, r.kind) for r in rows})  # no duplicates
    assert len(dividend_calls(server)) == (2 if shape == "repeated_pages" else 1)  # a repeated page ends the walk


def test_soxl_in_usd_amounts_joined_with_the_ice_dates_across_pages(server, tmp_path):
    server.page_rows = 3  # 10 rows: four pages, each continued page starting with the row before it
    rows = KisDividends(make_collector(server, tmp_path)).dividends(catalog.get("soxl"), *WINDOW)
    truth = [p for p in server.payouts if p.code == "SOXL" and WINDOW[0] <= p.record <= WINDOW[1]]
    assert sorted((r.record_date, r.ex_date, r.pay_date, r.amount) for r in rows) == sorted(
        (p.record, p.ex, p.pay, float(p.amount)) for p in truth
    )
    assert {r.currency for r in rows} == {"USD"} and all(r.fixed for r in rows)
    assert [r.ex_date for r in rows if r.record_date >= dt.date(2024, 5, 28)] == [
        r.record_date for r in rows if r.record_date >= dt.date(2024, 5, 28)
    ]  # T+1: the ex-date is the record date
    rights = [c for c in dividend_calls(server) if c[0].endswith("/period-rights")]
    assert len(rights) == 4 + 1  # type 03 over four pages, type 75 once
    ice = [c for c in dividend_calls(server) if c[0].endswith("/rights-by-ice")]
    assert len(ice) == 1 and ice[0][1]["ST_YMD"] < "20240101"  # the announcement window reaches back


def test_a_prefix_match_and_an_unconfirmed_amount(server, tmp_path):
    """PDNO=QQQ answers QQQM too (left out); dfnt_yn N is stored unfixed; a special dividend (75) counts."""
    extra = [Payout("QQQ", dt.date(2026, 6, 22), "0.71234", dt.date(2026, 6, 30), "03", ex=dt.date(2026, 6, 22),
                    announced=dt.date(2026, 6, 15), confirmed=False),
             Payout("QQQ", dt.date(2025, 12, 22), "0.10000", dt.date(2025, 12, 30), "75", ex=dt.date(2025, 12, 22),
                    announced=dt.date(2025, 12, 10))]  # fmt: skip
    server.payouts = [*server.payouts, *extra]
    rows = KisDividends(make_collector(server, tmp_path)).dividends(catalog.get("us:QQQ"), *WINDOW)
    assert sorted((r.record_date, r.amount, r.kind, r.fixed) for r in rows) == [
        (dt.date(2025, 9, 22), 0.67686, "cash", True),
        (dt.date(2025, 12, 22), 0.1, "special", True),
        (dt.date(2026, 6, 22), 0.71234, "cash", False),
    ]


def test_the_paper_host_refuses_and_a_paper_key_never_asks(server, tmp_path):
    server.paper_host = True
    with pytest.raises(RealAccountOnlyError):
        KisDividends(make_collector(server, tmp_path)).dividends(catalog.get("samsung"), *WINDOW)
    assert len(dividend_calls(server)) == 1  # refused once, not retried
    server.calls.clear()
    with pytest.raises(RealAccountOnlyError):
        KisDividends(make_collector(server, tmp_path), paper=True).dividends(catalog.get("samsung"), *WINDOW)
    assert not dividend_calls(server)


# -- the daily update ----------------------------------------------------------------------------------------------
def service_at(server: KisServer, tmp_path: Path, **settings) -> MarketService:
    collector = make_collector(server, tmp_path)
    base = dataclasses.replace(load_settings(), offline=False, **settings)
    return MarketService(base, collectors={a: collector for a in ("samsung", "skhynix", "soxl", "kospi200")})


def test_a_daily_update_costs_a_few_calls_and_refetches_what_is_not_fixed(server, tmp_path):
    ids = ["samsung", "skhynix", "soxl", "kospi200", "btc"]
    svc = service_at(server, tmp_path)
    with clock.pinned(NOW):
        first = svc.dividends.update(ids)
    assert set(first) == {"samsung", "skhynix", "soxl"}  # an index and a coin pay nothing
    assert all(r.status == "ok" for r in first.values()), first
    stored = svc.store.read_dividends(["samsung"])
    assert sorted(zip(stored["record_date"].dt.date, stored["amount"], stored["pay_date"].dt.date, strict=True)) == \
        expected(server, "005930", dt.date(2015, 1, 1), TODAY)  # fmt: skip
    assert stored.loc[stored["record_date"] == "2024-12-31", "ex_date"].dt.date.tolist() == [dt.date(2024, 12, 27)]
    attempts = svc.store.last_attempts(DATASET)
    assert {a: attempts[a].status for a in attempts} == {"samsung": "ok", "skhynix": "ok", "soxl": "ok"}
    assert svc.store.last_attempts() == {}  # price attempts are another dataset

    server.calls.clear()
    with clock.pinned(NOW + dt.timedelta(hours=2)):
        again = svc.dividends.update(ids)
    assert {r.status for r in again.values()} == {"skipped"} and not dividend_calls(server)  # once a day

    # The next day Samsung's Q2 is fixed: one call per KRX payer, three for SOXL (03, 75 and its dates).
    q2 = next(p for p in server.payouts if p.code == "005930" and p.record == dt.date(2026, 6, 30))
    server.payouts[server.payouts.index(q2)] = dataclasses.replace(q2, amount="000000000361",
                                                                   pay=dt.date(2026, 8, 18))  # fmt: skip
    server.calls.clear()
    with clock.pinned(NOW + dt.timedelta(days=1)):
        next_day = svc.dividends.update(ids)
    per_path = pd.Series([c[0].rsplit("/", 1)[1] for c in dividend_calls(server)]).value_counts().to_dict()
    assert per_path == {"dividend": 2, "period-rights": 2, "rights-by-ice": 1}
    assert next_day["samsung"].new_rows == 1
    q2_row = svc.store.read_dividends(["samsung"]).set_index("record_date").loc["2026-06-30"]
    assert (q2_row["amount"], bool(q2_row["fixed"]), q2_row["ex_date"].date()) == (361.0, True, dt.date(2026, 6, 29))
    windows = {c[1].get("SHT_CD"): c[1]["F_DT"] for c in dividend_calls(server) if c[0].endswith("/dividend")}
    assert windows == {"005930": "20250606", "000660": "20250606"}  # the last 400 days, not the whole history


def test_a_failed_fetch_keeps_every_stored_dividend_and_says_why(server, tmp_path):
    svc = service_at(server, tmp_path)
    with clock.pinned(NOW):
        svc.dividends.update(["samsung"])
    before = svc.store.read_dividends(["samsung"])
    server.fail_after = 0  # every call now answers an HTML 502 page
    with clock.pinned(NOW + dt.timedelta(days=1)):
        result = svc.dividends.update(["samsung"])["samsung"]
    assert result.status == "error" and "502" in str(result.note)
    pd.testing.assert_frame_equal(svc.store.read_dividends(["samsung"]), before)
    assert svc.store.last_attempts(DATASET)["samsung"].status == "error"


def test_the_paper_host_is_asked_once_per_run_and_said_once(server, tmp_path):
    server.paper_host = True
    svc = service_at(server, tmp_path)
    with clock.pinned(NOW):
        results = svc.dividends.update(["samsung", "skhynix", "soxl"])
    assert len(dividend_calls(server)) == 1
    assert [r.kind for r in results.values()] == ["real only"] * 3
    assert results["samsung"].status == "error" and results["soxl"].status == "skipped"


# -- the command line ---------------------------------------------------------------------------------------------
def test_cli_update_then_dividends_prints_them_as_csv(server, tmp_path):
    env = cli_env(server, tmp_path, MARKET_DB=str(tmp_path / "m.duckdb"), DASHBOARD_NOW=NOW.isoformat())
    update = run_cli(env, "update", "--assets", "samsung,soxl,kospi200", "--start", "2024-01-01")
    assert update.returncode == 0, update.stdout + update.stderr
    lines = update.stdout.strip().splitlines()
    assert len(lines) == 3 and "dividends" not in lines[0]  # KOSPI 200 pays nothing
    assert "dividends ok +9 new, 9 stored" in lines[1] and "dividends ok +10 new" in lines[2]
    shown = run_cli(env, "dividends", "--assets", "samsung,soxl,kospi200")
    assert shown.returncode == 0, shown.stderr
    table = pd.read_csv(io.StringIO(shown.stdout))
    assert list(table.columns) == ["asset_id", "record_date", "ex_date", "pay_date", "amount", "currency", "kind",
                                   "fixed", "source", "fetched_at"]  # fmt: skip
    samsung = table[table["asset_id"] == "samsung"]
    assert list(samsung["record_date"]) == [str(r[0]) for r in expected(server, "005930", *WINDOW)]
    assert set(table["asset_id"]) == {"samsung", "soxl"} and set(table["currency"]) == {"KRW", "USD"}
    assert run_cli(env, "dividends", "--assets", "nope:1").returncode == 2


def test_cli_with_a_paper_key_says_so_once_and_goes_on_with_prices(server, tmp_path):
    env = cli_env(server, tmp_path, MARKET_DB=str(tmp_path / "m.duckdb"), DASHBOARD_NOW=NOW.isoformat(),
                  KIS_ENV="paper")  # fmt: skip
    update = run_cli(env, "update", "--assets", "samsung,skhynix,soxl", "--start", "2026-06-01")
    assert update.returncode == 0, update.stdout + update.stderr
    assert update.stderr.count("real-account keys only") == 1 and "Traceback" not in update.stderr
    assert "dividends" not in update.stdout and not dividend_calls(server)
    assert len(Store(tmp_path / "m.duckdb").read_bars(["samsung"])) > 0


def test_export_import_and_check_carry_the_dividends(server, tmp_path):
    svc = service_at(server, tmp_path)
    with clock.pinned(NOW):
        svc.dividends.update(["samsung", "soxl"])
    held = svc.store.read_dividends()
    counts = svc.store.export_to(tmp_path / "backup")
    assert counts["dividends"] == len(held) > 0
    other = Store(tmp_path / "other.duckdb")
    assert other.import_from(tmp_path / "backup")["dividends"] == len(held)
    pd.testing.assert_frame_equal(other.read_dividends(), held)
    assert other.import_from(tmp_path / "backup")["dividends"] == 0  # a second merge takes nothing
    log = other.table("fetch_log")
    assert set(log["dataset"]) == {"dividends"} and len(log) == 2
    assert svc.check()["problem"].ne("bad dividend").all()
