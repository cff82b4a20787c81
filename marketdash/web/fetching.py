"""What pages fetch and start from: missing days with progress, the history filled in behind the page, USD/KRW
for currency views, and `page_data`, the common start of every page.

The fetching itself is the service's; this module runs it for a page (progress bars, one backfill per process, a
fragment that follows it) and turns its results into sentences.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, wait

import streamlit as st

from marketdash.domain import catalog
from marketdash.domain.config import DEFAULT_START
from marketdash.domain.i18n import Msg, Name, msg
from marketdash.services.dividends import DividendResult
from marketdash.services.jobs import HistoryJob
from marketdash.services.market import MarketService, PriceData
from marketdash.services.store import StoreError
from marketdash.services.updates import UpdateResult
from marketdash.web import access, turns
from marketdash.web.notices import data_notice, missing_notice, timing_notes
from marketdash.web.ui import (
    clear_caches,
    get_service,
    load_prices,
    service,
    store_errors_in_plain_words,
    store_problem,
    tr,
)

LIVE_CHECK_EVERY = 60.0  # seconds between checks for missing days, per process and asset set
UPDATE_WORKERS = 3  # series fetched at once; they share each source's throttle, as in the command line
HISTORY_DELAY = 0.5  # seconds before the backfill behind a page starts: the page's own script and charts go first


@st.cache_resource(show_spinner=False)
def _live_checks() -> tuple[threading.Lock, dict[tuple[str, ...], float]]:
    return threading.Lock(), {}


class _Fetch:
    """The missing days of `todo` from `start`, and their dividends unless the page draws none (`dividends`), in a
    thread of its own; how far each series has got is written by the fetching threads and read by the page that
    shows it (Streamlit elements may only be touched from the script's own thread)."""

    def __init__(self, svc: MarketService, todo: list[str], start: dt.date | None, dividends: bool = True) -> None:
        self.todo = todo
        self.done: dict[str, float] = dict.fromkeys(todo, 0.0)
        self.latest: dict[str, Msg] = {}
        self.outcome: Future[tuple[list[UpdateResult], dict[str, DividendResult]]] = Future()
        threading.Thread(target=self._run, args=(svc, start, dividends), name="fetch", daemon=True).start()

    def _run(self, svc: MarketService, start: dt.date | None, dividends: bool) -> None:
        try:
            if dividends:
                outcome = svc.update_with_dividends(self.todo, start, progress=self._progress, workers=UPDATE_WORKERS)
            else:
                outcome = svc.update(self.todo, start, progress=self._progress, workers=UPDATE_WORKERS), {}
        except BaseException as exc:  # raised again in whichever page shows this fetch
            self.outcome.set_exception(exc)
        else:
            clear_caches()  # before anyone waiting reads: no page loads the bars from before this fetch
            self.outcome.set_result(outcome)

    def _progress(self, asset_id: str, fraction: float, text: Msg) -> None:
        self.done[asset_id], self.latest[asset_id] = fraction, text

    def status(self) -> Msg:
        current = next((a for a in reversed(self.todo) if 0 < self.done[a] < 1), None)
        if current is None:
            return msg("progress.starting")
        return msg("progress.series", asset=Name(current), doing=self.latest.get(current, msg("progress.starting")))


@st.cache_resource(show_spinner=False)
def _first_fetch() -> dict:
    """The fetch the server starts for the default view before anyone opens a page (warm_up), until a page shows
    it: the first reader sees its progress and results as if their page had asked for it."""
    return {"fetch": None}


def refresh_live(
    asset_ids: Sequence[str], force: bool = False, start: dt.date | None = None, dividends: bool = True
) -> list[UpdateResult]:
    """Fetch missing days for assets with a live source, with progress; checked at most once a minute.

    An asset with nothing stored gets the range on screen (from `start`) now, so the page draws in seconds; the rest
    of its history follows behind the page (fill_history_behind). `force` (the Data page's button) fetches all.
    `dividends=False`: a page that draws none leaves them to the backfill behind it.
    """
    svc = service()
    lock, checked = _live_checks()
    key = tuple(asset_ids)
    with lock:
        first, _first_fetch()["fetch"] = _first_fetch()["fetch"], None
        recent = not force and time.monotonic() - checked.get(key, -1e9) < LIVE_CHECK_EVERY
        if not recent:
            checked[key] = time.monotonic()
    if first is not None:  # the server's own fetch of the default view: this page waits for it and says it
        _show(first, force=False, left_out=[])
    if recent or store_problem():  # a store that cannot save: the page says why (data_notice, the Data page)
        return []
    if force:
        _wait_for_history()  # the same series and the same budget: never two fetches of one series at once
    with store_errors_in_plain_words():
        todo = [a for a in asset_ids if a in svc.sources.collectors()] if force else svc.stale_assets(asset_ids)
    left_out = [a for a in asset_ids if a not in todo] if force else []  # no source now: said, never "updated"
    if not todo:
        if left_out:
            st.info(_left_out_line(left_out))
        return []
    # "Update now" fills the whole history too, as far back as DEFAULT_START (what the pages fill behind)
    since = dt.date.fromisoformat(DEFAULT_START) if force else start
    return _show(_Fetch(svc, todo, since, dividends or force), force, left_out)


def _show(fetch: _Fetch, force: bool, left_out: list[str]) -> list[UpdateResult]:
    """A fetch's progress in a status box until it ends, then a line per series and a summary."""
    t = tr()
    with st.status(t("update.running", n=len(fetch.todo)), expanded=force) as box, turns.stepped_out():
        bar = st.progress(0.0)
        while not fetch.outcome.done():
            bar.progress(min(sum(fetch.done.values()) / len(fetch.todo), 1.0), text=t.text(fetch.status()))
            wait([fetch.outcome], timeout=0.2)  # the page goes on the moment the fetch ends
        results, dividends = fetch.outcome.result()
        bar.progress(1.0, text=t("progress.done"))
        for result in results:
            icon = "✅" if result.ok else "⚠️"
            st.write(f"{icon} **{t.name(result.asset_id)}**: {describe(result)}")
        for result in dividends.values():  # a dividend fetch that failed; a paper key is said on the Data page
            if not result.ok and result.kind != "real only":
                st.write(f"⚠️ **{t.name(result.asset_id)}**: {t('div.update_failed', why=result.note or '')}")
        failed = [r for r in results if not r.ok]
        if len(results) <= NAMED_UP_TO and not failed:  # "원/달러 업데이트 완료", not "1개 중 1개": which ones
            summary = t("update.summary_named", names=[Name(r.asset_id) for r in results])
        else:
            summary = t("update.summary", ok=len(results) - len(failed), n=len(results))
        summary += t("update.summary_failed", failed=len(failed)) if failed else ""
        summary += t("update.summary_left_out", n=len(left_out)) if left_out else ""
        box.update(label=summary, state="error" if failed else "complete", expanded=bool(failed or left_out) and force)
        if left_out:
            st.write(f"⏸️ {_left_out_line(left_out)}")
    return results


def warm(asset_ids: Sequence[str], start: dt.date | None) -> _Fetch | None:
    """The server's own start on the default view, before anyone opens a page (marketdash/web/warmup.py): what it
    lacks, fetched as its page would and shown to the first reader; returns that fetch (its `todo`, its `outcome` to
    wait on; None: nothing to fetch). Outside any page: a store or a setting that cannot be used is left for the page
    to say."""
    svc = get_service()
    if svc.store_problem():
        return None
    shown, fetch = screen_series(asset_ids, first_screen=True), None
    lock, checked = _live_checks()
    with lock:
        if time.monotonic() - checked.get(tuple(shown), -1e9) >= LIVE_CHECK_EVERY:
            checked[tuple(shown)] = time.monotonic()
            todo = svc.stale_assets(shown)
            fetch = _first_fetch()["fetch"] = _Fetch(svc, todo, start, dividends=False) if todo else None
    return fetch


def history_after_warm(asset_ids: Sequence[str]) -> None:
    """The history behind the default view, begun by the server once its first fetch is in (as its page would)."""
    everything, shown = with_fx(asset_ids), screen_series(asset_ids, first_screen=True)
    _begin_history(get_service(), everything, [a for a in everything if a not in shown])


NAMED_UP_TO = 3  # an update of this many series or fewer names them in its summary


def _left_out_line(asset_ids: Sequence[str]) -> str:
    """The assets an update could not touch, grouped by why (offline, no keys…), in one line each reason."""
    t, svc = tr(), service()
    reasons: dict[str, list[str]] = {}
    for asset_id in asset_ids:
        reasons.setdefault(t.text(svc.sources.why_not_live(asset_id)), []).append(t.name(asset_id))
    return " ".join(t("update.left_out", names=t("list.joiner").join(n), why=why) for why, n in reasons.items())


@st.cache_resource(show_spinner=False)
def _history() -> dict:
    """The process's one backfill behind the pages, and when pages last looked for history to fill."""
    return {"lock": threading.Lock(), "job": None, "checked": -1e9}


def fill_history_behind(
    asset_ids: Sequence[str], start: dt.date | None = None, shown: Sequence[str] | None = None
) -> None:
    """Start the backfill of what the assets' history lacks (once a minute at most, one job per process), and show
    its progress. When it ends the page reruns once if it stored bars of the series it draws (`shown`, default all)
    inside the range on screen (from `start`; None: all), so its charts reach back as far as the store now does; a
    1Y view, whose own range was fetched before the backfill began, stays as drawn (its rerun was a second full run
    while the browser drew the first), as does Overview when USD/KRW, which it does not draw, comes in. A series
    of `asset_ids` the page does not draw (Overview's USD/KRW), with nothing stored, is fetched whole behind it."""
    drawn = tuple(asset_ids if shown is None else shown)
    with store_errors_in_plain_words():
        job = _begin_history(service(), asset_ids, [a for a in asset_ids if a not in drawn])
        if job is not None and job.running:  # counted before the page loads its bars: what comes later is new
            view = (job.id, drawn, start)
            st.session_state["_history_rows"] = (view, service().store.rows_from(drawn, start))
    if job is None:
        return
    if job.running:
        _history_progress(drawn, start)
    elif st.session_state.get("history_seen") != job.id:
        st.session_state["history_seen"] = job.id
        t = tr()
        for result in job.failures():
            st.warning(t("history.failed", name=t.name(result.asset_id), why=describe(result)))
        if job.error:
            st.warning(t("history.stopped", why=job.error))


def _begin_history(svc: MarketService, asset_ids: Sequence[str], left_out: Sequence[str] = ()) -> HistoryJob | None:
    """The process's backfill: started for what `asset_ids` lack when none runs (looked for once a minute): the
    history before what pages fetched, the series of `left_out` (a first screen's USD/KRW) that nothing stored
    yet, and the dividends. A series the page's own fetch failed to get is not tried again behind it."""
    holder = _history()
    with holder["lock"]:
        job: HistoryJob | None = holder["job"]
        idle = job is None or not job.running
        if idle and time.monotonic() - holder["checked"] >= LIVE_CHECK_EVERY:
            holder["checked"] = time.monotonic()
            gaps = [] if svc.store_problem() else [*svc.history_gaps(asset_ids), *svc.unstored(left_out)]
            if gaps:
                job = holder["job"] = HistoryJob(
                    svc, gaps, workers=UPDATE_WORKERS, on_done=clear_caches, delay=HISTORY_DELAY
                ).begin()
    return job


def _wait_for_history() -> None:
    job: HistoryJob | None = _history()["job"]
    if job is None or not job.running:
        return
    t = tr()
    bar = st.progress(job.fraction, text=t("history.waiting", doing=t("progress.starting")))
    with turns.stepped_out():
        while job.running:
            bar.progress(job.fraction, text=t("history.waiting", doing=job.status()))
            time.sleep(0.2)
    bar.empty()


@st.fragment(run_every=1.0)
def _history_progress(shown: tuple[str, ...], start: dt.date | None) -> None:
    job: HistoryJob | None = _history()["job"]
    if job is None or not job.running:
        if _changes_view(job, shown, start):
            st.rerun()  # the whole page, once: its charts now reach as far back as the store does
        return  # the bar goes; the page stands as drawn
    st.progress(
        job.fraction,
        text=tr()("history.progress", start=job.start, names=[Name(a) for a in job.assets],
                  pct=f"{job.fraction:.0%}", doing=job.status()),
    )  # fmt: skip


def _changes_view(job: HistoryJob | None, shown: tuple[str, ...], start: dt.date | None) -> bool:
    """Whether an ended backfill changed the view: bars of `shown` from `start` that the page did not load, or a
    failure to say (a rerun says it)."""
    if job is None or job.error or job.failures():
        return True
    seen_view, seen_rows = st.session_state.get("_history_rows", (None, None))
    try:
        return seen_view != (job.id, shown, start) or service().store.rows_from(shown, start) != seen_rows
    except StoreError:
        return True  # the page's run says what is wrong with the store


HINTS = {"credentials", "rate limited", "blocked", "not subscribed", "network"}  # kinds with advice (hint.*)


def describe(result: UpdateResult) -> str:
    """A plain-words line for an update result, in the reader's language."""
    t = tr()
    if result.status == "skipped":
        return t("update.skipped")
    if result.ok:
        sources = [msg(f"source.{s}") for s in result.source.split("+")]
        return t("update.ok", n=result.new_rows, day=result.last_date, source=sources)
    kind = t(f"kind.{result.kind or 'error'}")
    hint = t(f"hint.{result.kind}") if result.kind in HINTS else ""
    return t("update.failed", kind=kind, why=result.note or "", hint=hint).strip()


def with_fx(asset_ids: Sequence[str]) -> list[str]:
    """The assets a page fetches: its own and USD/KRW, which every currency view needs over the store's span."""
    return [*asset_ids, *([] if catalog.FX_ASSET in asset_ids else [catalog.FX_ASSET])]


def screen_series(asset_ids: Sequence[str], first_screen: bool) -> list[str]:
    """The series a page fetches before it draws: the first screen (Overview, in each asset's own currency) only
    its own, every other page USD/KRW too; what a page leaves out comes with the history behind it."""
    return list(asset_ids) if first_screen else with_fx(asset_ids)


def page_data(
    asset_ids: Sequence[str],
    start: dt.date | None,
    end: dt.date | None,
    min_assets: int = 1,
    first_screen: bool = False,
) -> tuple[PriceData, list[str]]:
    """The common start of every page: fetch what is missing, load, explain sample data, timing and gaps.

    Stops the page with a plain message when fewer than `min_assets` assets are chosen or have data in the range.
    `first_screen` (Overview): only its own series before it draws (no USD/KRW, no dividends: they come with the
    history behind it), the card on what keys unlock, and the markets' timing left for under the chart.
    """
    if len(asset_ids) < min_assets:
        st.info(tr()("pick.at_least_one" if min_assets == 1 else "pick.at_least", n=min_assets))
        st.stop()
    refresh_live(screen_series(asset_ids, first_screen), start=start, dividends=not first_screen)
    fill_history_behind(with_fx(asset_ids), start, shown=screen_series(asset_ids, first_screen))
    data = load_prices(tuple(asset_ids), start, end)
    data_notice(data, keys_card=first_screen and access.can_write())  # how to add keys: the owner's card
    if not first_screen:  # the first screen says it under its chart: the cards and the chart come first
        timing_notes(asset_ids)
    present = missing_notice(data, asset_ids)
    if len(present) < min_assets:
        st.stop()
    return data, present
