"""`python -m marketdash portfolio` (issue 30.4 and 30.5): several portfolios and a benchmark in one run,
withdrawals and one-off flows, and every bad input one sentence with exit 2; the process never aborts at exit."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date as dt_date

import pandas as pd
import pytest

from tests.conftest import run_cli
from tests.test_portfolio_page import _store_bars

BASE = ["portfolio", "--start", "2020-01-01", "--end", "2024-12-31"]


@pytest.fixture
def store_env(tmp_path, subprocess_env) -> dict[str, str]:
    _store_bars(tmp_path / "market.duckdb", ["samsung", "skhynix", "soxl", "btc", "kospi200"])
    return {**subprocess_env, "MARKET_DB": str(tmp_path / "market.duckdb")}


def _stats(path) -> pd.Series:
    return pd.read_csv(path, encoding="utf-8-sig", index_col="metric")["value"]


def test_several_portfolios_and_a_benchmark_write_a_folder_each_and_one_table_side_by_side(store_env, tmp_path):
    out = tmp_path / "out"
    two = ["--weights", "samsung=50,skhynix=50", "--weights", "soxl=60,btc=40", "--benchmark", "kospi200"]
    done = run_cli(store_env, *BASE, *two, "--every", "monthly", "--amount", "100000", "--out", str(out))
    assert done.returncode == 0, done.stderr
    for name in ("p1", "p2", "bench"):
        assert {p.name for p in (out / name).iterdir()} == {"values.csv", "trades.csv", "stats.csv", "notes.txt"}
    side = pd.read_csv(out / "stats.csv", encoding="utf-8-sig", index_col="metric")
    assert list(side.columns) == ["p1", "p2", "bench"]
    assert side.loc["invested"].nunique() == 1  # the same money in each
    assert side.loc["final_value", "p1"] == _stats(out / "p1" / "stats.csv")["final_value"]
    assert "p1" in done.stdout and "bench" in done.stdout


def test_withdrawals_and_one_off_flows(store_env, tmp_path):
    out = tmp_path / "out"
    done = run_cli(store_env, *BASE, "--weights", "samsung=50,btc=50", "--initial", "50000000", "--withdraw",
                   "500000", "--withdraw-every", "monthly", "--withdraw-from", "2022-01-15", "--flow",
                   "2021-03-02=5000000", "--flow", "2023-06-01=-2000000", "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    values = pd.read_csv(out / "values.csv", encoding="utf-8-sig", index_col="date")
    assert values["invested"].iloc[-1] == 55_000_000
    assert values["withdrawn"].iloc[-1] == pytest.approx(36 * 500_000 + 2_000_000)
    stats = _stats(out / "stats.csv")
    assert float(stats["profit"]) == pytest.approx(float(stats["final_value"]) + 20_000_000 - 55_000_000, rel=1e-9)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--weights", "soxl=100", "--currency", "USD"], None),  # once an IndexError traceback
        (["--weights", "samsung=1e308,btc=50"], "too large"),
        (["--weights", "samsung=inf"], "expected name=number pairs"),
        (["--weights", "samsung=50", "--initial", "nan"], "not a finite number"),
        (["--weights", "samsung=50", "--amount", "-5", "--every", "monthly"], "Amounts must be numbers"),
        (["--weights", "samsung=50", "--bands", "5"], "--bands"),
        (["--weights", "samsung=50", "--flow", "2021-01-01=abc"], "--flow"),
    ],
)
def test_bad_numbers_are_one_sentence(store_env, tmp_path, args, said):
    done = run_cli(store_env, *BASE, *args, "--out", str(tmp_path / "out"))
    if said is None:
        assert done.returncode == 0, done.stderr
        return
    assert done.returncode == 2, done.stdout + done.stderr
    assert said in done.stderr and "Traceback" not in done.stderr
    assert len([line for line in done.stderr.splitlines() if line.strip() and not line.startswith("usage")]) <= 2


def test_an_out_that_is_a_file_or_cannot_be_written_is_one_sentence(store_env, tmp_path):
    a_file = tmp_path / "taken.csv"
    a_file.write_text("x")
    done = run_cli(store_env, *BASE, "--weights", "samsung=100", "--out", str(a_file))
    assert done.returncode == 2 and "is a file" in done.stderr and "Traceback" not in done.stderr
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        # root writes anywhere: then a folder under a file stands in for one that cannot be written
        target = a_file / "sub" if os.access(locked, os.W_OK) else locked
        done = run_cli(store_env, *BASE, "--weights", "samsung=100", "--out", str(target))
        assert done.returncode == 2, done.stderr
        assert "--out" in done.stderr and "Traceback" not in done.stderr
    finally:
        locked.chmod(0o700)


def test_the_dollar_default_is_a_dollar_amount(store_env, tmp_path):
    done = run_cli(store_env, *BASE, "--weights", "soxl=100", "--currency", "USD", "--out", str(tmp_path / "o"))
    assert done.returncode == 0, done.stderr
    assert float(_stats(tmp_path / "o" / "stats.csv")["invested"]) == 10_000


def test_the_command_exits_cleanly_every_time(store_env, tmp_path):
    """It once aborted after writing its files (exit -6, "FATAL: exception not rethrown"): a timer thread still
    inside DuckDB while Python exited. The store is now closed from the main thread first."""
    codes = []
    for k in range(24):
        done = subprocess.run([sys.executable, "-m", "marketdash", *BASE, "--weights", "samsung=50,btc=50", "--out",
                               str(tmp_path / f"o{k}")], env=store_env, capture_output=True, text=True,
                              timeout=120)  # fmt: skip
        codes.append(done.returncode)
        assert "terminate called" not in done.stderr, done.stderr
    assert codes == [0] * len(codes)


def _krx_bars(db, codes: list[str]) -> None:
    """Two years of bars of KRX codes no symbol list names (삼성전자's sample path, as if fetched)."""
    import dataclasses
    import datetime as dt

    from collectors.sample import sample_bars
    from marketdash.domain import catalog
    from marketdash.domain.records import bars_to_frame
    from marketdash.services.store import Store

    store = Store(db)
    for k, code in enumerate(codes):
        bars = sample_bars(catalog.get("samsung"), dt.date(2023, 1, 2), dt.date(2024, 12, 31))
        frame = bars_to_frame([dataclasses.replace(b, asset_id=f"krx:{code}", close=b.close / (3 + k)) for b in bars])
        frame["source"] = "kis"
        store.upsert_bars(frame)
    store.close()


def test_a_krx_etf_no_list_names_is_known_from_kis_and_pays_no_sales_tax(tmp_path):
    """Issue 30: an ETF is known as one without the symbol lists (KIS's 주식기본조회 says EF), so its sales pay no
    증권거래세 while a stock's do; without keys the kind is unknown, taxed as a stock, and said."""
    from tests.kis_server import KisServer, cli_env

    server = KisServer(today=dt_date(2026, 7, 10)).start()
    try:
        db = tmp_path / "m.duckdb"
        _krx_bars(db, ["069500", "005380"])
        env = cli_env(server, tmp_path, MARKET_DB=str(db), KIS_MASTER_URL="http://127.0.0.1:9")
        args = ["portfolio", "--weights", "krx:069500=50,krx:005380=50", "--start", "2023-01-02", "--rebalance",
                "monthly", "--tax", "--out"]  # fmt: skip
        done = run_cli(env, *args, str(tmp_path / "keys"))
        assert done.returncode == 0, done.stderr
        trades = pd.read_csv(tmp_path / "keys" / "trades.csv", encoding="utf-8-sig")
        sells = trades[trades["side"] == "sell"]
        assert (sells.loc[sells["asset_id"] == "krx:069500", "tax"] == 0).all()
        assert (sells.loc[sells["asset_id"] == "krx:005380", "tax"] > 0).all()
        assert "taxed as a stock" not in (tmp_path / "keys" / "notes.txt").read_text()
        offline = {**env, "DASHBOARD_OFFLINE": "1", "MARKET_DB": str(tmp_path / "m2.duckdb")}
        _krx_bars(tmp_path / "m2.duckdb", ["069500"])
        done = run_cli(offline, "portfolio", "--weights", "krx:069500=100", "--start", "2023-01-02", "--tax",
                       "--out", str(tmp_path / "off"))  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "taxed as a stock" in (tmp_path / "off" / "notes.txt").read_text()
    finally:
        server.stop()
