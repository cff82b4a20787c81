"""Today on the pages: the Now strip (Overview) and the 1D view (Compare), from stored live quotes.

Pages read quotes from the store only; the process's one QuotePoller fetches them when a page's refresh finds
them due, so every open tab shares the same calls. Daily bars are never touched here: a quote is provisional.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from marketdash.domain import catalog, clock, market_clock
from marketdash.domain.i18n import Translator
from marketdash.domain.market_clock import KST
from marketdash.domain.records import CLOSE, DELAYED, Quote
from marketdash.services.jobs import QuotePoller
from marketdash.services.live import NowRow
from marketdash.web import charts, notices, ui
from marketdash.web.ui import tr

WAITING_EVERY = 2.0  # seconds between refreshes while a live asset has no quote yet
_FULL_RUN = "cards_full_run"  # session flag: the cards are being drawn by a full page run, not their own refresh
CARDS_PER_ROW = 7
RANGE_REACHES_PRICE = dt.timedelta(days=7)  # a range ending within a week of the shown price runs to that price


@st.cache_resource(show_spinner=False)
def _poller() -> QuotePoller:
    svc = ui.service()
    return QuotePoller(svc, svc.settings.quote_every)


def age_text(t: Translator, age: dt.timedelta) -> str:
    seconds = max(int(age.total_seconds()), 0)
    if seconds < 90:
        return t("age.seconds", n=seconds)
    if seconds < 90 * 60:
        return t("age.minutes", n=round(seconds / 60))
    if seconds < 36 * 3600:
        return t("age.hours", n=round(seconds / 3600))
    return t("age.days", n=round(seconds / 86400))


def _when(t: Translator, moment: dt.datetime, now: dt.datetime) -> str:
    local = moment.astimezone(KST)
    if local.date() == now.astimezone(KST).date():
        return t("when.today", time=f"{local:%H:%M}")
    return t("when.day", day=t(f"weekday.{local.weekday()}"), date=t.month_day(local), time=f"{local:%H:%M}")


def _state_line(t: Translator, row: NowRow, now: dt.datetime) -> str:
    state = t(f"state.{row.clock.state}")
    if row.clock.next_change is None:
        return t("clock.always", state=state)
    verb = "clock.opens" if row.clock.next_is_open else "clock.closes"
    return t(verb, state=state, when=_when(t, row.clock.next_change, now))


def _money(t: Translator, change: float, asset_id: str) -> str:
    """A signed change in the asset's own unit, in the units its price is written in: -2,200원, +0.35달러, +1.20
    (index points), +7,530만 원 beside a price in 억/만."""
    text = t.change_amount(abs(change), asset_id)
    return ("-" if round(change, 8) < 0 else "+") + text


def span_text(t: Translator, daily: pd.Series, price: float, quote: Quote | None, now: dt.datetime) -> str:
    """The range's change, ending at the price the card shows (as the chart's end label, from the chart's base
    day); a range that ended days before that price ends at its own last close, and says which."""
    last = pd.Timestamp(daily["last_date"]).date()
    shown = last if quote is None else quote.session or quote.quoted_at.astimezone(KST).date()
    if shown - last <= RANGE_REACHES_PRICE and pd.notna(daily.get("range_base")):
        # Past the last close the chart's end label (close to close) differs: the card says it ends at its price.
        key = "cards.range" if _same_price(price, daily.get("last_close")) else "cards.range_now"
        text = t(key, pct=t.pct((price / float(daily["range_base"]) - 1) * 100, 1))
    else:
        text = t("cards.range_to", pct=t.pct(daily["range_change_pct"], 1), day=_day(t, last, now))
    return text + (" · " + t("cards.stale") if bool(daily.get("stale", False)) else "")


def _same_price(price: float, close: object) -> bool:
    return pd.notna(close) and abs(price - float(close)) <= 1e-9 * max(abs(price), 1.0)


def _day(t: Translator, day: dt.date, now: dt.datetime) -> str:
    """A session's date as a card writes it: 12.04 this year, 2025.12.04 another."""
    return t.month_day(day) if day.year == now.astimezone(KST).year else t.date(day)


def quote_kind(q: Quote, row: NowRow, now: dt.datetime) -> tuple[str, dt.date | None]:
    """What a quote is to a reader, and the session it belongs to: a trade's price (`traded`), a price fetched while
    its market trades (`fetched`), a delayed price (`delayed`), a session's close (`close`, the daily bar's or the
    source's), or, fetched during a session that has since ended, its last price before the close."""
    asset = catalog.get(q.asset_id)
    if q.kind == DELAYED and row.clock.moving:
        return "delayed", q.session
    if q.kind in (CLOSE, DELAYED):
        return "close", q.session
    if q.time_from_source or row.clock.moving or asset.calendar == "24/7":
        return ("traded" if q.time_from_source else "fetched"), None
    session = market_clock.session_of(asset, q.quoted_at)
    if q.quoted_at >= market_clock.session_hours(asset, session).close:
        return "close", session  # fetched after the close: the KRX price stands still at the close
    return "last_of_session", session


def _card(column, t: Translator, row: NowRow, daily: pd.Series | None, now: dt.datetime, sample: bool) -> None:
    """One asset's one price: the live quote while its market trades, the session's close after it (the stored
    bar once it exists), else the last stored close; each labelled, with its change against the previous close
    in the asset's unit and in %, when it was priced, its market's state, and the range's change."""
    label = t.name(row.asset_id)
    state = " · " + t(f"state.{row.clock.state}").replace(" ", "\u00a0")  # "장 마감" never breaks in two
    has_daily = daily is not None and pd.notna(daily.get("last_close"))
    q = row.quote
    if q is not None:
        kind, day = quote_kind(q, row, now)
        source = q.source.removesuffix(" daily close")
        quoted = q.quoted_at.astimezone(KST)
        price, change, pct = q.price, q.price - q.prev_close, q.change_pct
        if pd.isna(pct) and has_daily and pd.Timestamp(daily["last_date"]).date() == q.session:
            pct = float(daily["day_change_pct"])  # a close without its previous one: the stored bars' change
            change = price - price / (1 + pct / 100) if pd.notna(pct) else float("nan")
        when = _day(t, day, now) if day else ""
        tip = t(f"now.tip_{kind}", name=t.full_name(row.asset_id), price=t.price(q.price, row.asset_id),
                prev=t.price(q.prev_close, row.asset_id) if pd.notna(q.prev_close) else "—",
                source=t(f"source.{source}"), when=t.datetime(quoted), day=when)  # fmt: skip
        if q.source == "bithumb":
            tip += " " + t("now.bithumb_day")
        if row.error:
            tip += " " + t("now.last_poll_failed", why=t.text(row.error))
        kind_text = t(f"cards.{kind}", time=f"{quoted:%H:%M:%S}", age=age_text(t, row.age(now)), day=when)
    elif has_daily:
        price, pct = float(daily["last_close"]), float(daily["day_change_pct"])
        change = price - price / (1 + pct / 100) if pd.notna(pct) else float("nan")
        tip = t("overview.card_help", name=t.full_name(row.asset_id), unit=t.unit(row.asset_id),
                pct=t.pct(daily["range_change_pct"], 1))  # fmt: skip
        kind_text = t("cards.last_close", day=_day(t, pd.Timestamp(daily["last_date"]).date(), now))
        state = ""  # a past close: today's market state belongs to no price on this card
    else:
        column.metric(label, "—", help=t.text(row.why_not_live or row.error or t("now.waiting")))
        column.caption(_state_line(t, row, now))
        return
    tip += " " + _state_line(t, row, now) + "."
    delta = f"{_money(t, change, row.asset_id)} ({t.pct(pct)})" if pd.notna(change) else t.pct(pct)
    column.metric(label, t.price(price, row.asset_id), delta, delta_color=t.delta_color(pct), help=tip)
    warn = ":material/warning: " if row.error else ""
    mark = t("cards.sample") + " · " if sample else ""
    column.caption(warn + f"{mark}{kind_text}{state}  \n{span_text(t, daily, price, q, now) if has_daily else ''}")
    column.page_link("pages/5_asset.py", label=t("asset.detail"), icon=":material/candlestick_chart:",
                     query_params={**ui.sticky_params(), "id": row.asset_id})  # fmt: skip


def asset_cards(asset_ids: Sequence[str], daily: pd.DataFrame, sample_assets: Sequence[str]) -> None:
    """One card per asset (the page's only prices): refreshes itself every QUOTE_EVERY seconds while a shown
    market trades, and never invents a quote (no live source: the last stored close, labelled so)."""
    svc = ui.service()
    live = [a for a in asset_ids if a in svc.live.quoters()]
    every = None
    if live:
        st.session_state[_FULL_RUN] = True  # the cards' first draw in this run polls in a thread, never waits
        with ui.store_errors_in_plain_words():
            board = svc.live.board(asset_ids)
        waiting = any(r.quote is None and r.why_not_live is None and not r.error for r in board)
        moving = any(r.clock.moving for r in board if r.why_not_live is None)
        every = WAITING_EVERY if waiting else svc.settings.quote_every if moving else None
    _cards(tuple(asset_ids), daily, tuple(sample_assets), every)


def _cards(asset_ids: tuple[str, ...], daily: pd.DataFrame, sample: tuple[str, ...], every: float | None) -> None:
    @st.fragment(run_every=every)
    def cards() -> None:
        svc, t = ui.service(), tr()
        live = [a for a in asset_ids if a in svc.live.quoters()]
        if live:
            # On its own refreshes the cards poll what is due and show it in the same run: a price change reaches
            # the page within QUOTE_EVERY plus the poll. Inside a full page run they must not hold the page up.
            _poller().tick(live, wait=not st.session_state.pop(_FULL_RUN, False))
        with ui.store_errors_in_plain_words():
            board = svc.live.board(asset_ids)
        now = clock.now()
        for first in range(0, len(board), CARDS_PER_ROW):
            for column, row in zip(st.columns(CARDS_PER_ROW), board[first : first + CARDS_PER_ROW], strict=False):
                known = daily.loc[row.asset_id] if row.asset_id in daily.index else None
                _card(column, t, row, known, now, row.asset_id in sample and row.quote is None)
        if any(r.quote and r.quote.source == "bithumb" for r in board):
            st.caption(t("now.from_bithumb"))

    cards()


def flat_across(wide: pd.DataFrame) -> pd.DataFrame:
    """A market that has not moved today (closed, or not traded yet: every quote the same) as a level line across
    the whole time axis, not a dot at the moment it was asked."""
    out = wide.copy()
    if len(out.index) < 2:
        return out
    for asset_id in out.columns:
        values = out[asset_id].dropna()
        if len(values) and values.nunique() == 1:
            out.loc[[out.index[0], out.index[-1]], asset_id] = values.iloc[0]
    return out


def day_changes(board: Sequence[NowRow], now: dt.datetime) -> pd.DataFrame:
    """Per asset with a quote, its change against the previous close exactly as its Overview card shows it, what
    that price is (`kind` as `quote_kind` says) and the session it belongs to: a closed market's is its last
    session's close, never a move of today's."""
    rows = []
    for row in board:
        q = row.quote
        if q is None or pd.isna(q.change_pct):
            continue
        kind, day = quote_kind(q, row, now)
        session = day or market_clock.session_of(catalog.get(row.asset_id), q.quoted_at)
        rows.append({"asset_id": row.asset_id, "change_pct": q.change_pct, "price": q.price,
                     "prev_close": q.prev_close, "kind": kind, "session": session,
                     "quoted_at": q.quoted_at.astimezone(KST)})  # fmt: skip
    columns = ["change_pct", "price", "prev_close", "kind", "session", "quoted_at"]
    return pd.DataFrame(rows, columns=["asset_id", *columns]).set_index("asset_id")


def _bar_label(t: Translator, asset_id: str, row: pd.Series, now: dt.datetime) -> str:
    """'삼성전자 -0.78%' over what the figure is ('12.04 종가', '실시간')."""
    what = t(f"today.bar_{row['kind']}", day=_day(t, row["session"], now))
    return f"{t.name(asset_id)} {t.pct(row['change_pct'])}<br>{what}"


def _closed_note(t: Translator, changes: pd.DataFrame, now: dt.datetime) -> str:
    """Which markets are closed, grouped by the session whose close they show: 'closed: A, B (12.04 close)'."""
    closed = changes[changes["kind"].isin(["close", "last_of_session"])]
    groups = [t("today.closed_group", names=", ".join(t.name(a) for a in ids), day=_day(t, day, now))
              for day, ids in closed.groupby("session", sort=True).groups.items()]  # fmt: skip
    return t("today.closed", groups=" · ".join(groups)) if groups else ""


def today_view(asset_ids: Sequence[str]) -> None:
    """Compare's 1D: each asset's change against its previous close as its card shows it (a closed market's last
    session, said and dated), then today's moves of the markets that traded, on one time axis in KST, from the stored
    quotes; each CSV holds exactly what is drawn."""
    svc, t = ui.service(), tr()
    live = [a for a in asset_ids if a in svc.live.quoters()]
    if live:
        _poller().tick(live, wait=False)
    now = clock.now()
    with ui.store_errors_in_plain_words():
        changes = day_changes(svc.live.board(asset_ids, now) if live else [], now)
        wide = svc.live.today(asset_ids, now)
    today = now.astimezone(KST).date()
    if changes.empty and wide.empty:
        reasons = " ".join(sorted({t.text(svc.sources.why_not_live(a)) for a in asset_ids if a not in live}))
        st.info(t("today.none", day=today, hint=reasons or t("today.hint")))
        return
    if not changes.empty:
        if note := _closed_note(t, changes, now):
            st.caption(note)
        labels = [_bar_label(t, a, r, now) for a, r in changes.iterrows()]
        title = t("today.bars_title", when=f"{t.month_day(today)} {now.astimezone(KST):%H:%M}")
        fig = charts.change_bars(changes["change_pct"], labels, t, title=title, axis=t("today.axis"))
        notices.chart(fig, changes, "compare_day_change", t("today.bars_csv"))
    if wide.empty:
        st.caption(t("today.no_moves", day=today))
        return
    st.caption(t("today.caption"))
    wide = flat_across(wide)
    fig = charts.line_chart(
        wide.set_axis(wide.index.tz_localize(None), axis=0),
        t,
        title=t("today.title", day=today),
        yaxis_title=t("today.axis"),
        reference=0.0,
        hover_value="%{y:+.2f}%",
        time_axis=True,
        end_labels={a: f"{t.name(a)} {t.pct(float(wide[a].dropna().iloc[-1]))}" for a in wide.columns
                    if wide[a].notna().any()},
    )  # fmt: skip
    notices.chart(fig, wide, "compare_today_pct_change", t("today.csv"))  # times with their +09:00
