"""Numbers, dates and market colours as each language's readers expect them on screen (pure; CSV never uses this).

Korean readers write large won amounts in 만/억/조 (2억 4,798만 원), dates as 2026.11.24, and colour a rise red
and a fall blue (KRX, HTS and portal quote screens); English readers get 2026-11-24 and green/red.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal

MAN, EOK, JO = 10**4, 10**8, 10**12

# Market colours: (rising, falling). Streamlit's metric deltas take colour names, charts and tables take hex.
SCHEMES = {
    "red_up": {"up": "#d1242f", "down": "#1f5bd6", "metric_up": "red", "metric_down": "blue"},
    "green_up": {"up": "#1a7f37", "down": "#d1242f", "metric_up": "green", "metric_down": "red"},
}
COLOR_CHOICES = ("auto", "red_up", "green_up")  # auto: the language's convention
FLAT = "#6e7781"


def scheme_for(lang: str, choice: str = "auto") -> str:
    """The colour scheme in force: the user's choice, else rising red in Korean and rising green in English."""
    if choice in SCHEMES:
        return choice
    return "red_up" if lang == "ko" else "green_up"


def change_color(value: float | None, scheme: str) -> str:
    """Hex colour of a signed change (grey when flat or unknown)."""
    if value is None or not math.isfinite(value) or value == 0:
        return FLAT
    return SCHEMES[scheme]["up" if value > 0 else "down"]


def metric_delta_color(value: float | None, scheme: str) -> str:
    """st.metric's `delta_color` for a signed change: named colours, so Korean mode can show a fall in blue."""
    if value is None or not math.isfinite(value) or value == 0:
        return "gray"
    return SCHEMES[scheme]["metric_up" if value > 0 else "metric_down"]


def _half_up(value: float) -> int:
    """Round half away from zero (반올림), not Python's half-to-even."""
    return int(Decimal(str(float(value))).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def krw_korean(value: float, decimals: int = 0) -> str:
    """Won in Korean units: 126,847원 under 1억; 2억 4,798만 원 (to the nearest 만) from 1억; 1조 2,346억 원
    (to the nearest 억) from 1조. The unit is chosen after rounding, so 199,995,000 reads 2억 원."""
    if not math.isfinite(value):
        return "—"
    sign = "-" if value < 0 else ""
    amount = abs(value)
    plain = round(amount, decimals)
    if plain < EOK:
        text = f"{plain:,.{decimals}f}"
        return f"{sign if float(plain) else ''}{text}원"
    in_man = _half_up(amount / MAN)
    if in_man * MAN < JO:
        eok, man = divmod(in_man, EOK // MAN)
        return f"{sign}{eok:,}억" + (f" {man:,}만" if man else "") + " 원"
    in_eok = _half_up(amount / EOK)
    jo, eok = divmod(in_eok, JO // EOK)
    return f"{sign}{jo:,}조" + (f" {eok:,}억" if eok else "") + " 원"


def krw_change(value: float, decimals: int = 0) -> str:
    """A change of a won price, in the units a card writes the price in: 7,530만 원 from a million won up (beside a
    price of 1억 2,345만 원), 1억 2,000만 원 from 1억, plain won below (447원, 0.35원 for a cheap coin)."""
    if math.isfinite(value) and MAN * 100 <= abs(value) < EOK:
        return f"{'-' if value < 0 else ''}{_half_up(abs(value) / MAN):,}만 원"
    return krw_korean(value, won_decimals(value, decimals))


def won_decimals(value: float, decimals: int) -> int:
    """Decimals a won amount shows: none from 100원 up (6,199,800원, never 6,199,800.00원), the asset's own below
    (a coin priced at 0.42원)."""
    return decimals if math.isfinite(value) and abs(value) < 100 else 0


def compact_english(value: float, decimals: int, currency: str) -> str:
    """English card value: amounts of ten million and up in millions (248.0M KRW) so the card does not truncate."""
    if abs(value) >= 10_000_000:
        return f"{value / 1_000_000:,.1f}M {currency}"
    return f"{value:,.{decimals}f} {currency}"


DATE_FORMATS = {"ko": "%Y.%m.%d", "en": "%Y-%m-%d"}
MONTH_DAY = {"ko": "%m.%d", "en": "%m-%d"}
# The same for Plotly (d3 tokens).
PLOT_DATE = {"ko": "%Y.%m.%d", "en": "%Y-%m-%d"}
# Korean axes never show English month names: numeric ticks at every zoom level.
PLOT_TICKS = {
    "ko": [
        {"dtickrange": [None, 86_400_000], "value": "%m.%d %H:%M"},
        {"dtickrange": [86_400_000, 2_592_000_000], "value": "%m.%d"},
        {"dtickrange": [2_592_000_000, 31_536_000_000], "value": "%Y.%m"},
        {"dtickrange": [31_536_000_000, None], "value": "%Y"},
    ],
    "en": None,
}


def date_text(day: dt.date | dt.datetime, lang: str) -> str:
    return day.strftime(DATE_FORMATS.get(lang, DATE_FORMATS["en"]))
