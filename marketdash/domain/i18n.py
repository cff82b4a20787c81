"""Every word the pages show, in Korean and English: one message catalog per language (`locales/ko.toml`,
`locales/en.toml`), the `Msg` that modules below the pages hand upward instead of a finished sentence, and the
`Translator` a page draws with.

A `Msg` is a catalog key with its parameters. Its `str()` is the English sentence (the command line, logs, the
`message` column of fetch_log); a page renders it in the reader's language. Parameters may be Msgs themselves
(a fallback's two failures), dates (written the language's way) or plain values (a source's own words, such as
KIS's Korean `msg1`, are shown as they came).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import string
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from marketdash.domain import catalog, formats

LANGS = ("ko", "en")
DEFAULT_LANG = "ko"
LOCALES = Path(__file__).resolve().parent / "locales"


@lru_cache(maxsize=len(LANGS))
def messages(lang: str) -> dict[str, str]:
    """The flat catalog of one language: `[chart] rebased = "…"` is the key `chart.rebased`."""
    with (LOCALES / f"{lang}.toml").open("rb") as fh:
        return dict(_flatten(tomllib.load(fh)))


def _flatten(table: Mapping[str, Any], prefix: str = ""):
    for key, value in table.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", str(value)


def placeholders(template: str) -> set[str]:
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name}


def language_of(tag: str | None) -> str:
    """A browser language tag (`ko-KR`, `en-US`) -> a language we have; Korean for anything else."""
    base = (tag or "").split("-")[0].split("_")[0].lower()
    return base if base in LANGS else DEFAULT_LANG


@dataclass(frozen=True)
class Msg:
    """A sentence not yet written in any language: a catalog key and its parameters."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return Translator("en").text(self)

    def map_text(self, change: Callable[[str], str]) -> Msg:
        """The same message with `change` applied to every text parameter (masking secrets before a message is
        shown, logged or stored)."""
        return Msg(self.key, {k: _map_text(v, change) for k, v in self.params.items()})

    def to_json(self) -> str:
        return json.dumps({"key": self.key, "params": _encode(self.params)}, ensure_ascii=False)

    @staticmethod
    def from_json(text: str | None) -> Msg | None:
        """A stored message (fetch_log.message_key, quote_errors.message_key); None for rows from before keys."""
        if not text:
            return None
        try:
            data = json.loads(text)
            return Msg(str(data["key"]), _decode(data.get("params", {})))
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class Name:
    """An asset's name inside a message, written in the reader's language (short, or `full` for help texts)."""

    asset_id: str
    full: bool = False


def _map_text(value: Any, change: Callable[[str], str]) -> Any:
    if isinstance(value, Msg):
        return value.map_text(change)
    if isinstance(value, Said):
        return Said(change(value.text), value.lang, value.prefix, value.suffix)
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list | tuple):
        return [_map_text(v, change) for v in value]
    return value


def stored(text: object, key: object) -> Msg | str | None:
    """A message the store keeps as its English text beside its key (`message`, `message_key`): the key's Msg, else
    the text (rows from before keys), else None."""
    found = Msg.from_json(key) if isinstance(key, str) else None
    if found is not None:
        return found
    return None if text is None or (isinstance(text, float) and math.isnan(text)) else str(text)


# Korean particles written for either ending ("이(가)"), chosen by the word before them: 현대차가, 삼성전자가, SOXL이.
# (after a final consonant, after none)
_PAIRS = {"이(가)": ("이", "가"), "을(를)": ("을", "를"), "은(는)": ("은", "는"), "와(과)": ("과", "와"),
          "과(와)": ("과", "와"), "(으)로": ("으로", "로"), "으로(로)": ("으로", "로")}  # fmt: skip
_JOSA = re.compile(r"([가-힣ㄱ-ㅣA-Za-z0-9])([)\]'\"’”`]*)(" + "|".join(re.escape(p) for p in _PAIRS) + ")")
# How a Latin letter or a digit ends when read aloud in Korean: L (엘), M (엠), N (엔), R (알); 0 (영), 1 (일),
# 3 (삼), 6 (육), 7 (칠), 8 (팔) end on a consonant. A lone consonant letter (초성 typed in the search, 'ㅎㄷㅊ') is
# read by its name, which ends on a consonant (치읓, 리을); a lone vowel letter (ㅏ, 아) on none.
_FINAL = {**dict.fromkeys("LMNR", True), **dict.fromkeys("013678", True)}


def _final_consonant(char: str) -> tuple[bool, bool]:
    """(the word ends on a consonant, that consonant is ㄹ) for the character before a particle."""
    code = ord(char) - 0xAC00
    if 0 <= code < 11172:
        final = code % 28
        return final != 0, final == 8
    if "ㄱ" <= char <= "ㅎ":
        return True, char == "ㄹ"
    upper = char.upper()
    return _FINAL.get(upper, False), upper in "LR1781"


def josa(text: str) -> str:
    """Every "이(가)"-style particle in Korean text settled by the word before it ((으)로 takes 로 after ㄹ)."""

    def choose(match: re.Match) -> str:
        word_end, closing, written = match.groups()  # the word's last letter, closing marks after it, the particle
        consonant, rieul = _final_consonant(word_end)
        after, plain = _PAIRS[written]
        if written in ("(으)로", "으로(로)"):
            particle = plain if not consonant or rieul else after
        else:
            particle = after if consonant else plain
        return word_end + closing + particle

    return _JOSA.sub(choose, text)


def msg(key: str, **params: Any) -> Msg:
    return Msg(key, params)


@dataclass(frozen=True)
class Said:
    """A source's own words in its own language (KIS's Korean `msg1`, an exchange's English error text): shown,
    after `prefix`, to readers of that language, and left out for the others, whom the sentence around it tells
    the same in theirs."""

    text: str
    lang: str
    prefix: str = ""
    suffix: str = ""

    def __str__(self) -> str:
        return Translator("en").text(Msg("said", {"said": self}))


def _encode(value: Any) -> Any:
    if isinstance(value, Msg):
        return {"$msg": value.key, "params": _encode(value.params)}
    if isinstance(value, Said):
        return {"$said": value.text, "lang": value.lang, "prefix": value.prefix, "suffix": value.suffix}
    if isinstance(value, Name):
        return {"$name": value.asset_id, "full": value.full}
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, Mapping):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    return str(value)


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "$msg" in value:
            return Msg(value["$msg"], _decode(value.get("params", {})))
        if "$name" in value:
            return Name(value["$name"], bool(value.get("full")))
        if "$said" in value:
            return Said(value["$said"], value.get("lang", "en"), value.get("prefix", ""), value.get("suffix", ""))
        if "$datetime" in value:
            return dt.datetime.fromisoformat(value["$datetime"])
        if "$date" in value:
            return dt.date.fromisoformat(value["$date"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


# An added symbol's unit (catalog.symbol_asset) -> its locale key under [unit].
_UNIT_KEYS = {"KRW per share": "krw_share", "KRW per unit": "krw_unit", "USD per share": "usd_share",
              "index points": "points", "exchange rate": "fx_rate", "%": "percent", "USD": "usd"}  # fmt: skip


@dataclass(frozen=True)
class Translator:
    """What a page writes with: catalog sentences, asset names, numbers, dates and market colours in one language.

    `colors` is the reader's market-colour choice (formats.COLOR_CHOICES); "auto" follows the language.
    """

    lang: str = DEFAULT_LANG
    colors: str = "auto"

    def __call__(self, key: str, **params: Any) -> str:
        return self.text(Msg(key, params))

    def text(self, message: Msg | str | None) -> str:
        """A Msg in this language; a plain string (a source's own words) as it came."""
        if message is None:
            return ""
        if not isinstance(message, Msg):
            return str(message)
        template = messages(self.lang).get(message.key)
        if template is None:  # a key only the other language has: a bug the catalog test catches
            template = messages("en").get(message.key, message.key)
        values = {k: self._param(v) for k, v in message.params.items()}
        text = template.format_map(values)
        return josa(text) if self.lang == "ko" else text

    def _param(self, value: Any) -> Any:
        if isinstance(value, Msg):
            return self.text(value)
        if isinstance(value, Said):
            return f"{value.prefix}{value.text}{value.suffix}" if value.text and value.lang == self.lang else ""
        if isinstance(value, Name):
            return self.full_name(value.asset_id) if value.full else self.name(value.asset_id)
        if isinstance(value, dt.datetime):
            return self.datetime(value)
        if isinstance(value, dt.date):
            return self.date(value)
        if isinstance(value, list | tuple):
            return self("list.joiner").join(str(self._param(v)) for v in value)
        return value

    # -- names, numbers, dates -----------------------------------------------------------------------------------
    def name(self, asset_id: str) -> str:
        """The asset's short name in this language (legends, cards, pickers)."""
        asset = catalog.get(asset_id)
        return asset.name_ko if self.lang == "ko" else asset.short

    def full_name(self, asset_id: str) -> str:
        """The long name for help texts: 금 선물 (COMEX) / Gold futures (COMEX)."""
        asset = catalog.get(asset_id)
        return asset.full_ko if self.lang == "ko" else asset.name_en

    def unit(self, asset_id: str) -> str:
        """What one price of the asset is in: 주당 원, 1 ETH당 원, 지수 포인트…"""
        asset = catalog.get(asset_id)
        if asset.fixed:
            return self(f"unit.{asset_id}")
        if asset.kind == "crypto":
            return self("unit.krw_coin", coin=asset.short)
        return self(f"unit.{_UNIT_KEYS.get(asset.unit, 'points')}")

    def date(self, day: dt.date | None) -> str:
        return "—" if day is None else formats.date_text(day, self.lang)

    def datetime(self, moment: dt.datetime) -> str:
        return f"{formats.date_text(moment, self.lang)} {moment:%H:%M:%S}"

    def month_day(self, day: dt.date) -> str:
        """A day of this week or next, without its year: 11.24 / 11-24."""
        return day.strftime(formats.MONTH_DAY[self.lang])

    def number(self, value: float | None, decimals: int = 2) -> str:
        if value is None or not math.isfinite(value):
            return "—"
        return f"{round(value, decimals) + 0.0:,.{decimals}f}"  # + 0.0: a rounded -0.001 is 0.00, never -0.00

    def pct(self, value: float | None, decimals: int = 2) -> str:
        """A signed percentage: +1.23%."""
        if value is None or not math.isfinite(value):
            return "—"
        return f"{round(value, decimals) + 0.0:+,.{decimals}f}%"

    def price(self, value: float, asset_id: str) -> str:
        """A card's price: won in 만/억/조 in Korean; index points as a number; dollars the language's way."""
        return self.price_format(asset_id)(value)

    def change_amount(self, value: float, asset_id: str) -> str:
        """A change of the asset's price in the units its price is written in (7,530만 원 beside 1억 원 prices)."""
        asset = catalog.get(asset_id)
        points = asset.kind == "domestic_index" or asset.unit in ("index points", "exchange rate")
        if asset.currency == "KRW" and self.lang == "ko" and not points:
            return formats.krw_change(value, asset.decimals)
        return self.price(value, asset_id)

    def price_format(self, asset_id: str) -> Callable[[float], str]:
        """`price` for one asset as a function of the value: a table column of thousands of bars formats with it
        without looking the asset and the words up for every cell."""
        asset = catalog.get(asset_id)
        d = asset.decimals
        if asset.kind == "domestic_index" or asset.unit in ("index points", "exchange rate"):
            return lambda v: self.number(v, d)
        if asset.currency == "KRW":  # won has no decimals on screen, but for a price under 100원 (a cheap coin)
            if self.lang == "ko":
                return lambda v: formats.krw_korean(v, formats.won_decimals(v, d))
            return lambda v: formats.compact_english(v, formats.won_decimals(v, d), "KRW")
        if asset.currency == "USD":
            template = messages(self.lang)["fmt.usd"]
            return lambda v: template.format(amount=self.number(v, min(d, 2)))
        return lambda v: f"{self.number(v, d)}{asset.currency}"  # a rate in %

    def money(self, value: float | None, currency: str) -> str:
        """An amount of money: won in 만/억/조 in Korean (to the won), dollars to the cent."""
        if value is None or not math.isfinite(value):
            return "—"
        if currency == "USD":
            return messages(self.lang)["fmt.usd"].format(amount=self.number(value, 2))
        # one unit through a table: 8,613만 원 beside 1억 2,613만 원, never 86,130,716원 beside it
        return formats.krw_change(value, 0) if self.lang == "ko" else formats.compact_english(value, 0, "KRW")

    # -- market colours ------------------------------------------------------------------------------------------
    @property
    def scheme(self) -> str:
        return formats.scheme_for(self.lang, self.colors)

    def change_color(self, value: float | None) -> str:
        return formats.change_color(value, self.scheme)

    def delta_color(self, value: float | None) -> str:
        return formats.metric_delta_color(value, self.scheme)

    # -- formats for widgets -------------------------------------------------------------------------------------
    @property
    def plot_date(self) -> str:
        return formats.PLOT_DATE[self.lang]

    @property
    def plot_ticks(self) -> list[dict] | None:
        return formats.PLOT_TICKS[self.lang]
