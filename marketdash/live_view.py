"""Today on the pages: the Now strip (Overview) and the 1D view (Compare), from stored live quotes.

Pages read quotes from the store only; the process's one QuotePoller fetches them when a page's refresh finds
them due, so every open tab shares the same calls. Daily bars are never touched here: a quote is provisional.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from marketdash import catalog, charts, market_clock, ui
from marketdash.jobs import QuotePoller
from marketdash.live import NowRow
from marketdash.market_clock import KST

WAITING_EVERY = 2.0  # seconds between refreshes while a live asset has no quote yet
_FULL_RUN = "now_strip_full_run"  # session flag: the strip is being drawn by a full page run, not its own refresh
STATE_TEXT = {
    market_clock.OPEN: "open",
    market_clock.PRE: "pre-market",
    market_clock.POST: "after-hours",
    market_clock.BREAK: "daily break",
    market_clock.CLOSED: "closed",
}


@st.cache_resource(show_spinner=False)
def _poller() -> QuotePoller:
    svc = ui.service()
    return QuotePoller(svc, svc.settings.quote_every)


def age_text(age: dt.timedelta) -> str:
    seconds = max(int(age.total_seconds()), 0)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    if seconds < 36 * 3600:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} days"


def _when(moment: dt.datetime, now: dt.datetime) -> str:
    local = moment.astimezone(KST)
    return f"{local:%H:%M} KST" if local.date() == now.astimezone(KST).date() else f"{local:%a %m-%d %H:%M} KST"


def _state_line(row: NowRow, now: dt.datetime) -> str:
    text = STATE_TEXT[row.clock.state]
    if row.clock.next_change is None:
        return f"{text} (24/7)"
    verb = "opens" if row.clock.next_is_open else "closes"
    return f"{text} · {verb} {_when(row.clock.next_change, now)}"


def _card(column, row: NowRow, now: dt.datetime) -> None:
    asset = catalog.get(row.asset_id)
    if row.quote is None:
        column.metric(asset.short, "—", help=row.why_not_live or row.error or "waiting for the first quote")
        column.caption(_state_line(row, now) + (" · no live source" if row.why_not_live else ""))
        return
    q = row.quote
    # KIS quotes carry no time: the moment we fetched them. A settled one is the session's daily bar.
    kind = "closed" if q.source.endswith("daily close") else "traded" if q.time_from_source else "fetched"
    d = asset.decimals
    tip = (f"{asset.name_en}: {q.price:,.{d}f} {q.currency}, previous close {q.prev_close:,.{d}f} ({q.source}); "
           f"{kind} {q.quoted_at.astimezone(KST):%Y-%m-%d %H:%M:%S} KST.")  # fmt: skip
    if q.source == "bithumb":
        tip += " Bithumb's day starts at 00:00 KST (Upbit's at 09:00): its change is against another close."
    if row.error:
        tip += f" The last poll failed: {row.error}"
    column.metric(asset.short, ui.format_price(q.price, asset), f"{q.change_pct:+.2f}%", help=tip)
    age = row.age(now)
    warn = "⚠️ " if row.error else ""
    column.caption(f"{warn}{kind} {q.quoted_at.astimezone(KST):%H:%M:%S} KST ({age_text(age)} old) · "
                   f"{_state_line(row, now)}")  # fmt: skip


def now_strip(asset_ids: Sequence[str]) -> None:
    """Per asset: the live price, its change against the previous close, when it was quoted and the market's
    state. Refreshes itself every QUOTE_EVERY seconds while a shown market trades; says in one line why there is
    nothing live when there is not (offline, no keys), and never invents a quote."""
    svc = ui.service()
    live = [a for a in asset_ids if a in svc.live.quoters()]
    if not live:
        reasons = sorted({svc.why_not_live(a) for a in asset_ids})
        st.caption("**Now:** no live quotes. " + " ".join(reasons))
        return
    st.session_state[_FULL_RUN] = True  # the strip's first draw in this run polls in a thread, never waits
    with ui.store_errors_in_plain_words():
        board = svc.live.board(asset_ids)
    waiting = any(r.quote is None and r.why_not_live is None and not r.error for r in board)
    moving = any(r.clock.moving for r in board if r.why_not_live is None)
    every = WAITING_EVERY if waiting else svc.settings.quote_every if moving else None
    _strip(tuple(asset_ids), every)


def _strip(asset_ids: tuple[str, ...], every: float | None) -> None:
    @st.fragment(run_every=every)
    def strip() -> None:
        svc = ui.service()
        live = [a for a in asset_ids if a in svc.live.quoters()]
        # On its own refreshes the strip polls what is due and shows it in the same run: a price change reaches
        # the page within QUOTE_EVERY plus the poll. Inside a full page run it must not hold the page up.
        _poller().tick(live, wait=not st.session_state.pop(_FULL_RUN, False))
        with ui.store_errors_in_plain_words():
            board = svc.live.board(asset_ids)
        now = dt.datetime.now(dt.UTC)
        st.markdown(f"**Now** · {now.astimezone(KST):%Y-%m-%d %H:%M:%S} KST")
        for row_ids in (board[:4], board[4:]):
            for column, row in zip(st.columns(4), row_ids, strict=False):
                _card(column, row, now)
        missing = sorted({r.why_not_live for r in board if r.why_not_live})
        if missing:
            names = ", ".join(catalog.get(r.asset_id).short for r in board if r.why_not_live)
            st.caption(f"Not live: {names}. {' '.join(missing)}")
        if any(r.quote and r.quote.source == "bithumb" for r in board):
            st.caption("Bitcoin from Bithumb (Upbit did not answer): its day starts at 00:00 KST, not 09:00.")
        wanting = sorted({catalog.get(r.asset_id).short for r in board if r.quote is None and r.error})
        if wanting:
            st.caption(f"No quote yet for {', '.join(wanting)}: " + "; ".join(
                sorted({r.error for r in board if r.quote is None and r.error})))  # fmt: skip

    strip()


def today_view(asset_ids: Sequence[str]) -> None:
    """Compare's 1D: each asset's % change against its previous close over today's KST day, from the stored
    quotes, on one time axis in KST; the CSV holds exactly what is drawn."""
    svc = ui.service()
    live = [a for a in asset_ids if a in svc.live.quoters()]
    if live:
        _poller().tick(live, wait=False)
    with ui.store_errors_in_plain_words():
        wide = svc.live.today(asset_ids)
    now = dt.datetime.now(dt.UTC)
    if wide.empty:
        reasons = " ".join(sorted({svc.why_not_live(a) for a in asset_ids if a not in live}))
        hint = reasons or "They appear here as the pages fetch them while the markets trade."
        st.info(f"No live quotes stored today ({now.astimezone(KST):%Y-%m-%d} KST) for these assets yet. {hint}")
        return
    st.caption(
        "Each line: % change of the live price against that asset's previous close, as quoted today (KST). KIS "
        "quotes are stamped when fetched; Bitcoin's previous close is 09:00 KST (Upbit's day). Not daily bars: "
        "these points never enter statistics or correlations."
    )
    fig = charts.line_chart(
        wide.set_axis(wide.index.tz_localize(None), axis=0),
        title=f"Today, % change against the previous close ({now.astimezone(KST):%Y-%m-%d} KST)",
        yaxis_title="% vs previous close",
        reference=0.0,
        hover_format="%{x|%H:%M:%S}: %{y:+.2f}%",
    )
    csv = wide.copy()
    csv.index = pd.Index(csv.index.strftime("%Y-%m-%dT%H:%M:%S%z"), name="time_kst")
    ui.chart(fig, csv, "compare_today_pct_change")
