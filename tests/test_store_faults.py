"""The store survives what users do to it: files that are not a store, read-only and full disks, killed backfills,
backups and moves, and an integrity report (issue 11)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from marketdash.domain import catalog
from marketdash.domain.config import load_settings
from marketdash.domain.records import DailyBar, Dividend, Quote, bars_to_frame, dividends_to_frame
from marketdash.services.market import MarketService
from marketdash.services.store import FetchAttempt, Store, StoreUnreadableError, utcnow
from tests.conftest import ROOT, run_cli
from tests.kis_server import KisServer, cli_env
from tests.test_pages import run_page

TODAY = dt.date(2026, 7, 10)


def _bad_store(kind: str, tmp_path: Path) -> Path:
    """A MARKET_DB that is not a usable DuckDB store, as users make them."""
    path = tmp_path / ("prices.csv" if kind == "csv" else "market.duckdb")
    if kind == "csv":
        path.write_text("date,close\n2024-01-02,71000\n2024-01-03,72000\n", encoding="utf-8")
    elif kind == "directory":
        path.mkdir()
    else:
        store = Store(path)
        store.upsert_bars(_bars("samsung", dt.date(2024, 1, 1), 300))
        store.close()  # damage the file only once this process has let go of it
        raw = path.read_bytes()
        if kind == "truncated":  # a copy cut short (a full disk, an interrupted transfer)
            path.write_bytes(raw[:5000])
        else:  # a damaged header block: DuckDB's checksum no longer matches
            path.write_bytes(raw[:12] + b"\xff" * 8 + raw[20:])
    return path


def _bars(asset_id: str, start: dt.date, n: int, source: str = "kis", close0: float = 100.0) -> pd.DataFrame:
    return bars_to_frame(
        DailyBar(
            asset_id, start + dt.timedelta(days=i), close0, close0 + 1, close0 - 1, close0 + i, 10.0, "KRW", source
        )
        for i in range(n)
    )


@pytest.mark.parametrize("kind", ["csv", "directory", "truncated", "corrupt"])
def test_the_cli_says_what_is_wrong_with_the_store_in_one_sentence(kind, subprocess_env, tmp_path):
    path = _bad_store(kind, tmp_path)
    before = path.read_bytes() if path.is_file() else None
    env = {**subprocess_env, "MARKET_DB": str(path)}
    for args in (("status",), ("update", "--assets", "usdkrw"), ("check",), ("export", "--to", str(tmp_path / "b"))):
        out = run_cli(env, *args)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert "Traceback" not in out.stderr
        message = out.stderr.strip()
        assert len(message.splitlines()) == 1, message
        assert str(path) in message and "MARKET_DB" in message and "import --from" in message
    if before is not None:
        assert path.read_bytes() == before  # nothing was written into the user's file


@pytest.mark.parametrize("kind", ["csv", "directory"])
def test_the_app_opens_on_sample_data_and_names_the_problem(kind, tmp_path, monkeypatch):
    path = _bad_store(kind, tmp_path)
    monkeypatch.setenv("MARKET_DB", str(path))
    at = run_page("app.py")
    assert any(str(path) in e.value and "MARKET_DB" in e.value for e in at.error)
    assert at.get("plotly_chart"), "the sample chart is still drawn"
    assert any("Sample data" in w.value for w in at.warning)
    at.switch_page("pages/4_data.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(str(path) in e.value for e in at.error)
    assert not any(b.label == "Update now" and not b.disabled for b in at.button)


def test_stores_are_opened_through_one_check_whatever_the_caller():
    with pytest.raises(StoreUnreadableError, match="is a directory"):
        Store(ROOT / "tests").read_bars()


# -- read-only and full disks, made for real in a private mount namespace ----------------------------------------
def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


needs_mount_namespace = pytest.mark.skipif(
    not _namespaces_work(), reason="needs root and `unshare -m` to mount a read-only folder or a small tmpfs"
)


def _in_namespace(script: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["unshare", "-m", "sh", "-c", script], env=env, capture_output=True, text=True, timeout=300)


@needs_mount_namespace
def test_a_read_only_store_is_read_and_the_update_says_why_it_could_not_save(subprocess_env, tmp_path):
    folder = tmp_path / "ro"
    db = folder / "market.duckdb"
    env = {**subprocess_env, "MARKET_DB": str(db), "PY": sys.executable, "D": str(folder)}
    assert run_cli(env, "update", "--assets", "usdkrw", "--start", "2024-01-01").returncode == 0
    rows = Store(db).read_bars(["usdkrw"])
    script = """
        mount --bind "$D" "$D" && mount -o remount,ro,bind "$D" "$D" || exit 99
        "$PY" -m collectors update --assets usdkrw --start 2023-01-01; echo "update-exit=$?"
        "$PY" -m collectors status; echo "status-exit=$?"
    """
    out = _in_namespace(script, env)
    assert out.returncode == 0, out.stderr
    assert "update-exit=1" in out.stdout and "status-exit=0" in out.stdout
    assert "Could not save" in out.stdout and "read-only" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr
    status = [line for line in out.stdout.splitlines() if line.strip().startswith("usdkrw")][-1]
    assert str(len(rows)) in status.split()
    pd.testing.assert_frame_equal(Store(db).read_bars(["usdkrw"]), rows)


@needs_mount_namespace
def test_a_full_disk_keeps_every_stored_row_and_says_so(subprocess_env, tmp_path):
    folder = tmp_path / "small"
    folder.mkdir()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    env = {**subprocess_env, "MARKET_DB": str(folder / "market.duckdb"), "PY": sys.executable, "D": str(folder),
           "O": str(out_dir)}  # fmt: skip
    script = """
        mount -t tmpfs -o size=6m tmpfs "$D" || exit 99
        "$PY" -m collectors update --assets usdkrw --start 2024-01-01 > /dev/null || exit 98
        "$PY" -m collectors export --to "$O/before" > /dev/null || exit 97
        dd if=/dev/urandom of="$D/filler" bs=64k 2> /dev/null
        "$PY" -m collectors update --assets usdkrw --start 2005-01-01; echo "update-exit=$?"
        rm "$D/filler"
        "$PY" -m collectors export --to "$O/after" > /dev/null; echo "export-exit=$?"
    """
    out = _in_namespace(script, env)
    assert out.returncode == 0, (out.stdout, out.stderr)
    assert "update-exit=1" in out.stdout and "export-exit=0" in out.stdout, out.stdout + out.stderr
    assert "disk is full" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr
    before = pd.read_parquet(out_dir / "before" / "prices.parquet")
    after = pd.read_parquet(out_dir / "after" / "prices.parquet")
    pd.testing.assert_frame_equal(after, before)


# -- a backfill killed halfway -----------------------------------------------------------------------------------
def test_a_killed_backfill_resumes_where_it_stopped(tmp_path):
    server = KisServer(today=TODAY).start()
    try:
        env = cli_env(server, tmp_path)
        args = ["update", "--assets", "kospi200,samsung", "--start", "2020-01-01", "--end", str(TODAY)]
        clean = run_cli(env, *args, "--db", str(tmp_path / "clean.duckdb"))
        assert clean.returncode == 0, clean.stdout + clean.stderr
        clean_calls = len(server.calls)

        server.calls.clear()
        db = tmp_path / "killed.duckdb"
        proc = subprocess.Popen([sys.executable, "-m", "collectors", *args, "--db", str(db)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 60
        while len(server.calls) < clean_calls // 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.kill()  # SIGKILL: no cleanup, no final transaction
        proc.wait()
        killed_calls = len(server.calls)
        assert 0 < killed_calls < clean_calls

        rerun = run_cli(env, *args, "--db", str(db))
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        rerun_calls = len(server.calls) - killed_calls
        # Every page stored before the kill was kept: the two runs together cost one clean run plus a few pages
        # (the page in flight, one tail call and one short head page per series).
        assert killed_calls + rerun_calls <= clean_calls + 3 * 2, (killed_calls, rerun_calls, clean_calls)
        assert rerun_calls < clean_calls
        store = Store(db)
        for asset_id, code in (("kospi200", "2001"), ("samsung", "005930")):
            got = store.read_bars([asset_id])
            want = server.expected(code, dt.date(2020, 1, 1), TODAY)
            assert [d.date() for d in got["date"]] == [w[0] for w in want], asset_id
            assert got["close"].tolist() == [w[4] for w in want], asset_id
        statuses = Counter(Store(db).table("fetch_log")["status"])
        assert statuses["running"] == 2  # the killed run's attempts stay on record as never finished
    finally:
        server.stop()


# -- backups and moves -------------------------------------------------------------------------------------------
def _populated(path: Path) -> Store:
    store = Store(path)
    store.upsert_bars(pd.concat([_bars("samsung", dt.date(2025, 1, 1), 40), _bars("btc", dt.date(2025, 1, 1), 30,
                                                                                   "upbit")]))  # fmt: skip
    store.upsert_bars(_bars("btc", dt.date(2024, 12, 1), 31, "bithumb", close0=90.0))
    t0 = utcnow()
    store.log_fetch(FetchAttempt("samsung", "kis", t0, t0, dt.date(2025, 1, 1), dt.date(2025, 2, 9), 40, "ok", ""))
    store.log_fetch(FetchAttempt("btc", "upbit", t0, t0, None, None, 0, "error", "잠시 후 다시 시도"))
    store.add_snapshots([Quote("btc", 1.5e8, 1.4e8, "KRW", "upbit", dt.datetime(2025, 1, 31, 1, tzinfo=dt.UTC), True)])
    year_end = Dividend("samsung", dt.date(2024, 12, 31), dt.date(2024, 12, 27), dt.date(2025, 4, 17), 361.0, "KRW",
                        "final", True, "kis")  # fmt: skip
    store.upsert_dividends(dividends_to_frame([year_end]))
    return store


def test_export_then_import_into_an_empty_store_gives_identical_tables(tmp_path):
    source = _populated(tmp_path / "a.duckdb")
    counts = source.export_to(tmp_path / "backup")
    assert counts == {"prices": 101, "fetch_log": 2, "snapshots": 1, "dividends": 1}
    target = Store(tmp_path / "moved" / "b.duckdb")
    assert target.import_from(tmp_path / "backup") == counts
    pd.testing.assert_frame_equal(target.table("prices"), source.table("prices"))
    log_columns = [c for c in source.table("fetch_log").columns if c != "id"]  # ids are the new store's own
    pd.testing.assert_frame_equal(target.table("fetch_log")[log_columns], source.table("fetch_log")[log_columns])
    pd.testing.assert_frame_equal(target.table("snapshots"), source.table("snapshots"))
    pd.testing.assert_frame_equal(target.table("dividends"), source.table("dividends"))
    assert target.import_from(tmp_path / "backup") == dict.fromkeys(counts, 0)  # importing twice adds nothing


def test_an_import_never_replaces_a_day_from_a_better_source(tmp_path):
    worse = Store(tmp_path / "worse.duckdb")
    worse.upsert_bars(_bars("btc", dt.date(2025, 1, 1), 10, "bithumb", close0=50.0))
    worse.export_to(tmp_path / "backup")
    store = Store(tmp_path / "main.duckdb")
    store.upsert_bars(_bars("btc", dt.date(2025, 1, 5), 10, "upbit"))
    taken = store.import_from(tmp_path / "backup")
    assert taken["prices"] == 4  # only 01-01 .. 01-04, the days the store did not have
    got = store.read_bars(["btc"]).set_index("date")
    assert set(got.loc["2025-01-05":, "source"]) == {"upbit"}
    assert set(got.loc[:"2025-01-04", "source"]) == {"bithumb"}


def test_the_data_page_zip_round_trips_through_the_cli(subprocess_env, tmp_path):
    svc = MarketService(load_settings())
    _populated(svc.settings.market_db)
    archive = tmp_path / "store.zip"
    archive.write_bytes(svc.backup_zip())
    target = tmp_path / "elsewhere.duckdb"
    out = run_cli({**subprocess_env, "MARKET_DB": str(target)}, "import", "--from", str(archive))
    assert out.returncode == 0, out.stderr
    pd.testing.assert_frame_equal(Store(target).table("prices"), svc.store.table("prices"))


def test_importing_something_that_is_not_a_backup_is_a_sentence(subprocess_env, tmp_path):
    (tmp_path / "notes").mkdir()
    out = run_cli(subprocess_env, "import", "--from", str(tmp_path / "notes"))
    assert out.returncode == 2 and "not a store backup" in out.stderr and "Traceback" not in out.stderr


def test_export_refuses_a_folder_that_holds_files(subprocess_env, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    out = run_cli(subprocess_env, "export", "--to", str(tmp_path / "full"))
    assert out.returncode == 2 and "empty folder" in out.stderr
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


# -- integrity report --------------------------------------------------------------------------------------------
def _krx_bars(days: list[dt.date], source: str = "kis") -> pd.DataFrame:
    return bars_to_frame(DailyBar("samsung", d, 1.0, 1.0, 1.0, 70_000.0 + i, 1.0, "KRW", source)
                         for i, d in enumerate(days))  # fmt: skip


def test_the_integrity_report_finds_a_planted_gap_a_bad_row_and_worse_source_days(subprocess_env, tmp_path):
    from marketdash.domain import calendars

    db = tmp_path / "m.duckdb"
    store = Store(db)
    sessions = [d.date() for d in calendars.sessions("XKRX", dt.date(2025, 3, 1), dt.date(2025, 4, 30))]
    gap = sessions[10:12]
    store.upsert_bars(_krx_bars([d for d in sessions if d not in gap]))
    store.upsert_bars(_bars("btc", dt.date(2025, 3, 1), 20, "upbit"))
    store.upsert_bars(_bars("btc", dt.date(2025, 3, 21), 5, "bithumb"))  # after upbit's last day: fine
    store.upsert_bars(_bars("btc", dt.date(2025, 2, 20), 9, "bithumb"))  # before upbit's first day: fine
    with store.connect(write=True) as con:  # a bar no collector would write: planted behind the store's back
        con.execute("UPDATE prices SET close = -5 WHERE asset_id = 'samsung' AND date = ?", [sessions[3]])
        con.execute("UPDATE prices SET source = 'bithumb', source_rank = 1 WHERE asset_id = 'btc' AND date = ?",
                    [dt.date(2025, 3, 7)])  # fmt: skip

    out = run_cli({**subprocess_env, "MARKET_DB": str(db)}, "check")
    assert out.returncode == 1, out.stdout + out.stderr
    report = MarketService(load_settings({"MARKET_DB": str(db)})).check()
    found = {(r.asset_id, r.problem): r.dates.split() for r in report.itertuples() if r.problem != "no data"}
    assert found == {
        ("samsung", "missing sessions"): [d.isoformat() for d in gap],
        ("samsung", "bad price"): [sessions[3].isoformat()],
        ("btc", "worse source"): ["2025-03-07"],
    }
    for dates in found.values():
        assert all(d in out.stdout for d in dates)


def _as_published(path: Path, start: dt.date, end: dt.date) -> Store:
    """Every asset on the days its source publishes: KRX sessions for the Korean series and USD/KRW, US (NYSE)
    trading dates for SOXL and the COMEX futures (KIS publishes no bar on a US holiday such as Thanksgiving, though
    CME has a session then), every day for Bitcoin."""
    from marketdash.domain import calendars

    days = {"XKRX": calendars.sessions("XKRX", start, end), "XNYS": calendars.sessions("XNYS", start, end),
            "24/7": pd.date_range(start, end)}  # fmt: skip
    published = {"XKRX": "XKRX", "XNYS": "XNYS", "CMES": "XNYS", "24/7": "24/7"}
    store = Store(path)
    for asset in catalog.ASSETS.values():
        dates = days[published[asset.calendar]]
        store.upsert_bars(bars_to_frame(DailyBar(asset.id, d.date(), None, None, None, 100.0 + i, None, asset.currency,
                                                 "upbit" if asset.id == "btc" else "kis")
                                        for i, d in enumerate(dates)))  # fmt: skip
    return store


def test_a_store_holding_exactly_what_the_sources_publish_checks_ok(subprocess_env, tmp_path):
    db = tmp_path / "m.duckdb"
    _as_published(db, dt.date(2024, 11, 1), dt.date(2026, 11, 30))  # two Thanksgivings, Presidents' Days, …
    out = run_cli({**subprocess_env, "MARKET_DB": str(db)}, "check")
    assert out.returncode == 0 and "store OK" in out.stdout, out.stdout


def test_an_empty_or_partly_empty_store_is_reported_as_such(subprocess_env, tmp_path):
    db = tmp_path / "m.duckdb"
    Store(db).upsert_bars(_bars("btc", dt.date(2025, 3, 1), 20, "upbit"))
    report = MarketService(load_settings({"MARKET_DB": str(db)})).check()
    empty = set(report.loc[report["problem"] == "no data", "asset_id"])
    assert empty == set(catalog.ASSETS) - {"btc"}
    out = run_cli({**subprocess_env, "MARKET_DB": str(db)}, "check")
    assert out.returncode == 1 and "no data" in out.stdout and "samsung" in out.stdout
    nothing = run_cli({**subprocess_env, "MARKET_DB": str(tmp_path / "new.duckdb")}, "check")
    assert nothing.returncode == 1 and "store empty" in nothing.stdout


def test_the_data_page_offers_the_store_and_its_integrity_report(tmp_path):
    _as_published(tmp_path / "market.duckdb", dt.date(2025, 1, 1), dt.date(2025, 12, 31))  # nothing to report
    at = run_page("pages/4_data.py")
    labels = [b.label for b in at.get("download_button")]
    assert any("whole store" in label for label in labels), labels
    at.toggle(key="check").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("No problems found" in s.value for s in at.success)
