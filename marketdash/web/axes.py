"""Value axes a reader can read: the range a chart's lines need, and round ticks in the reader's own units (whole
numbers a decade on a log axis, amounts of money as the reader writes them). Apart from charts.py, which builds the
figures around them."""

from __future__ import annotations

import numpy as np

from marketdash.domain.i18n import Translator

PAD = 0.04  # of the value axis's span, above and below the lines


def value_range(values: np.ndarray, reference: float | None, log_y: bool) -> tuple[float, float] | None:
    """The value axis's range (in log10 on a log axis): every drawn value and the reference line, padded."""
    if reference is not None and (reference > 0 or not log_y):
        values = np.append(values, reference)
    if not len(values):
        return None
    lo, hi = (np.log10(values.min()), np.log10(values.max())) if log_y else (values.min(), values.max())
    pad = (hi - lo) * PAD or (abs(hi) * PAD or 1.0)
    return float(lo - pad), float(hi + pad)


def log_ticks(tr: Translator, lo: float, hi: float) -> dict:
    """Round values within [lo, hi] on a log axis, 1, 2 and 5 of each decade (only 1 and 5, then only 1, when the
    axis spans many decades), labelled whole in the reader's number format."""
    decades = range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1)
    for steps in ((1, 2, 5), (1, 5), (1,)):
        vals = [s * 10.0**d for d in decades for s in steps if lo <= s * 10.0**d <= hi]
        if len(vals) <= 10:
            break
    if len(vals) < 2:  # a narrow range inside one decade: every whole step of it
        step = 10.0 ** np.floor(np.log10(hi - lo)) if hi > lo else 1.0
        vals = list(np.arange(np.ceil(lo / step) * step, hi + step / 2, step))[:10]
    text = [tr.number(v, 0 if v >= 10 or v == int(v) else max(0, int(-np.floor(np.log10(v))) + 1)) for v in vals]
    return {"tickvals": vals, "ticktext": text}


def money_ticks(tr: Translator, lo: float, hi: float, currency: str) -> dict:
    """Round amounts from the bottom of a linear money axis to its top, 4 to 8 of them (1, 2, 2.5 or 5 times a power
    of ten apart), each written as the reader writes money (1,500만 원 · 1억 원; 15.0M KRW)."""
    span = max(hi - lo, abs(hi) * 1e-6, 1e-9)
    magnitude = 10.0 ** np.floor(np.log10(span / 4))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if span / (m * magnitude) <= 8)
    vals = [float(v) for v in np.arange(np.ceil(lo / step) * step, hi + step * 1e-9, step)]
    return {"tickvals": vals, "ticktext": [tr.money(v, currency) for v in vals]}


LOG_MONEY_STEPS = (
    (1, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 5, 6, 8),
    (1, 2, 3, 5, 7),
    (1, 2, 5),
    (1, 5),
    (1,),
)


def log_money_ticks(tr: Translator, lo: float, hi: float, currency: str) -> dict:
    """Round amounts on a log money axis, as many as fit (4 to 8) up to its top (1,000만 · 2,000만 · 3,000만 ·
    4,000만 under 4,700만, not 1,000만 and 2,000만 alone), written as the reader writes money."""
    decades = range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1)
    for steps in LOG_MONEY_STEPS:
        vals = [s * 10.0**d for d in decades for s in steps if lo <= s * 10.0**d <= hi]
        if len(vals) <= 8:
            break
    return {"tickvals": vals, "ticktext": [tr.money(v, currency) for v in vals]}
