"""Shared fixtures: every test runs with no credentials, no network and its own store files."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_CONFIG_VARS = (
    "KIS_APP_KEY", "KIS_APP_SECRET", "KIS_ENV", "KIS_BASE_URL", "KIS_MAX_RPS", "KIS_TOKEN_CACHE",
    "UPBIT_BASE_URL", "BITHUMB_BASE_URL", "MARKET_DB", "DASHBOARD_OFFLINE", "QUOTE_EVERY", "KIS_MASTER_URL",
)  # fmt: skip


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No KIS keys, offline, stores and token cache under tmp_path; the repo's secrets.toml is never read."""
    for name in _CONFIG_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MARKET_DB", str(tmp_path / "market.duckdb"))
    monkeypatch.setenv("KIS_TOKEN_CACHE", str(tmp_path / "kis_token.json"))
    monkeypatch.setenv("DASHBOARD_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(autouse=True)
def clear_streamlit_caches():
    """st.cache_data/cache_resource outlive AppTest instances in one run: start each test clean."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def live_env(monkeypatch, tmp_path):
    """KIS keys, both exchanges and the master-file host pointed at local servers that speak their wire formats (the
    app goes live)."""
    from tests.kis_server import APP_KEY, APP_SECRET, KisServer
    from tests.master_server import MasterServer
    from tests.upbit_server import UpbitServer

    masters = MasterServer().start()
    kis = KisServer(history_start=dt.date(2025, 6, 2)).start()
    upbit = UpbitServer(first_day=dt.date(2025, 1, 1), last_day=dt.datetime.now(dt.UTC).date()).start()
    monkeypatch.delenv("DASHBOARD_OFFLINE")
    for name, value in {
        "KIS_BASE_URL": kis.url, "KIS_APP_KEY": APP_KEY, "KIS_APP_SECRET": APP_SECRET, "KIS_MAX_RPS": "20",
        "UPBIT_BASE_URL": upbit.url, "BITHUMB_BASE_URL": "http://127.0.0.1:9", "KIS_MASTER_URL": masters.url,
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    yield kis, upbit
    kis.stop()
    upbit.stop()
    masters.stop()


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """Environment for child processes: the repo importable, our isolated variables kept."""
    return {**os.environ, "PYTHONPATH": str(ROOT)}


@contextmanager
def held_by_another_process(path: Path, seconds: float) -> Iterator[subprocess.Popen]:
    """Another process opens the DuckDB file (taking its lock) for `seconds`; yields once it holds it."""
    code = (
        "import duckdb, time\n"
        "for _ in range(100):  # this test process may still be releasing it (store.LINGER)\n"
        f"    try: c = duckdb.connect({str(path)!r}); break\n"
        "    except duckdb.IOException: time.sleep(0.05)\n"
        f"print('held', flush=True); time.sleep({seconds})"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def run_cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m collectors ARGS` in a child process; output captured as text."""
    cmd = [sys.executable, "-m", "collectors", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
