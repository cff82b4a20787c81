"""The Portfolio page's results: what the engine found for up to three portfolios and a benchmark, in the reader's
language, with a CSV beside every table and chart.

The page calls portfolio_inputs.inputs(), then `run()` and `results()` here; the numbers come from
services/portfolio.py and analysis/portfolio/.
"""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from marketdash.analysis.portfolio import breakdown, measures
from marketdash.analysis.portfolio import plan as plans
from marketdash.analysis.portfolio.plan import Plan, PlanError
from marketdash.domain import catalog
from marketdash.domain.csvfiles import stat_text
from marketdash.domain.i18n import Name, Translator
from marketdash.services import portfolio as portfolios
from marketdash.web import charts, fetching, notices, ui, widgets
from marketdash.web.portfolio_inputs import Inputs
from marketdash.web.ui import tr


def run(inputs: Inputs) -> portfolios.Comparison:
    """The engine's results, or the page stops with the one sentence that says what to change (the inputs above it
    stay drawn)."""
    t = tr()
    ids = portfolios.asset_ids(inputs.plans, inputs.benchmark)
    first = next(iter(inputs.plans.values()))
    fetching.refresh_live(fetching.with_fx(ids), start=first.start)
    fetching.fill_history_behind(fetching.with_fx(ids), first.start)
    try:
        return ui.load_portfolios(plans.to_json(inputs.plans, inputs.benchmark), inputs.rf_pct)
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


# -- the figures side by side ---------------------------------------------------------------------------------------
MONEY = {"invested", "withdrawn", "final_value", "profit", "fees", "taxes", "dividends", "dividend_tax"}
SIGNED_PCT = {"simple_return_pct", "twr_pct", "twr_annual_pct", "mwr_annual_pct", "max_drawdown_pct",
              "best_year_pct", "worst_year_pct", "best_month_pct", "worst_month_pct"}  # fmt: skip
DATES = {"max_drawdown_peak", "max_drawdown_trough", "max_drawdown_recovery"}
# On screen: CAGR is the annual TWR by its definition here (said under the table), so it is one row, not two; the
# CSV keeps both. Withdrawals and dividends show when a run has them.
SHOWN = [k for k in measures.STAT_KEYS if k != "cagr_pct"]


def _cell(t: Translator, key: str, value: object, currency: str) -> str:
    if key in MONEY:
        text = t.money(value, currency)
        return f"+{text}" if key == "profit" and isinstance(value, float) and round(value) > 0 else text
    if key in SIGNED_PCT:
        return t.pct(value)
    if key == "volatility_pct":
        return "—" if value is None or math.isnan(value) else f"{t.number(value)}%"
    if key in DATES:
        return t("pf.not_recovered") if value is None and key == "max_drawdown_recovery" else t.date(value)
    if key == "longest_underwater_days":
        return t("pf.days", n=f"{value:,}")
    return t.number(value, 2)


def _labels(t: Translator, result: portfolios.Comparison) -> dict[str, str]:
    out = {}
    for name, measured in result.runs.items():
        if name == portfolios.BENCHMARK:
            out[name] = t("pf.bench_name", name=t.name(measured.backtest.plan.assets[0]))
        else:
            out[name] = t("pf.name", n=name[1:])
    return out


def _composition(t: Translator, plan: Plan) -> str:
    active = plan.active()
    return " · ".join(f"{t.name(a)} {w * 100:.4g}%" for a, w in zip(active.assets, active.targets(), strict=True))


def _shown_keys(stats: dict[str, dict[str, object]]) -> list[str]:
    """The rows worth a line: withdrawals and dividends only when some run has them."""
    quiet = {k for k in ("withdrawn", "dividends", "dividend_tax") if not any(s[k] for s in stats.values())}
    return [k for k in SHOWN if k not in quiet]


def results(inputs: Inputs, result: portfolios.Comparison) -> None:
    """Notes, the statistics side by side, the charts of every run, then one portfolio in detail."""
    t = tr()
    first = next(iter(inputs.plans.values()))
    currency = first.currency
    if result.data is not None:
        notices.data_notice(result.data)
    for note in result.notes:
        st.caption(f":material/info: {t.text(note)}")
    if first.costs.none:
        st.caption(t("pf.before_costs"))
    st.caption(t("pf.rules"))
    if first.whole_shares:
        st.caption(t("pf.whole_rule"))
    labels = _labels(t, result)
    for name, plan in inputs.plans.items():
        st.caption(f"**{labels[name]}**: {_composition(t, plan)}")

    stats = {name: measured.summary for name, measured in result.runs.items()}
    keys = _shown_keys(stats)
    st.subheader(t("pf.stats"))
    shown = pd.DataFrame({labels[n]: [_cell(t, k, s[k], currency) for k in keys] for n, s in stats.items()},
                         index=[t(f"pf.stat_{k}") for k in keys])  # fmt: skip
    signed = {k for k in keys if k == "profit" or k in SIGNED_PCT}
    colors = pd.DataFrame({labels[n]: [t.change_color(s[k]) if k in signed and isinstance(s[k], float) else ""
                                       for k in keys] for n, s in stats.items()}, index=shown.index)  # fmt: skip
    style = shown.style.apply(lambda col: [f"color: {c}" if c else "" for c in colors[col.name]])
    st.dataframe(style, width="stretch", height="content")
    days = len(next(iter(result.runs.values())).backtest.values)
    notes = [t("pf.cagr_is_twr"), t("pf.rf_used", rf=f"{inputs.rf_pct:g}")]
    if days < measures.MIN_DAYS:
        notes.insert(0, t("pf.annual_blank", n=days, min=measures.MIN_DAYS))
    st.caption(" ".join(notes))
    raw = pd.DataFrame({n: [stat_text(v) for v in s.values()] for n, s in stats.items()},
                       index=pd.Index(measures.STAT_KEYS, name="metric"))  # fmt: skip
    notices.download_csv(raw, "portfolio_stats", t("download.what", what=t("pf.stats")))

    sample = notices.sample_note(result.data) if result.data is not None else None
    _run_charts(t, result, labels, sample, currency)
    _detail(t, inputs, result, labels, sample)


CHARTS = ("value", "growth", "drawdown", "yearly", "rolling")
VIEWS = ("monthly", "weights", "assets", "drawdowns")


def _run_charts(t: Translator, result: portfolios.Comparison, labels: dict[str, str], sample: str | None,
                currency: str) -> None:  # fmt: skip
    """Every run side by side, one chart at a time (each with its CSV): value against the money put in, the
    time-weighted growth against the benchmark, the drawdowns, the returns by year, rolling returns."""
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
                                log_y=charts.log_axis(axis, values), money=currency,
                                styles={"invested": {"color": charts.color("invested"), "dash": "dash"}})  # fmt: skip
        notices.chart(fig, values, "portfolio_values", t("pf.value_title", unit=unit))
    elif shown == "growth":
        axis = widgets.axis_picker(c2)
        growth = pd.DataFrame({n: r.growth for n, r in runs.items()})
        fig = charts.line_chart(growth, t, title=t("pf.growth_title"), yaxis_title=t("chart.index_axis"),
                                labels=labels, note=sample, reference=100.0,
                                log_y=charts.log_axis(axis, growth))  # fmt: skip
        notices.chart(fig, growth, "portfolio_twr_growth", t("pf.growth_title"))
    elif shown == "drawdown":
        dd = pd.DataFrame({n: measures.drawdowns(r.growth) * 100 for n, r in runs.items()})
        fig = charts.line_chart(dd, t, title=t("pf.drawdown_title"), yaxis_title=t("stats.drawdown_axis"),
                                labels=labels, note=sample, reference=0.0)  # fmt: skip
        notices.chart(fig, dd, "portfolio_drawdowns", t("pf.drawdown_title"))
    elif shown == "yearly":
        yearly = pd.DataFrame({n: r.yearly["twr_pct"] for n, r in runs.items()})
        fig = charts.grouped_bars(yearly, t, title=t("pf.yearly_title"), yaxis_title="%", labels=labels, note=sample)
        notices.chart(fig, yearly, "portfolio_yearly_returns", t("pf.yearly_title"))
    else:
        _rolling(t, runs, labels, sample, c2)


def _rolling(t: Translator, runs: dict[str, breakdown.Measured], labels: dict[str, str], sample: str | None,
             where: object) -> None:  # fmt: skip
    """Annualised returns over every 1-, 3- or 5-year window, one line per run."""
    windows = [w for w in (f"{n}y" for n in breakdown.ROLLING_YEARS) if any(w in r.rolling for r in runs.values())]
    if not windows:
        st.caption(t("pf.rolling_short"))
        return
    window = widgets.choice(t("pf.rolling_window"), windows, windows[0], "roll", lambda w: t(f"pf.rolling_{w}"),
                            where=where)  # fmt: skip
    rolling = pd.DataFrame({n: r.rolling[window] for n, r in runs.items() if window in r.rolling})
    title = t("pf.rolling_title", window=t(f"pf.rolling_{window}"))
    fig = charts.line_chart(rolling, t, title=title, yaxis_title="%", labels=labels, note=sample, reference=0.0)
    notices.chart(fig, rolling, f"portfolio_rolling_{window}", title)


def _detail(t: Translator, inputs: Inputs, result: portfolios.Comparison, labels: dict[str, str],
            sample: str | None) -> None:  # fmt: skip
    """One portfolio's own charts and tables: monthly returns, weights, each asset's part, its largest drawdowns,
    the year-by-year money, trades and daily values."""
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
    elif view == "assets":
        unit = t(f"pf.unit_{currency}")
        profit = parts[["profit"]].rename(columns={"profit": name})
        profit.index = pd.Index([t.name(a) for a in profit.index], name="asset_id")
        fig = charts.grouped_bars(profit, t, title=t("pf.contrib_title", unit=unit), yaxis_title=unit,
                                  labels={name: labels[name]}, note=sample, percent=False, by_sign=True)  # fmt: skip
        notices.chart(fig, parts, f"portfolio_{name}_contributions", t("pf.contrib_title", unit=unit))
        st.caption(t("pf.parts_caption", currency=unit))
        notices.show_table(parts[["profit", "asset_part", "fx_part", "dividend_part", "costs", "share_pct"]],
                           currency=currency)  # fmt: skip
    else:
        st.caption(t("pf.drawdowns_caption", name=labels[name]))
        notices.show_table(measured.drawdowns)
        notices.download_csv(
            measured.drawdowns, f"portfolio_{name}_drawdowns", t("download.what", what=t("pf.view_drawdowns"))
        )
    other = [a for a in assets if catalog.get(a).currency != currency]
    if other and view != "assets":
        st.caption(t("pf.fx_split_caption", names=[Name(a) for a in other], currency=t(f"pf.unit_{currency}")))
        notices.show_table(parts.loc[other, ["profit", "asset_part", "fx_part", "costs"]], currency=currency)

    yearly = measured.yearly
    st.caption(t("pf.yearly_caption"))
    shown = yearly.drop(columns=["complete"])
    if not yearly["complete"].iloc[-1]:  # every year as text: a column of one type for the grid
        labels = [str(y) for y in shown.index[:-1]] + [t("pf.year_so_far", year=shown.index[-1])]
        shown.index = pd.Index(labels, name=shown.index.name)
    notices.show_table(shown, currency=currency)
    notices.download_csv(yearly, f"portfolio_{name}_yearly", t("download.what", what=t("pf.yearly_table")))
    trades = backtest.trades
    notices.table_on_demand(trades, f"portfolio_{name}_trades", t("pf.trades", n=f"{len(trades):,}"), currency)
    notices.table_on_demand(backtest.values, f"portfolio_{name}_values", t("pf.daily_values"), currency)
