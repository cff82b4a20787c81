import datetime as dt
import subprocess
import sys
import textwrap

import duckdb
import pandas as pd
import pytest

from marketdash.domain.records import DailyBar, bars_to_frame
from marketdash.services.store import FetchAttempt, Store, StoreBusyError, utcnow
from tests.conftest import held_by_another_process


def _bars(asset_id: str, start: dt.date, n: int, close0: float = 100.0, source: str = "kis") -> pd.DataFrame:
    return bars_to_frame(
        DailyBar(
            asset_id, start + dt.timedelta(days=i), close0, close0 + 1, close0 - 1, close0 + i, 1000.0, "KRW", source
        )
        for i in range(n)
    )


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "s.duckdb")


def test_upsert_is_idempotent_and_revises(store):
    frame = _bars("samsung", dt.date(2026, 1, 1), 5)
    assert store.upsert_bars(frame) == 5
    assert store.upsert_bars(frame) == 5
    got = store.read_bars(["samsung"])
    assert len(got) == 5
    assert got["close"].tolist() == [100.0, 101.0, 102.0, 103.0, 104.0]
    revised = frame.tail(1).assign(close=999.0)
    store.upsert_bars(revised)
    assert store.read_bars(["samsung"])["close"].iloc[-1] == 999.0
    assert store.last_dates() == {"samsung": dt.date(2026, 1, 5)}


def test_a_failing_write_keeps_every_stored_row(store):
    store.upsert_bars(_bars("samsung", dt.date(2026, 1, 1), 5))
    before = store.read_bars()
    # A batch whose last row breaks a constraint (NULL asset_id) after valid revisions of stored days.
    bad = _bars("samsung", dt.date(2026, 1, 1), 6).assign(close=1.0)
    bad.loc[5, "asset_id"] = None
    with pytest.raises(duckdb.Error):
        store.upsert_bars(bad)
    pd.testing.assert_frame_equal(store.read_bars(), before)


def test_rows_without_a_close_are_refused_before_touching_the_store(store):
    store.upsert_bars(_bars("gold", dt.date(2026, 1, 1), 3))
    for bad in (float("nan"), float("inf"), 0.0):
        broken = _bars("gold", dt.date(2026, 1, 1), 3).assign(close=bad)
        with pytest.raises(ValueError, match="positive, finite close"):
            store.upsert_bars(broken)
    assert store.read_bars(["gold"])["close"].tolist() == [100.0, 101.0, 102.0]


def test_a_worse_source_never_replaces_a_better_one(store):
    store.upsert_bars(_bars("btc", dt.date(2026, 1, 1), 3, source="upbit"))
    store.upsert_bars(_bars("btc", dt.date(2026, 1, 1), 4, close0=50.0, source="bithumb"))
    got = store.read_bars(["btc"])
    assert got["source"].tolist() == ["upbit", "upbit", "upbit", "bithumb"]
    assert got["close"].tolist() == [100.0, 101.0, 102.0, 53.0]


def test_read_filters_by_asset_and_dates(store):
    store.upsert_bars(pd.concat([_bars("samsung", dt.date(2026, 1, 1), 10), _bars("gold", dt.date(2026, 1, 1), 10)]))
    got = store.read_bars(["gold"], dt.date(2026, 1, 3), dt.date(2026, 1, 5))
    assert got["asset_id"].unique().tolist() == ["gold"]
    assert got["date"].dt.date.tolist() == [dt.date(2026, 1, 3), dt.date(2026, 1, 4), dt.date(2026, 1, 5)]


def test_fetch_log_and_coverage(store):
    store.upsert_bars(_bars("samsung", dt.date(2026, 1, 1), 4))
    t0 = utcnow()
    store.log_fetch(FetchAttempt("samsung", "kis", t0, t0, None, None, 4, "ok", ""))
    store.log_fetch(FetchAttempt("samsung", "kis", t0, t0 + dt.timedelta(seconds=1), None, None, 0, "error", "boom"))
    store.log_fetch(FetchAttempt("btc", "upbit", t0, t0, None, None, 0, "error", "offline"))
    cov = store.coverage().set_index("asset_id")
    assert cov.loc["samsung", "rows"] == 4
    assert cov.loc["samsung", "last_status"] == "error"
    assert cov.loc["samsung", "last_message"] == "boom"
    assert cov.loc["btc", "rows"] == 0
    assert store.last_attempts()["btc"].message == "offline"


_WRITER = textwrap.dedent(
    """
    import datetime as dt, sys
    sys.path.insert(0, {root!r})
    from marketdash.domain.records import DailyBar, bars_to_frame
    from marketdash.services.store import Store
    store = Store({path!r}, busy_timeout=60)
    for i in range(40):
        day = dt.date(2020, 1, 1) + dt.timedelta(days=i)
        store.upsert_bars(bars_to_frame([DailyBar({asset!r}, day, 1, 1, 1, 1 + i, 1, "KRW", "kis")]))
        store.read_bars([{asset!r}])
    """
)


def test_two_processes_write_the_same_file_without_errors(tmp_path):
    from tests.conftest import ROOT

    path = tmp_path / "shared.duckdb"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER.format(root=str(ROOT), path=str(path), asset=asset)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for asset in ("samsung", "gold")
    ]
    errors = [p.communicate(timeout=180)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    got = Store(path).read_bars()
    assert got.groupby("asset_id").size().to_dict() == {"gold": 40, "samsung": 40}


def test_a_lock_held_too_long_is_a_clear_error(tmp_path):
    path = tmp_path / "held.duckdb"
    Store(path).upsert_bars(_bars("samsung", dt.date(2026, 1, 1), 2))
    with held_by_another_process(path, seconds=3):
        with pytest.raises(StoreBusyError, match="in use by another program"):
            Store(path, busy_timeout=0.5).read_bars()
        # A patient reader gets through once the other process lets go.
        assert len(Store(path, busy_timeout=20).read_bars()) == 2
