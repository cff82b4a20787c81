"""Plotly figures from analytics output, written in the reader's language (a Translator). Traces carry the asset's
name; data columns stay asset ids. The module is longer than 400 lines because every figure shares its private layout
helpers (_base, _level, the series colours, the end labels); split, they would have to be public to one another."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from marketdash.analysis.correlations import fisher_interval
from marketdash.domain import catalog
from marketdash.domain.i18n import Translator
from marketdash.web import axes

# Series colours never use a market colour of either scheme (red, blue, green): on a red-up screen a red line
# reads as "rising", a blue one as "falling". Hues left: charcoal, purple, orange, browns, yellows, greys.
_COLORS = {
    "kospi200": "#333333", "samsung": "#7b1fa2", "skhynix": "#f57c00", "soxl": "#6d4c41",
    "btc": "#f9b800", "gold": "#9e7d0a", "silver": "#90a4ae", "usdkrw": "#4e342e",
    # The Portfolio page's own lines: up to three portfolios, the benchmark, the money put in, cash.
    "p1": "#6a1b9a", "p2": "#ef6c00", "p3": "#5d4037", "bench": "#333333", "invested": "#9e9e9e", "cash": "#cfd8dc",
}  # fmt: skip
# Added assets: eight more hues, none near the seven's or a market colour, so 15 lines each have a colour of their
# own; past them the same again dotted and dash-dotted.
_ADDED_COLORS = ("#00838f", "#ad1457", "#827717", "#ec407a", "#8d6e63", "#c0ca33", "#b39ddb", "#ffab91")
_ADDED_DASHES = ("dot", "dashdot")  # past the first round of colours
CARRY_PAST_END = pd.Timedelta(days=4)  # a series' last value carries over a long weekend, no further
LOG_SPREAD = 3.0  # an automatic axis turns logarithmic when the highest value is over 3x the lowest
# Hangul has no glyphs in Plotly's default font: Windows, macOS, then Debian's Nanum and Noto (the app's theme names
# the same stack in .streamlit/config.toml).
FONT = (
    '"Source Sans", "Source Sans Pro", "Malgun Gothic", "Apple SD Gothic Neo", "NanumGothic", "Noto Sans KR", '
    "sans-serif"
)


def line_style(asset_id: str, among: Sequence[str] = ()) -> dict[str, str]:
    """An asset's line colour (and dash, for an added asset): a catalog asset's own; an added one's by its place
    among the added assets of the figure (`among`), else by its id."""
    if asset_id in _COLORS:
        return {"color": _COLORS[asset_id]}
    added = [a for a in among if a not in _COLORS]
    i = added.index(asset_id) if asset_id in added else zlib.crc32(asset_id.encode())
    n = len(_ADDED_COLORS)
    if i < n:
        return {"color": _ADDED_COLORS[i]}
    return {"color": _ADDED_COLORS[i % n], "dash": _ADDED_DASHES[(i // n - 1) % len(_ADDED_DASHES)]}


def color(asset_id: str, among: Sequence[str] = ()) -> str:
    return line_style(asset_id, among)["color"]


def date_values(index: pd.DatetimeIndex) -> np.ndarray:
    """Days as Plotly's date axis also takes them, milliseconds since 1970 (UTC, as Plotly reads every date), in
    float64: sent as packed binary, not text, and copied as one block when Plotly and Streamlit copy the figure.
    ISO strings cost a per-string deep copy (twice a rerun) and datetimes a per-value JSON encoding: over half of a
    Max-range chart's server time (bench/load.py)."""
    return index.to_numpy("datetime64[ms]").astype("int64").astype(float)


def _interval_text(tr: Translator, r: float, n: int) -> str:
    lo, hi = fisher_interval(r, n)
    return tr("chart.ci_too_few") if np.isnan(lo) else tr("chart.ci", lo=f"{lo:.2f}", hi=f"{hi:.2f}")


def _base(title: str, note: str | None, height: int) -> dict:
    """Every figure's layout: the title (and its note) on the left, the app's fonts, small margins."""
    text = title if not note else f"{title}<br><sup>{note}</sup>"
    return {"title": {"text": text, "x": 0.0, "xanchor": "left"}, "font": {"family": FONT},
            "margin": {"l": 10, "r": 10, "t": 70, "b": 10}, "height": height, "separators": ".,"}  # fmt: skip


def _layout(fig: go.Figure, title: str, note: str | None, height: int) -> None:
    fig.update_layout(_base(title, note, height))


def _level(y: float) -> dict:
    """A dotted horizontal line across the plot at `y` (100 for rebased lines, 0 for changes)."""
    return {"type": "line", "xref": "x domain", "x0": 0, "x1": 1, "yref": "y", "y0": y, "y1": y,
            "line": {"color": "#999", "width": 1, "dash": "dot"}}  # fmt: skip


def wants_log(wide: pd.DataFrame) -> bool:
    """The automatic axis: logarithmic when the values spread over more than LOG_SPREAD times (SOXL's +944 %
    would otherwise flatten every other line into one band)."""
    values = wide.to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    return bool(len(values)) and values.min() > 0 and values.max() / values.min() > LOG_SPREAD


def log_axis(choice: str, wide: pd.DataFrame) -> bool:
    """The axis picker's choice ("auto", "linear", "log") for these lines."""
    return choice == "log" or (choice == "auto" and wants_log(wide))


def line_chart(
    wide: pd.DataFrame,
    tr: Translator,
    *,
    title: str,
    yaxis_title: str,
    labels: dict[str, str] | None = None,
    note: str | None = None,
    log_y: bool = False,
    reference: float | None = None,
    hover_value: str = "%{y:,.2f}",
    time_axis: bool = False,
    end_labels: dict[str, str] | None = None,
    styles: dict[str, dict[str, str]] | None = None,
    y_format: str | None = None,
    money: str | None = None,
) -> go.Figure:
    """One line per column, named by `labels` (default: the asset's name); gaps (days a market was closed) are
    drawn flat, never filled in the data behind the chart. One unified hover, dated once, lists every series at
    that date (a market closed that day at its last value). `end_labels` are written at each line's end.
    `time_axis`: the x values are times of one day (hover shows the time, ticks the clock). `styles` sets a line's
    colour and dash instead of its asset's; `y_format` the value axis's tick format (",.0f": 18,000,000, not 18M);
    `money` ("KRW", "USD") labels a linear value axis with round amounts to its top (1,000만 · 2,000만 … 1억)."""
    hover_x = "%H:%M:%S" if time_axis else tr.plot_date
    dated = isinstance(wide.index, pd.DatetimeIndex) and not time_axis
    xs = date_values(wide.index) if dated else wide.index
    grid = wide.to_numpy(dtype=float)
    traces = []
    for j, asset_id in enumerate(wide.columns):
        # From its first value on, a day its market was closed carries the last value (a flat step, and a hover
        # that lists every series at every date); the CSV beside the chart keeps the days as traded.
        lo, hi = _drawn_span(wide.index, grid[:, j], carry=not time_axis)
        known = np.count_nonzero(~np.isnan(grid[lo:hi, j]))
        traces.append({
            "type": "scatter",
            "x": xs[lo:hi],
            "y": _carried(grid[lo:hi, j]),
            "name": (labels or {}).get(asset_id) or tr.name(asset_id),
            "mode": "lines+markers" if known == 1 else "lines",  # a lone point is drawn, not invisible
            "line": {**((styles or {}).get(asset_id) or line_style(asset_id, list(wide.columns))), "width": 1.6},
            "hovertemplate": f"{hover_value}<extra></extra>",
        })  # fmt: skip
    if time_axis:  # seconds only when the ticks are closer than a minute (a few minutes of quotes)
        ticks = [{"dtickrange": [None, 60_000], "value": "%H:%M:%S"}, {"dtickrange": [60_000, None], "value": "%H:%M"}]
    else:
        ticks = tr.plot_ticks
    values = grid[np.isfinite(grid) & ((grid > 0) if log_y else True)]
    span = axes.value_range(values, reference, log_y)
    yaxis = {"title": {"text": yaxis_title}, "type": "log" if log_y else "linear", "tickformat": y_format or ",~r"}
    if span is not None:
        yaxis["range"] = list(span)
        if log_y and money:
            yaxis.update(axes.log_money_ticks(tr, 10 ** span[0], 10 ** span[1], money))
        elif log_y:  # a few round, whole labels a decade (100, 200, 500, 1,000), never "10k" or bare 2 … 9
            yaxis.update(axes.log_ticks(tr, 10 ** span[0], 10 ** span[1]))
        elif money:
            yaxis.update(axes.money_ticks(tr, *span, money))
    layout = {
        **_base(title, note, 480),
        "yaxis": yaxis,
        "xaxis": {"type": "date", "hoverformat": hover_x, **({"tickformatstops": ticks} if ticks else {})},
        "hovermode": "x unified",
        "legend": {"orientation": "h", "y": -0.15},
        **({} if reference is None else {"shapes": [_level(reference)]}),
    }  # fmt: skip
    if end_labels and span is not None:
        layout["annotations"] = _end_labels(wide, end_labels, log_y, span)
        layout["margin"] = {**layout["margin"], "r": 150}
    # Built at once from plain dicts already in the form Plotly's validation would give them (tests/test_charts.py
    # checks the JSON is the same): validating a Max-range chart took 9 of its 11 ms, on every rerun.
    return go.Figure(data=traces, layout=layout, _validate=False)


def _drawn_span(index: pd.Index, column: np.ndarray, carry: bool) -> tuple[int, int]:
    """The rows a line is drawn over: from its first value on, and (`carry`) past its last value only as far as
    CARRY_PAST_END (a long weekend, not a stale series). Positions, since the index is sorted."""
    known = np.flatnonzero(~np.isnan(column))
    if not len(known):
        return 0, 0
    if not carry:
        return int(known[0]), len(column)
    return int(known[0]), int(index.searchsorted(index[known[-1]] + CARRY_PAST_END, side="right"))


def _carried(column: np.ndarray) -> np.ndarray:
    """A column whose first value is known, each gap filled with the value before it."""
    last = np.where(np.isnan(column), 0, np.arange(len(column)))
    np.maximum.accumulate(last, out=last)
    return column[last]


# Of the plot's height between two end labels: 19 px (an 11 px label's box is 18 px) of the 300 px a 480 px chart
# keeps for its lines below the title, beside the date ticks and above a two-row legend. They never overlap.
LABEL_GAP = 19 / 300


def _end_labels(wide: pd.DataFrame, texts: dict[str, str], log_y: bool, span: tuple[float, float]) -> list[dict]:
    """Each line's name and change beside its last point, in its colour, in the margin on the right: moved apart
    so that no two overlap; when there are more than the height holds, the lines that moved most keep theirs."""
    lo, hi = span
    ends = []
    for asset_id, text in texts.items():
        series = wide[asset_id].dropna() if asset_id in wide else pd.Series(dtype=float)
        if series.empty or (log_y and float(series.iloc[-1]) <= 0):
            continue
        y = float(series.iloc[-1])
        ends.append([((np.log10(y) if log_y else y) - lo) / (hi - lo), asset_id, text])
    room = int(1 / LABEL_GAP)
    if len(ends) > room:  # keep the furthest from the middle of the pack: the lines a reader looks for
        middle = float(np.median([e[0] for e in ends]))
        ends = sorted(ends, key=lambda e: -abs(e[0] - middle))[:room]
    ends.sort(key=lambda e: e[0])
    for i in range(1, len(ends)):  # push up what sits too close above the one below
        ends[i][0] = max(ends[i][0], ends[i - 1][0] + LABEL_GAP)
    top = 1.0
    for end in reversed(ends):  # then down from the top, so none leaves the plot
        end[0] = min(end[0], top)
        top = end[0] - LABEL_GAP
    among = list(wide.columns)
    return [{"x": 1.0, "xref": "paper", "xanchor": "left", "y": y, "yref": "paper", "yanchor": "middle",
             "text": text, "showarrow": False, "font": {"color": color(asset_id, among), "size": 11}}
            for y, asset_id, text in ends]  # fmt: skip


MA_COLORS = {"ma5": "#f57c00", "ma20": "#7b1fa2", "ma60": "#6d4c41", "ma120": "#90a4ae"}  # none a market colour


def candles(bars: pd.DataFrame, averages: pd.DataFrame, tr: Translator, *, title: str, note: str | None,
            unit: str) -> go.Figure:  # fmt: skip
    """One asset's daily candles in the scheme's rise and fall colours, its moving averages, and volume bars
    below. A source that sends closes only (an FX fixing) is drawn as a line."""
    frame = bars.set_index("date").sort_index()
    has_volume = frame["volume"].notna().any()
    fig = make_subplots(rows=2 if has_volume else 1, cols=1, shared_xaxes=True, vertical_spacing=0.03,
                        row_heights=[0.75, 0.25] if has_volume else [1.0])  # fmt: skip
    up, down = tr.change_color(1.0), tr.change_color(-1.0)
    if frame[["open", "high", "low"]].notna().all(axis=1).any():
        candle = go.Candlestick(x=frame.index, open=frame["open"], high=frame["high"], low=frame["low"],
                                close=frame["close"], name=tr("asset.candles"),
                                increasing={"line": {"color": up}, "fillcolor": up},
                                decreasing={"line": {"color": down}, "fillcolor": down})  # fmt: skip
        fig.add_trace(candle, row=1, col=1)
    else:
        fig.add_trace(go.Scatter(x=frame.index, y=frame["close"], name=tr("asset.close"), mode="lines",
                                 line={"color": "#333333", "width": 1.6}), row=1, col=1)  # fmt: skip
    for column in averages.columns:
        fig.add_trace(go.Scatter(x=averages.index, y=averages[column], name=tr(f"asset.{column}"), mode="lines",
                                 line={"color": MA_COLORS.get(column), "width": 1.1}), row=1, col=1)  # fmt: skip
    if has_volume:
        rising = frame["close"] >= frame["open"].fillna(frame["close"])
        volume = go.Bar(x=frame.index, y=frame["volume"], name=tr("asset.volume"), showlegend=False,
                        marker={"color": [up if r else down for r in rising]}, opacity=0.6)  # fmt: skip
        fig.add_trace(volume, row=2, col=1)
    _layout(fig, title, note, 620)
    fig.update_layout(xaxis_rangeslider_visible=False, hovermode="x unified", legend={"orientation": "h", "y": -0.1})
    fig.update_yaxes(title_text=unit, tickformat=",.2~f", row=1, col=1)  # 145,000 and 16.48, never "145k"
    if has_volume:
        fig.update_yaxes(tickformat=",.0f", row=2, col=1)
    fig.update_xaxes(hoverformat=tr.plot_date)
    if tr.plot_ticks:
        fig.update_xaxes(tickformatstops=tr.plot_ticks)
    return fig


def heatmap(
    matrix: pd.DataFrame,
    tr: Translator,
    *,
    title: str,
    observations: int,
    min_observations: int,
    note: str | None = None,
) -> go.Figure:
    """Annotated correlation heatmap on a fixed -1..1 diverging scale (the same in both languages); hover shows n
    and the 95% interval. With fewer than `min_observations` returns the cells are drawn grey and marked."""
    names = [tr.name(a) for a in matrix.columns]
    # Category labels must be distinct (two listings may share a short name) and are never read as numbers (an
    # added symbol named by its code, 005380, would turn the axis into a numeric one).
    labels = [f"{n} ({catalog.get(a).code})" if names.count(n) > 1 else n for n, a in zip(names, matrix.columns,
                                                                                           strict=True)]  # fmt: skip
    values = matrix.to_numpy()
    too_few = observations < min_observations
    text = np.vectorize(lambda v: "" if np.isnan(v) else f"{v:.2f}" + ("?" if too_few else ""))(values)
    ci = np.vectorize(lambda v: _interval_text(tr, v, observations))(values)
    heat = {"type": "heatmap", "z": values, "x": labels, "y": labels, "text": text, "customdata": ci,
            "texttemplate": "%{text}", "zmin": -1, "zmax": 1,
            "colorscale": [[0, "#d9d9d9"], [1, "#bdbdbd"]] if too_few else "RdBu_r",
            "colorbar": {"title": {"text": tr("chart.correlation")}},
            "hovertemplate": tr("chart.heat_hover", n=f"{observations:,}") + "<extra></extra>",
            "textfont": {"size": 12 if len(labels) <= 10 else 9}}  # fmt: skip
    layout = {**_base(title, note, 520 + 24 * max(0, len(labels) - 10)),  # 20 assets: cells stay big enough to read
              "yaxis": {"autorange": "reversed", "type": "category"}, "xaxis": {"type": "category"}}  # fmt: skip
    return go.Figure(data=[heat], layout=layout)  # validated once, as line_chart's


def lag_bars(table: pd.DataFrame, tr: Translator, *, title: str, unit: str, note: str | None = None) -> go.Figure:
    """Correlation at each lag in the market colours (positive as a rise, negative as a fall), the strongest lag
    drawn solid and the others pale."""
    corr = table["correlation"]
    peak = corr.abs().idxmax() if corr.notna().any() else None
    colors = [tr.change_color(value) for value in corr.to_numpy()]
    bars = {
        "type": "bar",
        "x": table.index.to_numpy(),
        "y": corr.to_numpy(),
        "marker": {"color": colors, "opacity": [1.0 if lag == peak else 0.4 for lag in table.index]},
        "customdata": table["observations"].to_numpy(),
        "hovertemplate": tr("chart.lag_hover") + "<extra></extra>",
    }
    layout = {**_base(title, note, 380), "xaxis": {"title": tr(f"chart.lag_axis.{unit}"), "dtick": 1},
              "yaxis": {"title": tr("chart.correlation"), "range": [-1, 1]}}  # fmt: skip
    return go.Figure(data=[bars], layout=layout)


def change_bars(pct: pd.Series, labels: Sequence[str], tr: Translator, *, title: str, axis: str) -> go.Figure:
    """One horizontal bar per asset in the market colours, named by `labels` (which carry the figure: a bar's own
    text would run into the names or off a phone's screen), top to bottom in the order given."""
    bars = {
        "type": "bar",
        "orientation": "h",
        "x": pct.to_numpy(),
        "y": list(labels),
        "marker": {"color": [tr.change_color(v) for v in pct.to_numpy()]},
        "hovertemplate": "%{y}<extra></extra>",
    }
    zero = {**_level(0.0), "xref": "x", "x0": 0, "x1": 0, "yref": "y domain", "y0": 0, "y1": 1}  # upright
    layout = {**_base(title, None, 150 + 44 * len(pct)), "shapes": [zero], "bargap": 0.3,
              "xaxis": {"title": axis, "tickformat": "+.1f", "zeroline": False},
              "yaxis": {"autorange": "reversed", "type": "category", "automargin": True}}  # fmt: skip
    return go.Figure(data=[bars], layout=layout)


def grouped_bars(frame: pd.DataFrame, tr: Translator, *, title: str, yaxis_title: str, labels: dict[str, str],
                 note: str | None = None, percent: bool = True, by_sign: bool = False) -> go.Figure:  # fmt: skip
    """One bar per column in each row (years, assets), each column in its own series colour, or (`by_sign`) each
    bar in the market colour of its sign (a loss in the falling colour); values signed."""
    among = list(frame.columns)
    x = [str(i) for i in frame.index]

    def paint(c: object) -> object:
        return [tr.change_color(float(v)) for v in frame[c].to_numpy()] if by_sign else color(c, among)

    traces = [{"type": "bar", "x": x, "y": frame[c].to_numpy(), "name": labels.get(c, str(c)),
               "marker": {"color": paint(c)},
               "hovertemplate": ("%{y:+.2f}%" if percent else "%{y:,.0f}") + "<extra></extra>"}
              for c in frame.columns]  # fmt: skip
    layout = {**_base(title, note, 420), "barmode": "group", "legend": {"orientation": "h", "y": -0.15},
              "hovermode": "x unified", "xaxis": {"type": "category"}, "shapes": [_level(0.0)],
              "yaxis": {"title": yaxis_title, "tickformat": "+,.0f" if percent else ",.0f"}}  # fmt: skip
    return go.Figure(data=traces, layout=layout)


def month_heatmap(table: pd.DataFrame, tr: Translator, *, title: str, month_names: list[str], year_label: str,
                  note: str | None = None) -> go.Figure:  # fmt: skip
    """Years x months of returns in %, with the year's total as the last column, in the market colours (a rise in
    the scheme's rising colour), centred at 0."""
    values = table.to_numpy(dtype=float)
    text = np.vectorize(lambda v: "" if np.isnan(v) else f"{round(v, 1) + 0.0:+.1f}")(values)  # never "-0.0"
    bound = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    up, down = tr.change_color(1.0), tr.change_color(-1.0)
    fig = go.Figure(
        go.Heatmap(
            z=values, x=[*month_names, year_label], y=[str(y) for y in table.index], text=text,
            texttemplate="%{text}", zmin=-bound, zmax=bound, zmid=0,
            colorscale=[[0, down], [0.5, "#ffffff"], [1, up]], showscale=False,
            hovertemplate="%{y} %{x}: %{z:+.2f}%<extra></extra>", xgap=2, ygap=2,
        )
    )  # fmt: skip
    _layout(fig, title, note, 150 + 34 * len(table))
    fig.update_layout(xaxis={"type": "category"}, yaxis={"type": "category", "autorange": "reversed"})
    return fig


def stacked_area(wide: pd.DataFrame, tr: Translator, *, title: str, labels: dict[str, str],
                 note: str | None = None) -> go.Figure:  # fmt: skip
    """Shares of a whole (in %) stacked over time: each holding's weight, cash last."""
    dated = date_values(wide.index)
    among = list(wide.columns)
    traces = [{"type": "scatter", "x": dated, "y": wide[c].to_numpy(), "name": labels.get(c, str(c)),
               "stackgroup": "one", "mode": "lines", "line": {"width": 0.5, "color": color(c, among)},
               "hovertemplate": "%{y:.1f}%<extra></extra>"} for c in wide.columns]  # fmt: skip
    layout = {
        **_base(title, note, 420),
        "hovermode": "x unified",
        "legend": {"orientation": "h", "y": -0.15},
        "yaxis": {"title": "%", "range": [0, 100]},
        "xaxis": {"type": "date", "hoverformat": tr.plot_date,
                  **({"tickformatstops": tr.plot_ticks} if tr.plot_ticks else {})},
    }  # fmt: skip
    return go.Figure(data=traces, layout=layout)
