"""The server starts the work that waits for no reader (issue 32): `streamlit run app.py` serves the app as an
`st.App` whose start hook imports, opens the store and, with keys, fetches the default view before any browser
connects; the first reader then sees that fetch as if their page had made it."""

from __future__ import annotations

import datetime as dt
import os
import time

from marketdash.domain import catalog, clock
from tests.browser import streamlit_server
from tests.kis_server import APP_KEY, APP_SECRET, PATHS, KisServer
from tests.test_pages import EN, run_page
from tests.upbit_server import UpbitServer

ONE_YEAR_BACK = "FID_INPUT_DATE_1"
SIX = {"2001", "005930", "000660", "SOXL", "NYGOLD", "NYSILV"}  # Overview's KIS series (Bitcoin is Upbit's)
FX = "FX@KRW"
DIVIDENDS = {"ksd_dividend", "period_rights", "rights_ice"}  # KIS's dividend records (kis-dividends.md)


def _code(params: dict) -> str | None:
    """The series a chart call asks for (None for the dividend records fetched beside them)."""
    return params.get("FID_INPUT_ISCD") or params.get("SYMB")


def _year_back() -> str:
    return (clock.today_kst() - dt.timedelta(days=366)).strftime("%Y%m%d")  # Overview's default range: 1Y


def _wait_for_history() -> None:
    from marketdash.web import fetching

    job = fetching._history()["job"]
    deadline = time.monotonic() + 120
    while job is not None and job.running and time.monotonic() < deadline:
        time.sleep(0.2)


def _kind(path: str) -> str:
    return PATHS[path][0] if path in PATHS else path


def test_streamlit_run_fetches_the_default_view_before_any_browser_connects(tmp_path):
    kis = KisServer(history_start=dt.date(2025, 6, 2)).start()
    upbit = UpbitServer(first_day=dt.date(2025, 1, 1), last_day=dt.datetime.now(dt.UTC).date()).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIS_", "UPBIT_", "BITHUMB_", "DASHBOARD_"))}
    env.update(KIS_BASE_URL=kis.url, KIS_APP_KEY=APP_KEY, KIS_APP_SECRET=APP_SECRET, UPBIT_BASE_URL=upbit.url,
               BITHUMB_BASE_URL="http://127.0.0.1:9", MARKET_DB=str(tmp_path / "market.duckdb"),
               KIS_TOKEN_CACHE=str(tmp_path / "token.json"))  # fmt: skip
    try:
        with streamlit_server(env, log=tmp_path / "streamlit.log"):
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not (
                {_code(p) for _, p in list(kis.calls)} >= SIX | {FX}
                and {_kind(path) for path, _ in list(kis.calls)} >= DIVIDENDS
            ):
                time.sleep(0.1)
    finally:
        kis.stop()
        upbit.stop()
    calls = list(kis.calls)
    firsts: dict[str, dict] = {}
    for path, params in calls:
        if _code(params) and _kind(path) not in DIVIDENDS:
            firsts.setdefault(_code(params), params)
    assert set(firsts) >= SIX | {FX}, set(firsts)
    # The range on screen first, as the first page would have asked (SOXL's endpoint takes an end date alone).
    assert {p[ONE_YEAR_BACK] for c, p in firsts.items() if ONE_YEAR_BACK in p and c != FX} == {_year_back()}
    assert upbit.calls  # Bitcoin too
    # Overview draws neither USD/KRW nor dividends: they come behind it, after its last call for the year on screen.
    screen_ends = max(i for i, (_, p) in enumerate(calls) if p.get(ONE_YEAR_BACK) == _year_back())
    behind = [(_kind(path), _code(p)) for path, p in calls[screen_ends + 1 :]]
    assert ("chart", FX) in behind and {kind for kind, _ in behind} >= DIVIDENDS
    assert not [kind for kind, code in [(_kind(path), _code(p)) for path, p in calls[:screen_ends]]
                if kind in DIVIDENDS or code == FX]  # fmt: skip
    assert "Traceback" not in (tmp_path / "streamlit.log").read_text()


def test_the_first_reader_sees_the_fetch_the_server_made_before_them(live_env):
    from marketdash.web import warmup

    kis, _ = live_env
    warmup.warm_up()  # what the server's start hook runs, here in the test's thread
    fetched = len(kis.calls)
    assert fetched >= 20
    at = run_page("app.py")
    lines = [m.value for m in at.markdown if m.value.startswith(("✅", "⚠️"))]
    named = {EN.name(a) for a in catalog.COMPARED}  # USD/KRW, which Overview does not draw, comes behind it
    assert {line.split("**")[1] for line in lines} == named, lines  # the server's fetch, said to the first reader
    assert all(line.startswith("✅") for line in lines), lines
    # The page asked for no range on screen again: every call since is the history behind it (from 2015).
    assert all(p.get(ONE_YEAR_BACK) != _year_back() for _, p in kis.calls[fetched:])
    assert not any("Sample data" in w.value for w in at.warning)
    again = run_page("app.py")  # said once: the next reader's page starts from the store
    assert not [m.value for m in again.markdown if m.value.startswith(("✅", "⚠️"))]
    _wait_for_history()


def test_the_command_lines_entry_imports_nothing_heavy_before_its_first_request():
    """`python -m collectors update` sends KIS's token request from a thread while pandas, DuckDB and pyarrow load
    (0.4 s): the package the entry points import must not load them itself."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    heavy = ("pandas", "duckdb", "pyarrow", "numpy", "streamlit")
    code = f"import sys, marketdash.cli; print([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"


def test_update_asks_for_the_token_early_once_and_never_for_coins_alone(tmp_path):
    from tests.conftest import run_cli
    from tests.kis_server import cli_env

    kis = KisServer(history_start=dt.date(2025, 6, 2)).start()
    try:
        env = cli_env(kis, tmp_path, UPBIT_BASE_URL="http://127.0.0.1:9", BITHUMB_BASE_URL="http://127.0.0.1:9")
        coins = run_cli(env, "update", "--assets", "btc", "--db", str(tmp_path / "m.db"))
        assert coins.returncode == 1 and kis.token_issues == 0  # no KIS asset asked: no token (KIS texts the owner)
        done = run_cli(env, "update", "--assets", "samsung", "--start", "2026-01-01", "--db", str(tmp_path / "m.db"))
        assert done.returncode == 0, done.stdout + done.stderr
        assert kis.token_issues == 1 and kis.calls  # the early request's token served the command's calls
    finally:
        kis.stop()


def _ended_backfill_script() -> None:
    """A page's view (삼성전자 from 2026-01-05) and a backfill that has ended: whether the page reruns for it."""
    import datetime as dt

    import streamlit as st

    from marketdash.domain.records import DailyBar, bars_to_frame
    from marketdash.services.jobs import HistoryJob
    from marketdash.services.updates import UpdateResult
    from marketdash.web import fetching, ui

    def store(*days: str) -> None:
        bars = [DailyBar("samsung", dt.date.fromisoformat(d), None, None, None, 70_000.0, None, "KRW", "kis")
                for d in days]  # fmt: skip
        ui.service().store.upsert_bars(bars_to_frame(bars))

    start, shown = dt.date(2026, 1, 5), ("samsung", "usdkrw")
    store("2026-01-05", "2026-01-06")
    job = HistoryJob(ui.service(), ["samsung"])  # never begun: it has ended, as far as a page can tell
    job.results = [UpdateResult("samsung", "kis", "ok", new_rows=2)]
    counted = {view: ((job.id, shown, view), ui.service().store.rows_from(shown, view)) for view in (start, None)}
    store("2025-12-29", "2025-12-30")  # the backfill's bars: before the range on screen
    seen = {}
    for name, view in (("older", start), ("all", None)):  # a 1Y page, and a Max page drawn before the backfill
        st.session_state["_history_rows"] = counted[view]
        seen[name] = fetching._changes_view(job, shown, view)
    st.session_state["_history_rows"] = counted[start]
    store("2026-01-07")  # a bar inside the range the page did not load
    seen["inside"] = fetching._changes_view(job, shown, start)
    job.results = [UpdateResult("samsung", "kis", "error", note=None, kind="network")]
    st.session_state["_history_rows"] = ((job.id, shown, start), ui.service().store.rows_from(shown, start))
    seen["failed"] = fetching._changes_view(job, shown, start)
    st.session_state["seen"] = seen


def test_an_ended_backfill_reruns_a_page_only_when_its_view_changed():
    """Issue 32: the backfill behind a first page fills the years before its range; a 1Y page reran for it anyway,
    a second full run while the browser drew the first (0.5 to 0.8 s of a new clone's first chart). It reruns for
    bars inside its range, for any range over all the history, and to say a failure."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_ended_backfill_script, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["seen"] == {"older": False, "all": True, "inside": True, "failed": True}
