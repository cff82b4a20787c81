"""Pickers whose values live in the URL as codes (`?assets=samsung,btc&range=3Y&ccy=KRW`), labelled in the
reader's language, so a view can be bookmarked and shared in either language."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import streamlit as st

from marketdash.domain import catalog, clock, symbols
from marketdash.services.market import MarketService
from marketdash.services.store import StoreError
from marketdash.web import access, ui
from marketdash.web.ui import tr

RANGES = ("1M", "3M", "6M", "YTD", "1Y", "3Y", "5Y", "Max", "Custom")
TODAY = "1D"  # Compare only: today's live quotes, not daily bars
_RANGE_DAYS = {"1M": 31, "3M": 92, "6M": 183, "1Y": 366, "3Y": 3 * 365 + 1, "5Y": 5 * 365 + 1}
CURRENCIES = ("native", "KRW", "USD")
EARLIEST = dt.date(1990, 1, 1)  # Streamlit's default floor is ten years back, before most of the history
TYPED_BOUNDS = (dt.date(1900, 1, 1), dt.date(2099, 12, 31))  # what a range's field takes as typed (_order_dates)
DATE_INPUT = {"ko": "YYYY.MM.DD", "en": "YYYY-MM-DD"}


def _seed_from_url(key: str, options: Sequence, default: object, multi: bool = False) -> None:
    """On entering a page, take a widget's starting value from the URL (codes such as `KRW`, `kst`, `samsung`),
    else the page's default; later reruns keep what the reader chose.

    The value is written back into session state on every run: Streamlit scopes widgets to their page, and a
    widget meeting a value another page's widget left under its key would otherwise come up empty."""
    seeded = st.session_state.setdefault("_seeded", {})
    if key in st.session_state and seeded.get(key) == ui.page_entry():
        st.session_state[key] = st.session_state[key]
        return
    seeded[key] = ui.page_entry()
    if multi:
        asked = _url_ids(key)
        wanted = [a.lower() for a in asked]
        st.session_state[key] = [o for o in options if str(o).lower() in wanted] or list(default)
        known = {str(o).lower() for o in options}
        unknown = [a for a in asked if a.lower() not in known]  # named as the URL spells them (us:ZZZZ)
        if unknown:
            _resets()[key] = (",".join(unknown), None)
    else:
        raw = str(st.query_params.get(key, ""))  # matched in any case, named as the URL spells it (ccy=EUR)
        match = next((o for o in options if str(o).lower() == raw.lower()), None)
        st.session_state[key] = default if match is None else match
        if raw and match is None:
            _resets()[key] = (raw, default)


def _resets() -> dict[str, tuple[str, object]]:
    """URL values met on entering this page that could not be used: key -> (raw, what is used instead)."""
    resets = st.session_state.setdefault("_resets", {})
    if st.session_state.get("_resets_entry") != ui.page_entry():  # kept for this visit of the page, not the next
        resets.clear()
        st.session_state["_resets_entry"] = ui.page_entry()
    return resets


def _say_resets(key: str, label: Callable[[object], str]) -> None:
    """Name a URL value this widget could not use beside the widget, on every run of this visit to the page (the
    page reruns by itself once the history behind it arrives: a line said once would vanish unread)."""
    if key in _resets():
        raw, used = _resets()[key]
        ui.say_reset(key, raw, None if used is None else label(used))


def _publish_to_url(key: str, value: object, default: object) -> None:
    if value == default or value is None:
        st.query_params.pop(key, None)
    else:
        st.query_params[key] = ",".join(map(str, value)) if isinstance(value, list) else str(value)


def choice(
    label: str,
    options: Sequence,
    default: object,
    key: str,
    format_func: Callable[[object], str] = str,
    *,
    widget: str = "segmented",
    where: object = st,
    **kwargs: object,
) -> object:
    """A segmented control or selectbox whose value lives in the URL as its code, not its display label.

    Streamlit's bind="query-params" writes the formatted label into the URL; this keeps `?ccy=KRW&align=kst`.
    """
    default = default if default in options else options[0]
    _seed_from_url(key, options, default)
    if st.session_state[key] not in options:
        st.session_state[key] = default
    if widget == "segmented":
        value = where.segmented_control(label, options, format_func=format_func, key=key, required=True, **kwargs)
    else:
        value = where.selectbox(label, options, format_func=format_func, key=key, **kwargs)
    _say_resets(key, format_func)
    _publish_to_url(key, value, default)
    return value


def _url_ids(key: str) -> list[str]:
    """The ids a URL names under `key` (`?assets=samsung,krx:005380`), each in its one spelling."""
    return [catalog.canonical(part) for item in st.query_params.get_all(key) for part in item.split(",") if part]


def asset_options(key: str, named: Sequence[str] | None = None) -> list[str]:
    """What a picker offers: the seven, the user's own list, the added symbols the URL names under `key` (or
    `named`; those the symbol lists know) and those added in this session. A fresh app asked for added symbols
    downloads the lists first, so they come with their names."""
    svc = ui.service()
    wanted = [a for a in (_url_ids(key) if named is None else named) if a not in catalog.ASSETS]
    if svc.universe.due_for(wanted):
        with st.spinner(tr()("sym.downloading")):
            svc.universe.refresh()
    added = st.session_state.setdefault("_added", [])
    usable, _ = svc.universe.resolve([*wanted, *added])  # each named from the lists
    return list(dict.fromkeys([*default_assets(), *usable]))


def default_assets(svc: MarketService | None = None) -> list[str]:
    """The seven and the user's own added assets (kept in the store), named from the symbol lists."""
    svc = svc or ui.service()
    return svc.universe.resolve([*catalog.COMPARED, *svc.universe.user_assets()])[0]


def asset_picker(key: str = "assets") -> list[str]:
    """Multiselect of the assets, kept in the URL as ids (`?assets=samsung,krx:005380`): the seven and the user's
    own list by default; a search below adds any listed symbol. An id the URL names that no list holds is named
    once and left out."""
    t = tr()
    options = asset_options(key)
    _seed_from_url(key, options, default_assets(), multi=True)
    chosen = st.multiselect(t("pick.assets"), options=options, format_func=t.name, key=key,
                            placeholder=t("pick.assets_placeholder"))  # fmt: skip
    ordered = [a for a in options if a in chosen]
    _say_resets(key, t.name)
    symbol_search(key)
    _publish_to_url(key, ordered, list(catalog.COMPARED))
    for asset_id, keys in ui.service().universe.warnings(ordered).items():
        st.caption(":material/warning: " + t("sym.flags", name=t.name(asset_id),
                                             flags=", ".join(t(f"symwarn.{k}") for k in keys)))  # fmt: skip
    return ordered


def _add_asset(key: str, asset_id: str) -> None:
    """A search result picked: into the user's list (kept in the store; a viewer's stays in the URL only), the
    offered options and the selection."""
    asset_id = catalog.get(asset_id).id
    try:
        if access.can_write():
            ui.service().universe.add(asset_id)
    except StoreError as exc:  # a read-only or busy store: the asset is shown (and in the URL), not kept
        st.session_state["_sym_error"] = exc.msg
    st.session_state.setdefault("_added", []).append(asset_id)
    if asset_id not in st.session_state.get(key, []):
        st.session_state[key] = [*st.session_state.get(key, []), asset_id]
    st.session_state["sym_q"] = ""


def _remove_asset(key: str, asset_id: str) -> None:
    if not access.can_write():  # the owner's saved list; a viewer never sees this button
        return
    try:
        ui.service().universe.remove(asset_id)
    except StoreError as exc:
        st.session_state["_sym_error"] = exc.msg
    st.session_state["_added"] = [a for a in st.session_state.get("_added", []) if a != asset_id]
    st.session_state[key] = [a for a in st.session_state.get(key, []) if a != asset_id]


def symbol_search(key: str) -> None:
    """ "종목 추가": a search over every listed symbol (name, code, ticker, 초성), each match one click to add."""
    t, svc = tr(), ui.service()
    with st.popover(t("sym.search"), icon=":material/add:"):
        if "_sym_error" in st.session_state:
            st.caption(":material/database_off: " + t.text(st.session_state.pop("_sym_error")))
        text = st.text_input(t("sym.search"), key="sym_q", placeholder=t("sym.search_placeholder"),
                             help=t("sym.search_help"), label_visibility="collapsed")  # fmt: skip
        if text.strip():
            if svc.universe.stale():
                with st.spinner(t("sym.downloading")):
                    svc.universe.refresh()
            found = svc.universe.search(text, 8)
            if not svc.universe.covered():
                why = "sym.partial_offline" if svc.settings.offline else "sym.partial"
                stored = len(svc.universe.index()) - len(catalog.COMPARED)  # none: say so, never "0개"
                st.caption(t(why if stored else f"{why}_none", n=f"{stored:,}"))
            if found.empty:
                st.caption(t("sym.no_match", text=text.strip()))
            for row in found.itertuples():
                dead = symbols.NOT_SERVED in str(row.warnings or "")  # listed, but KIS serves no prices of it
                st.button(_result_label(row), key=f"sym_add_{row.id}", on_click=_add_asset, args=(key, row.id),
                          use_container_width=True, disabled=dead,
                          help=t("symwarn.not_served_help") if dead else None)  # fmt: skip
        mine = svc.universe.user_assets()
        if not access.can_write():
            st.caption(t("auth.viewer_added"))
        elif mine:
            st.caption(t("sym.mine"))
            for asset_id in mine:
                st.button(f"{t.name(asset_id)} · {t('sym.remove')}", key=f"sym_rm_{asset_id}", icon=":material/close:",
                          on_click=_remove_asset, args=(key, asset_id), use_container_width=True)  # fmt: skip


def _result_label(row: object) -> str:
    """`현대차 · 코스피 · 주식 · 005380`, with what the list flags (`거래정지`)."""
    t = tr()
    name = row.name_ko if t.lang == "ko" else row.name_en
    parts = [name, t(f"symmarket.{row.market}"), t(f"symkind.{row.kind}"), row.code]
    flags = [t(f"symwarn.{k}") for k in (row.warnings or "").split()]
    return " · ".join(parts) + (f" · ⚠ {', '.join(flags)}" if flags else "")


def is_today() -> bool:
    """The range picker shows 1D: today's live quotes."""
    return st.session_state.get("range") == TODAY


def range_bounds(preset: str, today: dt.date) -> dt.date | None:
    """The first day of a preset range ending today; None for Max."""
    if preset == "Max":
        return None
    if preset == "YTD":
        return dt.date(today.year, 1, 1)
    return today - dt.timedelta(days=_RANGE_DAYS[preset])


DEFAULT_RANGE = "1Y"  # one default on every page, so a page link without ?range= shows the same span


def range_picker(today: bool = False) -> tuple[dt.date | None, dt.date | None]:
    """Preset or custom range, kept as `range`, `start` and `end` in the URL; `today` offers "1D" first (the page
    checks `is_today()` and draws live quotes instead of bars)."""
    t = tr()
    presets = (TODAY, *RANGES) if today else RANGES
    preset = choice(t("pick.range"), presets, DEFAULT_RANGE, "range", lambda p: t(f"range.{p}"))
    day = clock.today_kst()
    if preset == TODAY:
        return day, day
    if preset != "Custom":
        return range_bounds(preset, day), None
    # One form with a 조회 button, as a broker's screen has: Streamlit's date field commits a typed date only once
    # focus leaves the whole field (a Tab lands on its own calendar button first), so without the form the field
    # could show one date while the chart and the URL kept another. Clicking 조회 leaves the field and submits.
    _order_url_dates()
    with st.form("custom_range", border=False, enter_to_submit=True):
        col1, col2, col3 = st.columns([5, 5, 2], vertical_alignment="bottom")
        start = date_field(col1, t("pick.from"), "start", day - dt.timedelta(days=366), day, any_typed=True)
        end = date_field(col2, t("pick.to"), "end", day, day, any_typed=True)
        col3.form_submit_button(t("pick.apply"), type="primary", use_container_width=True, on_click=_order_dates)
    if st.session_state.pop("_dates_swapped", False):
        st.warning(t("pick.swapped"))
    for key, typed in st.session_state.pop("_dates_moved", []):
        st.warning(t("pick.future" if typed > day else "pick.too_early", field=t(f"pick.{key}_date"), typed=typed,
                     used=st.session_state[key]))  # fmt: skip
    return start, end


def _order_dates() -> None:
    """조회: a typed day past today or before EARLIEST is moved to the nearest usable one, an end before the start
    swaps the two, in the fields themselves (not only in the range drawn), each said in a sentence."""
    latest = clock.today_kst()
    for key in ("start", "end"):
        if (typed := st.session_state.get(key)) and not EARLIEST <= typed <= latest:
            st.session_state[key] = min(max(typed, EARLIEST), latest)
            st.session_state.setdefault("_dates_moved", []).append((key, typed))
    start, end = st.session_state.get("start"), st.session_state.get("end")
    if start and end and start > end:
        st.session_state["start"], st.session_state["end"] = end, start
        st.session_state["_dates_swapped"] = True


def _order_url_dates() -> None:
    """A link whose end comes before its start opens with the two swapped, in the fields and the URL, and said."""
    seeded = st.session_state.get("_seeded", {})
    if seeded.get("start") == ui.page_entry():
        return
    start, end = (_parse_day(st.query_params.get(k, "")) for k in ("start", "end"))
    if start and end and start > end:
        st.query_params["start"], st.query_params["end"] = end.isoformat(), start.isoformat()
        st.session_state["_dates_swapped"] = True


def _parse_day(raw: object) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(raw))
    except ValueError:
        return None


def date_field(where: object, label: str, key: str, default: dt.date, latest: dt.date, any_typed: bool = False
               ) -> dt.date:  # fmt: skip
    """A date input whose value lives in the URL as an ISO date (`?start=2026-01-05`), seeded on entering a page
    like the other pickers: Streamlit's own query binding drops the dates when the reader changes page, and the
    chart then drew another range than the bookmark said. A date outside [EARLIEST, latest] is clamped; `any_typed`:
    the field takes any typed date (not a bare red "!"), which its form's 조회 clamps and says (_order_dates)."""
    seeded = st.session_state.setdefault("_seeded", {})
    if key not in st.session_state or seeded.get(key) != ui.page_entry():
        seeded[key] = ui.page_entry()
        raw = str(st.query_params.get(key, ""))
        wanted = _parse_day(raw) or default
        st.session_state[key] = min(max(wanted, EARLIEST), latest)
        if raw and (_parse_day(raw) is None or st.session_state[key] != wanted):
            ui.say_reset(key, raw, tr().date(st.session_state[key]))
    else:
        st.session_state[key] = st.session_state[key]
    lo, hi = TYPED_BOUNDS if any_typed else (EARLIEST, latest)
    value = where.date_input(label, min_value=lo, max_value=hi, key=key, format=DATE_INPUT[tr().lang])
    value = value or default
    _publish_to_url(key, value.isoformat(), default.isoformat())
    return value


AXES = ("auto", "linear", "log")


def axis_picker(where: object = st, disabled: bool = False) -> str:
    """The price axis, `?axis=auto|linear|log`: automatic (log when the lines spread over 3x) by default."""
    t = tr()
    return choice(t("pick.axis"), list(AXES), "auto", "axis", lambda a: t(f"axis.{a}"), where=where, disabled=disabled)


def currency_picker(where: object = st) -> str:
    t = tr()
    return choice(t("pick.currency"), list(CURRENCIES), "native", "ccy", lambda c: t(f"currency.{c}"), where=where)


RETURNS = ("price", "total")


def returns_picker(where: object = st) -> str:
    """가격 / 총수익, `?ret=price|total` (Compare and Risk share it): price return, or total return with the
    dividends reinvested."""
    t = tr()
    return choice(t("div.returns"), list(RETURNS), "price", "ret", lambda r: t(f"div.returns_{r}"), where=where)


def number(where: object, label: str, key: str, default: float, lo: float, hi: float, step: float,
           fmt: str = "%g", help: str | None = None, shown: Callable[[float], str] | None = None) -> float:  # fmt: skip
    """A number input whose value lives in the URL (`?initial=10000000`), seeded on entering a page like the other
    pickers; a URL value that is not a number, or outside [lo, hi], is named in one line (never silently 0), with
    the value used instead written by `shown` (1,000만 원, not 10000000)."""
    default, lo, hi, step = float(default), float(lo), float(hi), float(step)  # a float field, never an int one
    seeded = st.session_state.setdefault("_seeded", {})
    if key not in st.session_state or seeded.get(key) != ui.page_entry():
        seeded[key] = ui.page_entry()
        raw = str(st.query_params.get(key, ""))
        try:
            wanted = float(raw) if raw else default
        except ValueError:
            wanted = None
        usable = wanted is not None and lo <= wanted <= hi
        st.session_state[key] = wanted if usable else default
        if raw and not usable:
            _resets()[key] = (raw, default)
    else:
        st.session_state[key] = st.session_state[key]
    value = where.number_input(label, min_value=lo, max_value=hi, step=step, format=fmt, key=key, help=help)
    _say_resets(key, shown or (lambda v: fmt % v))
    _publish_to_url(key, f"{value:g}", f"{default:g}")
    return float(value)


def url_problem(key: str) -> tuple[str, str | None] | None:
    """The URL value of `key` this visit could not use, and what is used instead (for a note outside a folded
    section, where the widget's own note is out of sight)."""
    if key not in _resets():
        return None
    raw, used = _resets()[key]
    return raw, None if used is None else str(used)


def risk_free_picker(where: object = st) -> float:
    """The yearly risk-free rate in % Sharpe ratios subtract, `?rf=3.25` (the Risk page's and the Portfolio's)."""
    return number(where, tr()("stats.risk_free"), "rf", 0.0, 0.0, 20.0, 0.25, "%.2f")


ON, OFF = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def flag(where: object, label: str, key: str, help: str | None = None) -> bool:
    """A toggle kept in the URL as `?key=1` while on."""
    seeded = st.session_state.setdefault("_seeded", {})
    if key not in st.session_state or seeded.get(key) != ui.page_entry():
        seeded[key] = ui.page_entry()
        raw = str(st.query_params.get(key, ""))
        st.session_state[key] = raw.lower() in ON
        if raw and raw.lower() not in ON + OFF:  # `tax=maybe` is said, never silently off
            _resets()[key] = (raw, tr()("pick.off"))
    else:
        st.session_state[key] = st.session_state[key]
    value = where.toggle(label, key=key, help=help)
    _say_resets(key, str)
    _publish_to_url(key, "1" if value else None, None)
    return bool(value)
