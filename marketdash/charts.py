"""Plotly figures from analytics output, written in the reader's language (a Translator). Traces carry the asset's
name; data columns stay asset ids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from marketdash.analytics import fisher_interval
from marketdash.i18n import Translator

_COLORS = {
    "kospi200": "#1f77b4", "samsung": "#1428a0", "skhynix": "#e4002b", "soxl": "#9467bd",
    "btc": "#f7931a", "gold": "#d4af37", "silver": "#8c8c8c", "usdkrw": "#2ca02c",
}  # fmt: skip
# Hangul has no glyphs in Plotly's default font: Windows, macOS, then Debian's Nanum and Noto (the app's theme names
# the same stack in .streamlit/config.toml).
FONT = (
    '"Source Sans", "Source Sans Pro", "Malgun Gothic", "Apple SD Gothic Neo", "NanumGothic", "Noto Sans KR", '
    "sans-serif"
)


def color(asset_id: str) -> str | None:
    return _COLORS.get(asset_id)


def _interval_text(tr: Translator, r: float, n: int) -> str:
    lo, hi = fisher_interval(r, n)
    return tr("chart.ci_too_few") if np.isnan(lo) else tr("chart.ci", lo=f"{lo:.2f}", hi=f"{hi:.2f}")


def _layout(fig: go.Figure, title: str, note: str | None, height: int) -> None:
    text = title if not note else f"{title}<br><sup>{note}</sup>"
    fig.update_layout(
        title={"text": text, "x": 0.0, "xanchor": "left"},
        font={"family": FONT},
        margin={"l": 10, "r": 10, "t": 70, "b": 10},
        height=height,
        separators=".,",
    )


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
) -> go.Figure:
    """One line per column, named by `labels` (default: the asset's name); gaps (days a market was closed) are
    bridged visually, never filled in the data. `time_axis`: the x values are times of one day (hover shows the
    time, ticks the clock)."""
    hover_x = "%{x|%H:%M:%S}" if time_axis else f"%{{x|{tr.plot_date}}}"
    fig = go.Figure()
    for asset_id in wide.columns:
        series = wide[asset_id].dropna()
        fig.add_trace(
            go.Scatter(
                x=series.index,
                y=series.to_numpy(),
                name=(labels or {}).get(asset_id) or tr.name(asset_id),
                mode="lines+markers" if len(series) == 1 else "lines",  # a lone point is drawn, not invisible
                line={"color": _COLORS.get(asset_id), "width": 1.6},
                hovertemplate=f"{hover_x}: {hover_value}<extra>%{{fullData.name}}</extra>",
            )
        )
    if reference is not None:
        fig.add_hline(y=reference, line={"color": "#999", "width": 1, "dash": "dot"})
    _layout(fig, title, note, 480)
    fig.update_layout(
        yaxis={"title": yaxis_title, "type": "log" if log_y else "linear"},
        hovermode="x unified",
        legend={"orientation": "h", "y": -0.15},
    )
    if time_axis:  # seconds only when the ticks are closer than a minute (a few minutes of quotes)
        fig.update_xaxes(tickformatstops=[{"dtickrange": [None, 60_000], "value": "%H:%M:%S"},
                                          {"dtickrange": [60_000, None], "value": "%H:%M"}])  # fmt: skip
    elif tr.plot_ticks:
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
    labels = [tr.name(a) for a in matrix.columns]
    values = matrix.to_numpy()
    too_few = observations < min_observations
    text = np.vectorize(lambda v: "" if np.isnan(v) else f"{v:.2f}" + ("?" if too_few else ""))(values)
    ci = np.vectorize(lambda v: _interval_text(tr, v, observations))(values)
    fig = go.Figure(
        go.Heatmap(
            z=values,
            x=labels,
            y=labels,
            text=text,
            customdata=ci,
            texttemplate="%{text}",
            zmin=-1,
            zmax=1,
            colorscale=[[0, "#d9d9d9"], [1, "#bdbdbd"]] if too_few else "RdBu_r",
            colorbar={"title": {"text": tr("chart.correlation")}},
            hovertemplate=tr("chart.heat_hover", n=f"{observations:,}") + "<extra></extra>",
        )
    )
    _layout(fig, title, note, 520)
    fig.update_layout(yaxis={"autorange": "reversed"})
    return fig


def lag_bars(table: pd.DataFrame, tr: Translator, *, title: str, note: str | None = None) -> go.Figure:
    """Correlation at each lag in the market colours (positive as a rise, negative as a fall), the strongest lag
    drawn solid and the others pale."""
    corr = table["correlation"]
    peak = corr.abs().idxmax() if corr.notna().any() else None
    colors = [tr.change_color(value) for value in corr.to_numpy()]
    fig = go.Figure(
        go.Bar(
            x=table.index,
            y=corr.to_numpy(),
            marker={"color": colors, "opacity": [1.0 if lag == peak else 0.4 for lag in table.index]},
            customdata=table["observations"].to_numpy(),
            hovertemplate=tr("chart.lag_hover") + "<extra></extra>",
        )
    )
    _layout(fig, title, note, 380)
    fig.update_layout(
        xaxis={"title": tr("chart.lag_axis"), "dtick": 1},
        yaxis={"title": tr("chart.correlation"), "range": [-1, 1]},
    )
    return fig
