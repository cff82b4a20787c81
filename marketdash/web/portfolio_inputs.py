"""The Portfolio page's inputs: up to three portfolios' weights, the money in and out, rebalancing, currency,
dividends, costs and the benchmark, every one kept in the URL (so a portfolio is a link).

What is set away from its default, and any URL value that could not be used, is said above the results even when
it sits in a folded section (a hidden "1주 단위로만 매수" once turned -0.15 % into -17.86 % unseen).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import streamlit as st

from marketdash.analysis import timeseries
from marketdash.analysis.portfolio import plan as plans
from marketdash.analysis.portfolio.plan import Costs, Plan
from marketdash.domain import catalog, clock
from marketdash.domain.i18n import Name, Translator
from marketdash.web import ui, widgets
from marketdash.web.ui import tr

PORTFOLIOS = ("p1", "p2", "p3")
DEFAULTS = {"p1": "samsung=40,soxl=30,btc=30", "p2": "kospi200=60,gold=40",
            "p3": "samsung=25,skhynix=25,soxl=25,btc=25"}  # fmt: skip
WEIGHTS_PER_ROW = 5
MAX_WEIGHT_FIELD = 1000.0
MONEY_KEYS = ("initial", "amount", "wamount")  # amounts in the portfolio's currency (converted when it changes)
COST_KEYS = ("fee_krx", "fee_us", "fee_coin", "fxs", "fxd", "tax", "whole")


@dataclasses.dataclass(frozen=True)
class Inputs:
    plans: dict[str, Plan]
    benchmark: str
    detail: str
    rf_pct: float = 0.0


# -- weights --------------------------------------------------------------------------------------------------------
def parse_weights(text: str) -> tuple[dict[str, float], list[str], list[str]]:
    """'samsung=40,krx:005380=20' -> ({'samsung': 40.0, 'krx:005380': 20.0}, parts that are not id=number, parts
    with a negative weight); an asset named twice adds up."""
    weights: dict[str, float] = {}
    bad, negative = [], []
    for part in filter(None, (p.strip() for p in text.split(","))):
        asset, eq, value = part.rpartition("=")
        try:
            weight = float(value)
            asset_id = catalog.get(asset).id
            if not eq or not math.isfinite(weight):
                raise ValueError
        except (ValueError, catalog.UnknownAssetError):
            bad.append(part)
            continue
        if weight < 0:
            negative.append(part)
            continue
        weights[asset_id] = weights.get(asset_id, 0.0) + weight
    return weights, bad, negative


def _weight_key(key: str, asset_id: str) -> str:
    return f"{key}_w_{asset_id}"


def _seed_weights(key: str) -> None:
    """On entering the page: a portfolio's assets and weights from the URL (`?p1=samsung=40,soxl=30`), else its
    default; parts that cannot be used are said, each with its reason."""
    seeded = st.session_state.setdefault("_seeded", {})
    if seeded.get(key) == ui.page_entry() and f"{key}_assets" in st.session_state:
        return
    seeded[key] = ui.page_entry()
    raw = str(st.query_params.get(key, ""))
    weights, bad, negative = parse_weights(raw or DEFAULTS[key])
    usable, unknown = ui.service().universe.resolve(list(weights))
    st.session_state[f"{key}_assets"] = usable
    for asset_id in usable:
        st.session_state[_weight_key(key, asset_id)] = weights[asset_id]
    st.session_state[f"{key}_dropped"] = [*bad, *unknown]
    st.session_state[f"{key}_negative"] = negative


def _equal(key: str) -> None:
    chosen = st.session_state.get(f"{key}_assets", [])
    for asset_id, weight in plans.equal_weights(chosen).items():
        st.session_state[_weight_key(key, asset_id)] = weight


def _inverse(key: str, start: dt.date | None) -> None:
    """역변동성: weights from each asset's volatility over the year before the start (the loaded closes)."""
    chosen = st.session_state.get(f"{key}_assets", [])
    if not chosen:
        return
    first = start or clock.today_kst()
    data = ui.load_prices(tuple(chosen), first - dt.timedelta(days=366), first - dt.timedelta(days=1))
    closes = timeseries.to_wide(data.bars, chosen).reindex(columns=chosen)
    weights, short = plans.inverse_volatility(closes, first)
    for asset_id, weight in weights.items():
        st.session_state[_weight_key(key, asset_id)] = weight
    st.session_state[f"{key}_short"] = short


def weights_editor(key: str, start: dt.date | None) -> dict[str, float]:
    """One portfolio: its assets (any the pickers offer) and a weight in % each, 동일 비중 and 역변동성 buttons,
    the sum, and the URL kept as `?p1=samsung=40,soxl=30`. A negative weight is said in the reader's words and
    counts as 0 (the field takes any number: Streamlit's own bounds answer in English and keep the old value)."""
    t = tr()
    _seed_weights(key)
    chosen_now = st.session_state[f"{key}_assets"]
    options = widgets.asset_options(key, named=chosen_now)
    st.session_state[f"{key}_assets"] = [a for a in chosen_now if a in options]
    chosen = st.multiselect(t("pf.assets"), options, format_func=t.name, key=f"{key}_assets",
                            placeholder=t("pick.assets_placeholder"))  # fmt: skip
    if st.session_state.get(f"{key}_dropped"):
        ui.say_reset(key, ",".join(st.session_state[f"{key}_dropped"]), None)
    negative = ",".join(st.session_state.get(f"{key}_negative", []))
    if negative:
        st.caption(f":material/info: {t('pf.url_negative', name=key, value=negative)}")
    weights, refused = {}, []
    for first in range(0, len(chosen), WEIGHTS_PER_ROW):
        row = chosen[first : first + WEIGHTS_PER_ROW]
        for column, asset_id in zip(st.columns(WEIGHTS_PER_ROW), row, strict=False):
            wkey = _weight_key(key, asset_id)
            if wkey not in st.session_state:  # an asset just added: what is left of 100 %
                st.session_state[wkey] = max(0.0, 100.0 - sum(weights.values()))
            typed = column.number_input(t.name(asset_id), step=5.0, format="%.2f", key=wkey)
            if not (math.isfinite(typed) and 0 <= typed <= MAX_WEIGHT_FIELD):
                refused.append((asset_id, typed))
                typed = 0.0
            weights[asset_id] = float(typed)
    for asset_id, typed in refused:
        st.caption(f":material/error: {t('pf.weight_refused', asset=Name(asset_id), weight=f'{typed:g}')}")
    c1, c2, c3 = st.columns([1, 1, 3], vertical_alignment="center")
    c1.button(t("pf.equal"), key=f"{key}_equal", on_click=_equal, args=(key,), use_container_width=True)
    c2.button(t("pf.inverse"), key=f"{key}_inverse", on_click=_inverse, args=(key, start), use_container_width=True,
              help=t("pf.inverse_help"))  # fmt: skip
    total = sum(weights.values())
    if chosen:
        line = t("pf.sum", total=f"{total:,.2f}")
        if total > 0 and abs(total - 100) > 1e-9:
            line += " " + t("pf.sum_scaled")
        c3.caption(line)
    short = st.session_state.pop(f"{key}_short", None)
    if short:
        st.caption(t("pf.inverse_short", names=[Name(a) for a in short]))
    text = ",".join(f"{a}={w:g}" for a, w in weights.items())
    if text == DEFAULTS[key]:
        st.query_params.pop(key, None)
    else:
        st.query_params[key] = text
    return weights


# -- money ----------------------------------------------------------------------------------------------------------
def _round_money(value: float) -> float:
    """An amount converted into the other currency, to two significant figures (10,000,000원 -> 7,000 dollars)."""
    if value <= 0:
        return 0.0
    step = 10 ** (math.floor(math.log10(value)) - 1)
    return round(value / step) * step


def _convert_amounts() -> None:
    """계산 통화 switched: the amounts follow at the latest USD/KRW, rounded (10,000,000원 is not $10,000,000)."""
    new = st.session_state.get("ccy")
    old = st.session_state.get("_pf_ccy", "KRW")
    st.session_state["_pf_ccy"] = new
    if new == old or new not in plans.CURRENCIES:
        return
    rate = ui.latest_usd_krw()
    for key in MONEY_KEYS:
        if key in st.session_state and rate:
            value = float(st.session_state[key])
            st.session_state[key] = _round_money(value / rate if new == "USD" else value * rate)


def _withdraw_default(start: dt.date | None, end: dt.date | None) -> dt.date:
    """Withdrawals start halfway through the range by default (money goes in first, then comes out)."""
    last = end or clock.today_kst()
    first = start or last - dt.timedelta(days=365 * 10)
    return first + (last - first) / 2


def _money(where: object, t: Translator, label: str, key: str, default: float, currency: str) -> float:
    value = widgets.number(where, label, key, default, 0, plans.MAX_MONEY, default / 10 or 1, "%.0f",
                           shown=lambda v: t.money(v, currency))  # fmt: skip
    where.caption(t.money(value, currency))
    return value


def inputs(start: dt.date | None, end: dt.date | None) -> Inputs:
    """The portfolios, the money in and out, rebalancing, currency, dividends, costs and the benchmark, each kept in
    the URL; what differs from the defaults said above the results."""
    t = tr()
    count = int(widgets.choice(t("pf.count"), ["1", "2", "3"], "1", "n", lambda n: t("pf.count_n", n=n)))
    names = PORTFOLIOS[:count]
    tabs = st.tabs([t("pf.name", n=name[1:]) for name in names])
    weights = {}
    for tab, name in zip(tabs, names, strict=True):
        with tab:
            weights[name] = weights_editor(name, start)
    c1, c2, c3, c4 = st.columns(4)
    # the currency's own picker sits with the other options below; the amounts above it are in its unit already
    # (a switch converts them in its callback, before this run)
    currency = str(st.session_state.get("ccy") or st.query_params.get("ccy", "KRW")).upper()
    currency = currency if currency in plans.CURRENCIES else "KRW"
    unit = t(f"pf.unit_{currency}")
    initial_default, amount_default = plans.DEFAULT_MONEY[currency]
    initial = _money(c1, t, t("pf.initial", unit=unit), "initial", initial_default, currency)
    every = widgets.choice(t("pf.every"), list(plans.EVERY), "monthly", "every", lambda e: t(f"pf.every_{e}"),
                           where=c2)  # fmt: skip
    day, weekday, amount = 10, 0, 0.0
    if every == "monthly":
        day = int(widgets.number(c3, t("pf.day"), "day", 10, 1, 31, 1, "%.0f", help=t("pf.day_help")))
    elif every == "weekly":
        weekday = int(widgets.choice(t("pf.weekday"), [str(k) for k in range(7)], "0", "weekday",
                                     lambda d: t(f"pf.weekday_{d}"), widget="select", where=c3))  # fmt: skip
    if every != "none":
        amount = _money(c4, t, t("pf.amount", unit=unit), "amount", amount_default, currency)
    c1, c2, c3, c4 = st.columns(4)
    out_every = widgets.choice(t("pf.withdraw"), list(plans.WITHDRAW_EVERY), "none", "wevery",
                               lambda w: t(f"pf.withdraw_{w}"), where=c1, help=t("pf.withdraw_help"))  # fmt: skip
    out_amount, out_from = 0.0, None
    if out_every != "none":
        out_amount = _money(c2, t, t("pf.withdraw_amount", unit=unit), "wamount", amount_default * 4, currency)
        out_from = widgets.date_field(
            c3, t("pf.withdraw_from"), "wfrom", _withdraw_default(start, end), widgets.TYPED_BOUNDS[1], any_typed=True
        )
    dividends = widgets.choice(t("pf.dividends"), list(plans.DIVIDENDS), "reinvest", "div", lambda d: t(f"pf.div_{d}"),
                               widget="select", where=c4, help=t("pf.div_help"))  # fmt: skip
    c1, c2, c3, c4, c5 = st.columns([2, 1, 1, 1, 1])
    rebalance = widgets.choice(t("pf.rebalance"), list(plans.REBALANCE), "none", "rebal",
                               lambda r: t(f"pf.rebal_{r}"), widget="select", where=c1)  # fmt: skip
    bands = plans.DEFAULT_BANDS
    if rebalance == "bands":
        bands = (widgets.number(c2, t("pf.band_abs"), "band_abs", 5, 0.1, 100, 1, "%.1f"),
                 widgets.number(c3, t("pf.band_rel"), "band_rel", 25, 0.1, 100, 5, "%.1f"))  # fmt: skip
    rf_pct = widgets.risk_free_picker(c4)
    currency = widgets.choice(t("pf.currency"), list(plans.CURRENCIES), "KRW", "ccy", lambda c: t(f"pf.ccy_{c}"),
                              where=c5, on_change=_convert_amounts)  # fmt: skip
    st.session_state["_pf_ccy"] = currency
    st.caption(t(f"pf.rebal_{rebalance}_help"))
    costs, whole = _costs(t)
    options = widgets.asset_options("bench", named=[str(st.query_params.get("bench", "kospi200"))])
    benchmark = widgets.choice(t("pf.benchmark"), options, "kospi200", "bench", t.name, widget="select")
    built = {name: Plan(weights[name], start, end, initial, every, day, weekday, amount, rebalance, bands, currency,
                        costs, whole, dividends, out_amount, out_every, out_from) for name in names}  # fmt: skip
    return Inputs(built, benchmark, names[0], rf_pct)


def _costs(t: Translator) -> tuple[Costs, bool]:
    """Fees, FX spread, taxes and whole shares, folded away (all off by default); what is on, and a URL value that
    could not be used, said outside the fold."""
    with st.expander(t("pf.costs"), icon=":material/receipt_long:"):
        f1, f2, f3, f4, f5 = st.columns(5)
        fees = {v: widgets.number(col, t(f"pf.fee_{v}"), f"fee_{v}", 0.0, 0.0, 10.0, 0.005, "%.3f")
                for v, col in zip(plans.VENUES, (f1, f2, f3), strict=True)}  # fmt: skip
        spread = widgets.number(f4, t("pf.fx_spread"), "fxs", 0.0, 0.0, 10.0, 0.1, "%.2f", help=t("pf.fx_help"))
        discount = widgets.number(f5, t("pf.fx_discount"), "fxd", 0.0, 0.0, 100.0, 10.0, "%.0f")
        g1, g2 = st.columns(2)
        tax = widgets.flag(g1, t("pf.tax"), "tax", help=t("pf.tax_help"))
        whole = widgets.flag(g2, t("pf.whole"), "whole", help=t("pf.whole_help"))
        st.caption(t("pf.tax_rules"))
    active = [f"{t(f'pf.fee_{v}')} {fee:g}" for v, fee in fees.items() if fee]
    active += [f"{t('pf.fx_spread')} {spread:g}"] * bool(spread) + [f"{t('pf.fx_discount')} {discount:g}"] * bool(
        spread and discount
    )
    active += [t("pf.tax")] * tax + [t("pf.whole")] * whole
    if active:
        st.caption(f":material/receipt_long: {t('pf.costs_active', items=' · '.join(active))}")
    for key in COST_KEYS:
        problem = widgets.url_problem(key)
        if problem:
            ui.say_reset(key, *problem)
    return Costs(fees, spread, discount, tax), whole
