"""The Portfolio page's inputs and results: up to three portfolios and a benchmark, every input in the URL (so a
portfolio is a link), and what the engine found, in the reader's language with a CSV beside every table and chart.

The page only calls `inputs()` and `results()`; the numbers come from services/portfolio.py and
analysis/portfolio/.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import pandas as pd
import streamlit as st

from marketdash.analysis import timeseries
from marketdash.analysis.portfolio import measures
from marketdash.analysis.portfolio import plan as plans
from marketdash.analysis.portfolio.plan import Costs, Plan, PlanError
from marketdash.domain import catalog
from marketdash.domain.csvfiles import stat_text
from marketdash.domain.i18n import Name, Translator
from marketdash.services import portfolio as portfolios
from marketdash.web import charts, fetching, notices, ui, widgets
from marketdash.web.ui import tr

PORTFOLIOS = ("p1", "p2", "p3")
DEFAULTS = {"p1": "samsung=40,soxl=30,btc=30", "p2": "kospi200=60,gold=40",
            "p3": "samsung=25,skhynix=25,soxl=25,btc=25"}  # fmt: skip
WEIGHTS_PER_ROW = 5


@dataclasses.dataclass(frozen=True)
class Inputs:
    plans: dict[str, Plan]
    benchmark: str
    detail: str


# -- weights --------------------------------------------------------------------------------------------------------
def parse_weights(text: str) -> tuple[dict[str, float], list[str]]:
    """'samsung=40,krx:005380=20' -> ({'samsung': 40.0, 'krx:005380': 20.0}, parts that are not id=number)."""
    weights: dict[str, float] = {}
    bad = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        asset, eq, value = part.rpartition("=")
        try:
            weight = float(value)
            asset_id = catalog.get(asset).id
            if not eq or not math.isfinite(weight) or weight < 0:  # a weight field takes 0 or more
                raise ValueError
        except (ValueError, catalog.UnknownAssetError):
            bad.append(part)
            continue
        weights[asset_id] = weights.get(asset_id, 0.0) + weight
    return weights, bad


def _weight_key(key: str, asset_id: str) -> str:
    return f"{key}_w_{asset_id}"


def _seed_weights(key: str) -> None:
    """On entering the page: a portfolio's assets and weights from the URL (`?p1=samsung=40,soxl=30`), else its
    default; ids and parts that cannot be used are named in one line."""
    seeded = st.session_state.setdefault("_seeded", {})
    if seeded.get(key) == ui.page_entry() and f"{key}_assets" in st.session_state:
        return
    seeded[key] = ui.page_entry()
    raw = str(st.query_params.get(key, ""))
    weights, bad = parse_weights(raw or DEFAULTS[key])
    usable, unknown = ui.service().universe.resolve(list(weights))
    st.session_state[f"{key}_assets"] = usable
    for asset_id in usable:
        st.session_state[_weight_key(key, asset_id)] = weights[asset_id]
    st.session_state[f"{key}_dropped"] = [*bad, *unknown]


def _equal(key: str) -> None:
    chosen = st.session_state.get(f"{key}_assets", [])
    for asset_id, weight in plans.equal_weights(chosen).items():
        st.session_state[_weight_key(key, asset_id)] = weight


def _inverse(key: str, start: dt.date | None) -> None:
    """역변동성: weights from each asset's volatility over the year before the start (the loaded closes)."""
    chosen = st.session_state.get(f"{key}_assets", [])
    if not chosen:
        return
    first = start or dt.date.today()
    data = ui.load_prices(tuple(chosen), first - dt.timedelta(days=366), first - dt.timedelta(days=1))
    closes = timeseries.to_wide(data.bars, chosen).reindex(columns=chosen)
    weights, short = plans.inverse_volatility(closes, first)
    for asset_id, weight in weights.items():
        st.session_state[_weight_key(key, asset_id)] = weight
    st.session_state[f"{key}_short"] = short


def weights_editor(key: str, start: dt.date | None) -> dict[str, float]:
    """One portfolio: its assets (any the pickers offer) and a weight in % each, 동일 비중 and 역변동성 buttons,
    the sum, and the URL kept as `?p1=samsung=40,soxl=30`."""
    t = tr()
    _seed_weights(key)
    chosen_now = st.session_state[f"{key}_assets"]
    options = widgets.asset_options(key, named=chosen_now)
    st.session_state[f"{key}_assets"] = [a for a in chosen_now if a in options]
    chosen = st.multiselect(t("pf.assets"), options, format_func=t.name, key=f"{key}_assets",
                            placeholder=t("pick.assets_placeholder"))  # fmt: skip
    dropped = st.session_state.get(f"{key}_dropped")
    if dropped:
        ui.say_reset(key, ",".join(dropped), None)
    weights = {}
    for first in range(0, len(chosen), WEIGHTS_PER_ROW):
        row = chosen[first : first + WEIGHTS_PER_ROW]
        for column, asset_id in zip(st.columns(WEIGHTS_PER_ROW), row, strict=False):
            wkey = _weight_key(key, asset_id)
            if wkey not in st.session_state:  # an asset just added: what is left of 100 %
                st.session_state[wkey] = max(0.0, 100.0 - sum(weights.values()))
            weights[asset_id] = column.number_input(t.name(asset_id), min_value=0.0, max_value=1000.0, step=5.0,
                                                    format="%.2f", key=wkey)  # fmt: skip
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


# -- every input ----------------------------------------------------------------------------------------------------
def inputs(start: dt.date | None, end: dt.date | None) -> Inputs:
    """The portfolios, the money in, rebalancing, currency, costs and the benchmark, each kept in the URL."""
    t = tr()
    count = int(widgets.choice(t("pf.count"), ["1", "2", "3"], "1", "n", lambda n: t("pf.count_n", n=n)))
    names = PORTFOLIOS[:count]
    tabs = st.tabs([t("pf.name", n=name[1:]) for name in names])
    weights = {}
    for tab, name in zip(tabs, names, strict=True):
        with tab:
            weights[name] = weights_editor(name, start)
    c1, c2, c3, c4 = st.columns(4)
    currency = str(st.session_state.get("ccy") or st.query_params.get("ccy", "KRW"))
    unit = t(f"pf.unit_{currency if currency in plans.CURRENCIES else 'KRW'}")
    initial = widgets.number(c1, t("pf.initial", unit=unit), "initial", plans.DEFAULT_INITIAL, 0, 1e13, 1e6, "%.0f")
    c1.caption(t.money(initial, currency))
    every = widgets.choice(t("pf.every"), list(plans.EVERY), "monthly", "every", lambda e: t(f"pf.every_{e}"),
                           where=c2)  # fmt: skip
    day, weekday, amount = 10, 0, 0.0
    if every == "monthly":
        day = int(widgets.number(c3, t("pf.day"), "day", 10, 1, 31, 1, "%.0f", help=t("pf.day_help")))
    elif every == "weekly":
        weekday = int(widgets.choice(t("pf.weekday"), ["0", "1", "2", "3", "4"], "0", "weekday",
                                     lambda d: t(f"pf.weekday_{d}"), widget="select", where=c3))  # fmt: skip
    if every != "none":
        amount = widgets.number(c4, t("pf.amount", unit=unit), "amount", 500_000, 0, 1e12, 100_000, "%.0f")
        c4.caption(t.money(amount, currency))
    c1, c2, c3, c4 = st.columns([2, 1, 1, 2])
    rebalance = widgets.choice(t("pf.rebalance"), list(plans.REBALANCE), "none", "rebal",
                               lambda r: t(f"pf.rebal_{r}"), widget="select", where=c1)  # fmt: skip
    bands = plans.DEFAULT_BANDS
    if rebalance == "bands":
        bands = (widgets.number(c2, t("pf.band_abs"), "band_abs", 5, 0, 100, 1, "%.1f"),
                 widgets.number(c3, t("pf.band_rel"), "band_rel", 25, 0, 100, 5, "%.1f"))  # fmt: skip
    currency = widgets.choice(t("pf.currency"), list(plans.CURRENCIES), "KRW", "ccy", lambda c: t(f"pf.ccy_{c}"),
                              where=c4)  # fmt: skip
    st.caption(t(f"pf.rebal_{rebalance}_help"))
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
    options = widgets.asset_options("bench", named=[str(st.query_params.get("bench", "kospi200"))])
    benchmark = widgets.choice(t("pf.benchmark"), options, "kospi200", "bench", t.name, widget="select")
    costs = Costs(fees, spread, discount, tax)
    built = {name: Plan(weights[name], start, end, initial, every, day, weekday, amount, rebalance, bands, currency,
                        costs, whole) for name in names}  # fmt: skip
    return Inputs(built, benchmark, names[0])


# -- running --------------------------------------------------------------------------------------------------------
def run(inputs: Inputs) -> portfolios.Comparison:
    """The engine's results, or the page stops with the one sentence that says what to change."""
    t = tr()
    ids = portfolios.asset_ids(inputs.plans, inputs.benchmark)
    first = next(iter(inputs.plans.values()))
    fetching.refresh_live(fetching.with_fx(ids), start=first.start)
    fetching.fill_history_behind(fetching.with_fx(ids))
    try:
        return ui.load_portfolios(plans.to_json(inputs.plans, inputs.benchmark))
    except PlanError as exc:
        asset = exc.msg.params.get("asset")
        why = ""
        if exc.msg.key == "pf.err_no_bars" and isinstance(asset, Name):
            svc = ui.service()
            if asset.asset_id not in svc.sources.collectors():
                why = " " + t.text(svc.sources.why_not_live(asset.asset_id))
        st.error(t.text(exc.msg) + why, icon=":material/error:")
        st.stop()
        raise  # unreachable: st.stop() raises


# -- results --------------------------------------------------------------------------------------------------------
MONEY = {"invested", "final_value", "profit", "fees", "taxes"}
SIGNED_PCT = {"simple_return_pct", "twr_pct", "twr_annual_pct", "mwr_annual_pct", "cagr_pct", "max_drawdown_pct",
              "best_year_pct", "worst_year_pct", "best_month_pct", "worst_month_pct"}  # fmt: skip
DATES = {"max_drawdown_peak", "max_drawdown_trough", "max_drawdown_recovery"}


def _cell(t: Translator, key: str, value: object, currency: str) -> str:
    if key in MONEY:
        text = t.money(value, currency)
        return f"+{text}" if key == "profit" and value > 0 else text
    if key in SIGNED_PCT:
        return t.pct(value)
    if key == "volatility_pct":
        return "—" if value is None or math.isnan(value) else f"{value:,.2f}%"
    if key in DATES:
        return t("pf.not_recovered") if value is None and key == "max_drawdown_recovery" else t.date(value)
    if key == "longest_underwater_days":
        return t("pf.days", n=f"{value:,}")
    return t.number(value, 2)


def _labels(t: Translator, result: portfolios.Comparison) -> dict[str, str]:
    out = {}
    for name, run in result.runs.items():
        if name == portfolios.BENCHMARK:
            out[name] = t("pf.bench_name", name=t.name(run.backtest.plan.assets[0]))
        else:
            out[name] = t("pf.name", n=name[1:])
    return out


def _composition(t: Translator, plan: Plan) -> str:
    return " · ".join(f"{t.name(a)} {w * 100:.4g}%" for a, w in zip(plan.assets, plan.targets(), strict=True))


def results(inputs: Inputs, result: portfolios.Comparison) -> None:
    """Notes, the statistics side by side, the charts of every run, then one portfolio in detail."""
    t = tr()
    first = next(iter(inputs.plans.values()))
    currency = first.currency
    if result.data is not None:
        notices.data_notice(result.data)
    for note in result.notes:
        st.caption(t.text(note))
    if first.costs.none:
        st.caption(t("pf.before_costs"))
    st.caption(t("pf.rules"))
    labels = _labels(t, result)
    sample = notices.sample_note(result.data) if result.data is not None else None
    for name, plan in inputs.plans.items():
        st.caption(f"**{labels[name]}**: {_composition(t, plan)}")

    stats = {name: run.summary for name, run in result.runs.items()}
    st.subheader(t("pf.stats"))
    shown = pd.DataFrame({labels[n]: [_cell(t, k, v, currency) for k, v in s.items()] for n, s in stats.items()},
                         index=[t(f"pf.stat_{k}") for k in measures.STAT_KEYS])  # fmt: skip
    signed = [measures.STAT_KEYS.index(k) for k in ("profit", *SIGNED_PCT)]
    colors = pd.DataFrame({labels[n]: [t.change_color(v) if i in signed and isinstance(v, float) else ""
                                       for i, v in enumerate(s.values())] for n, s in stats.items()},
                          index=shown.index)  # fmt: skip
    style = shown.style.apply(lambda col: [f"color: {c}" if c else "" for c in colors[col.name]])
    st.dataframe(style, width="stretch", height="content")
    raw = pd.DataFrame({n: [stat_text(v) for v in s.values()] for n, s in stats.items()},
                       index=pd.Index(measures.STAT_KEYS, name="metric"))  # fmt: skip
    notices.download_csv(raw, "portfolio_stats", t("download.what", what=t("pf.stats")))

    _run_charts(t, result, labels, sample, currency)
    _detail(t, inputs, result, labels, sample)


CHARTS = ("value", "growth", "drawdown", "yearly")
VIEWS = ("monthly", "weights", "assets")


def _run_charts(t: Translator, result: portfolios.Comparison, labels: dict[str, str], sample: str | None,
                currency: str) -> None:  # fmt: skip
    """Every run side by side, one chart at a time (each with its CSV): value against the money put in, the
    time-weighted growth against the benchmark, the drawdowns, the returns by year."""
    c1, c2 = st.columns([3, 2])
    shown = widgets.choice(t("pf.chart"), list(CHARTS), "value", "chart", lambda c: t(f"pf.chart_{c}"), where=c1)
    runs = result.runs
    if shown == "value":
        axis = widgets.axis_picker(c2)
        values = pd.DataFrame({n: r.backtest.values["value"] for n, r in runs.items()})
        values["invested"] = next(iter(runs.values())).backtest.values["invested"]
        unit = t(f"pf.unit_{currency}")
        fig = charts.line_chart(values.ffill(), t, title=t("pf.value_title", unit=unit), yaxis_title=unit,
                                labels={**labels, "invested": t("pf.invested_line")}, note=sample,
                                log_y=charts.log_axis(axis, values), y_format=",.0f",
                                styles={"invested": {"color": charts.color("invested"), "dash": "dash"}})  # fmt: skip
        notices.chart(fig, values, "portfolio_values", t("pf.value_title", unit=unit))
    elif shown == "growth":
        axis = widgets.axis_picker(c2)
        growth = pd.DataFrame({n: r.growth for n, r in runs.items()})
        fig = charts.line_chart(
            growth,
            t,
            title=t("pf.growth_title"),
            yaxis_title=t("chart.index_axis"),
            labels=labels,
            note=sample,
            reference=100.0,
            log_y=charts.log_axis(axis, growth),
        )
        notices.chart(fig, growth, "portfolio_twr_growth", t("pf.growth_title"))
    elif shown == "drawdown":
        dd = pd.DataFrame({n: measures.drawdowns(r.growth) * 100 for n, r in runs.items()})
        fig = charts.line_chart(dd, t, title=t("pf.drawdown_title"), yaxis_title=t("stats.drawdown_axis"),
                                labels=labels, note=sample, reference=0.0)  # fmt: skip
        notices.chart(fig, dd, "portfolio_drawdowns", t("pf.drawdown_title"))
    else:
        yearly = pd.DataFrame({n: r.yearly["twr_pct"] for n, r in runs.items()})
        fig = charts.grouped_bars(yearly, t, title=t("pf.yearly_title"), yaxis_title="%", labels=labels, note=sample)
        notices.chart(fig, yearly, "portfolio_yearly_returns", t("pf.yearly_title"))


def _detail(t: Translator, inputs: Inputs, result: portfolios.Comparison, labels: dict[str, str],
            sample: str | None) -> None:  # fmt: skip
    """One portfolio's own charts and tables: monthly returns, weights, each asset's part, trades, daily values."""
    names = list(inputs.plans)
    st.subheader(t("pf.detail"))
    name = names[0] if len(names) == 1 else widgets.choice(t("pf.detail_pick"), names, names[0], "detail",
                                                           lambda n: labels[n])  # fmt: skip
    measured = result.runs[name]
    backtest = measured.backtest
    currency = backtest.plan.currency
    assets = backtest.plan.assets
    view = widgets.choice(t("pf.view"), list(VIEWS), "monthly", "view", lambda v: t(f"pf.view_{v}"))
    parts = measured.parts
    if view == "monthly":
        table = measured.monthly
        months = [t(f"pf.month_{m}") for m in range(1, 13)]
        fig = charts.month_heatmap(table, t, title=t("pf.monthly_title", name=labels[name]), month_names=months,
                                   year_label=t("pf.year_total"), note=sample)  # fmt: skip
        notices.chart(fig, table, f"portfolio_{name}_monthly_returns", t("pf.monthly_title", name=labels[name]))
    elif view == "weights":
        weights = measured.weights
        names_of = {a: t.name(a) for a in assets} | {"cash": t("pf.cash")}
        fig = charts.stacked_area(weights, t, title=t("pf.weights_title", name=labels[name]), labels=names_of,
                                  note=sample)  # fmt: skip
        notices.chart(fig, weights, f"portfolio_{name}_weights", t("pf.weights_title", name=labels[name]))
    else:
        unit = t(f"pf.unit_{currency}")
        profit = parts[["profit"]].rename(columns={"profit": name})
        profit.index = pd.Index([t.name(a) for a in profit.index], name="asset_id")
        fig = charts.grouped_bars(profit, t, title=t("pf.contrib_title", unit=unit), yaxis_title=unit,
                                  labels={name: labels[name]}, note=sample, percent=False)  # fmt: skip
        notices.chart(fig, parts, f"portfolio_{name}_contributions", t("pf.contrib_title", unit=unit))
    other = [a for a in assets if catalog.get(a).currency != currency]
    if other:
        st.caption(t("pf.fx_split_caption", names=[Name(a) for a in other], currency=t(f"pf.unit_{currency}")))
        notices.show_table(parts.loc[other, ["profit", "asset_part", "fx_part", "costs"]], currency=currency)

    yearly = measured.yearly
    st.caption(t("pf.yearly_caption"))
    notices.show_table(yearly, currency=currency)
    notices.download_csv(yearly, f"portfolio_{name}_yearly", t("download.what", what=t("pf.yearly_table")))
    trades = backtest.trades
    notices.table_on_demand(trades, f"portfolio_{name}_trades", t("pf.trades", n=f"{len(trades):,}"), currency)
    notices.table_on_demand(backtest.values, f"portfolio_{name}_values", t("pf.daily_values"), currency)
