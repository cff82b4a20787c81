"""Plotly figures from analytics output. Traces carry the asset's display label; data columns stay asset ids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from marketdash import catalog
from marketdash.analytics import fisher_interval

_COLORS = {
    "kospi200": "#1f77b4", "samsung": "#1428a0", "skhynix": "#e4002b", "soxl": "#9467bd",
    "btc": "#f7931a", "gold": "#d4af37", "silver": "#8c8c8c", "usdkrw": "#2ca02c",
}  # fmt: skip


def color(asset_id: str) -> str | None:
    return _COLORS.get(asset_id)


def _interval_text(r: float, n: int) -> str:
    lo, hi = fisher_interval(r, n)
    return "95% CI: too few returns" if np.isnan(lo) else f"95% CI {lo:.2f} to {hi:.2f}"


def _subtitle(title: str, note: str | None) -> dict:
    text = title if not note else f"{title}<br><sup>{note}</sup>"
    return {"text": text, "x": 0.0, "xanchor": "left"}


def line_chart(
    wide: pd.DataFrame,
    *,
    title: str,
    yaxis_title: str,
    labels: dict[str, str] | None = None,
    note: str | None = None,
    log_y: bool = False,
    reference: float | None = None,
    hover_format: str = "%{x|%Y-%m-%d}: %{y:,.2f}",
) -> go.Figure:
    """One line per column, named by `labels` (default: the catalog label); gaps (days a market was closed) are
    bridged visually, never filled in the data."""
    fig = go.Figure()
    for asset_id in wide.columns:
        series = wide[asset_id].dropna()
        fig.add_trace(
            go.Scatter(
                x=series.index,
                y=series.to_numpy(),
                name=(labels or {}).get(asset_id, catalog.get(asset_id).label),
                mode="lines",
                line={"color": _COLORS.get(asset_id), "width": 1.6},
                hovertemplate=hover_format + "<extra>%{fullData.name}</extra>",
            )
        )
    if reference is not None:
        fig.add_hline(y=reference, line={"color": "#999", "width": 1, "dash": "dot"})
    fig.update_layout(
        title=_subtitle(title, note),
        yaxis={"title": yaxis_title, "type": "log" if log_y else "linear"},
        hovermode="x unified",
        legend={"orientation": "h", "y": -0.15},
        margin={"l": 10, "r": 10, "t": 70, "b": 10},
        height=480,
    )
    return fig


def heatmap(
    matrix: pd.DataFrame, *, title: str, observations: int, min_observations: int, note: str | None = None
) -> go.Figure:
    """Annotated correlation heatmap on a fixed -1..1 diverging scale; hover shows n and the 95% interval.

    With fewer than `min_observations` returns the cells are drawn grey and marked, not shown as precise.
    """
    labels = [catalog.get(a).label for a in matrix.columns]
    values = matrix.to_numpy()
    too_few = observations < min_observations
    text = np.vectorize(lambda v: "" if np.isnan(v) else f"{v:.2f}" + ("?" if too_few else ""))(values)
    ci = np.vectorize(lambda v: _interval_text(v, observations))(values)
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
            hovertemplate=f"%{{y}} / %{{x}}: %{{z:.3f}}<br>n = {observations}, %{{customdata}}<extra></extra>",
        )
    )
    fig.update_layout(
        title=_subtitle(title, note),
        yaxis={"autorange": "reversed"},
        margin={"l": 10, "r": 10, "t": 70, "b": 10},
        height=520,
    )
    return fig


def lag_bars(table: pd.DataFrame, *, title: str, note: str | None = None) -> go.Figure:
    """Correlation at each lag, the strongest one highlighted."""
    corr = table["correlation"]
    peak = corr.abs().idxmax() if corr.notna().any() else None
    colors = ["#e4002b" if lag == peak else "#9ecae1" for lag in table.index]
    fig = go.Figure(
        go.Bar(
            x=table.index,
            y=corr.to_numpy(),
            marker_color=colors,
            customdata=table["observations"].to_numpy(),
            hovertemplate="lag %{x}: %{y:.3f} (n = %{customdata})<extra></extra>",
        )
    )
    fig.update_layout(
        title=_subtitle(title, note),
        xaxis={"title": "lag k: corr(A on day t, B on day t+k); k > 0 means A leads", "dtick": 1},
        yaxis={"title": "correlation", "range": [-1, 1]},
        margin={"l": 10, "r": 10, "t": 70, "b": 10},
        height=380,
    )
    return fig
