"""Plotly figures from analytics output. Traces carry the asset's display label; data columns stay asset ids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from marketdash import catalog

_COLORS = {
    "kospi200": "#1f77b4", "samsung": "#1428a0", "skhynix": "#e4002b", "soxl": "#9467bd",
    "btc": "#f7931a", "gold": "#d4af37", "silver": "#8c8c8c", "usdkrw": "#2ca02c",
}  # fmt: skip


def trace_name(asset_id: str, sample: bool) -> str:
    label = catalog.get(asset_id).label
    return f"{label} (sample)" if sample else label


def _subtitle(title: str, note: str | None) -> dict:
    text = title if not note else f"{title}<br><sup>{note}</sup>"
    return {"text": text, "x": 0.0, "xanchor": "left"}


def line_chart(
    wide: pd.DataFrame,
    *,
    title: str,
    yaxis_title: str,
    sample_assets: frozenset[str] = frozenset(),
    note: str | None = None,
    log_y: bool = False,
    reference: float | None = None,
) -> go.Figure:
    """One line per column; gaps (days a market was closed) are bridged visually, never filled in the data."""
    fig = go.Figure()
    for asset_id in wide.columns:
        series = wide[asset_id].dropna()
        fig.add_trace(
            go.Scatter(
                x=series.index,
                y=series.to_numpy(),
                name=trace_name(asset_id, asset_id in sample_assets),
                mode="lines",
                line={"color": _COLORS.get(asset_id), "width": 1.6},
                hovertemplate="%{x|%Y-%m-%d}: %{y:,.2f}<extra>%{fullData.name}</extra>",
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


def heatmap(matrix: pd.DataFrame, *, title: str, note: str | None = None) -> go.Figure:
    """Annotated correlation heatmap on a fixed -1..1 diverging scale."""
    labels = [catalog.get(a).label for a in matrix.columns]
    values = matrix.to_numpy()
    text = np.vectorize(lambda v: "" if np.isnan(v) else f"{v:.2f}")(values)
    fig = go.Figure(
        go.Heatmap(
            z=values,
            x=labels,
            y=labels,
            text=text,
            texttemplate="%{text}",
            zmin=-1,
            zmax=1,
            colorscale="RdBu_r",
            hovertemplate="%{y} / %{x}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=_subtitle(title, note),
        yaxis={"autorange": "reversed"},
        margin={"l": 10, "r": 10, "t": 70, "b": 10},
        height=520,
    )
    return fig
