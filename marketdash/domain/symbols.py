"""Every listed symbol a user can add: the KIS master files and Upbit's market list read into one table, and the
search over it (Korean or English name, code or ticker, 초성).

Parsers take the raw bytes of one list (`../shared/kis-masters.md`): fixed widths are bytes of cp949 text, so each
record is sliced as bytes and each field decoded on its own. A list that fails validation raises MasterError and
never replaces a stored one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from marketdash.domain import catalog
from marketdash.domain.i18n import Msg, msg

COLUMNS = ("id", "list", "code", "name_ko", "name_en", "market", "kind", "exchange", "symbol_class", "warnings")


class MasterError(ValueError):
    """A list that cannot replace the stored one (empty, wrong record length, not the format); `msg` says why."""

    def __init__(self, message: Msg) -> None:
        super().__init__(str(message))
        self.msg = message


def _text(raw: bytes) -> str:
    return raw.decode("cp949", errors="replace").strip()


def _records(data: bytes, width: int, name: str) -> list[bytes]:
    """The LF-terminated records of a fixed-width list, each exactly `width` bytes (a CR before the LF is dropped)."""
    lines = [line.removesuffix(b"\r") for line in data.split(b"\n")]
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise MasterError(msg("sym.empty", name=name))
    bad = [i + 1 for i, line in enumerate(lines) if len(line) != width]
    if bad:
        raise MasterError(msg("sym.bad_width", name=name, n=len(bad), first=bad[0], width=width))
    return lines


# -- KRX stocks, ETFs and ETNs ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class StockLayout:
    """Where a domestic stock master's fields sit in its tail (the bytes after the 61-byte head)."""

    name: str
    market: str
    tail: int
    etp: int | None  # 상품구분: 3/4 = ETN
    halted: int  # 거래정지
    liquidation: int  # 정리매매
    managed: int  # 관리종목
    warning: int  # 시장경고, 2 bytes


KOSPI = StockLayout("kospi", "KOSPI", 227, 22, 60, 61, 62, 63)
KOSDAQ = StockLayout("kosdaq", "KOSDAQ", 221, 18, 55, 56, 57, 58)
KONEX = StockLayout("konex", "KONEX", 184, None, 21, 22, 23, 24)
_GROUP_KIND = {"ST": "stock", "FS": "stock", "DR": "stock", "EF": "etf", "FE": "etf", "EN": "etn", "RT": "reit",
               "MF": "fund", "IF": "fund", "SC": "fund", "EW": "elw"}  # fmt: skip
_MARKET_WARNING = {"01": "caution", "02": "warning", "03": "danger"}


def group_kind(group: str) -> str:
    """A KRX 증권그룹 code (the masters' scrt_grp_cls_code, KIS stock information's scty_grp_id_cd: ST, EF, EN …) as
    a kind (stock, etf, etn …)."""
    return _GROUP_KIND.get(group.strip().upper(), "other")


def parse_stocks(data: bytes, layout: StockLayout) -> pd.DataFrame:
    """kospi_code.mst / kosdaq_code.mst / konex_code.mst -> symbols (ELWs left out: not a holding to compare)."""
    rows = []
    for rec in _records(data, 61 + layout.tail, layout.name):
        code, tail = _text(rec[0:9]), rec[61:]
        group = tail[0:2].decode("ascii", errors="replace")
        kind = group_kind(group)
        if layout.etp is not None and tail[layout.etp : layout.etp + 1] in (b"3", b"4"):
            kind = "etn"
        if kind == "elw" or not code:
            continue
        marks = (("halted", layout.halted), ("liquidation", layout.liquidation), ("managed", layout.managed))
        flags = [name for name, at in marks if tail[at : at + 1] == b"Y"]
        warning = _MARKET_WARNING.get(tail[layout.warning : layout.warning + 2].decode("ascii", errors="replace"))
        name = _text(rec[21:61])
        english = name if name.isascii() else f"KRX {code}"  # the lists have Korean names only
        rows.append(("krx:" + code, layout.name, code, name, english, layout.market, kind, "J", "",
                     " ".join([*flags, *([warning] if warning else [])])))  # fmt: skip
    return _frame(rows)


# -- KRX indices ------------------------------------------------------------------------------------------------
_INDEX_NAMES = {"0001": ("코스피", "KOSPI"), "1001": ("코스닥", "KOSDAQ"), "2001": ("코스피200", "KOSPI 200")}


def parse_indices(data: bytes) -> pd.DataFrame:
    """idxcode.mst -> KRX indices. The file's names are short (`종합`): the market is named in front of them."""
    rows = []
    for rec in _records(data, 45, "idxcode"):
        code, name = _text(rec[1:5]), _text(rec[5:45])
        if code in _INDEX_NAMES:
            ko, en = _INDEX_NAMES[code]
        else:
            market = {"0": "코스피 ", "1": "코스닥 "}.get(code[:1], "")
            ko = name if name.startswith(("코스", "KOSPI", "KOSDAQ", "KRX")) else market + name
            en = ko if ko.isascii() else f"KRX index {code}"
        rows.append(("kidx:" + code, "idx", code, ko, en, "KRX", "index", "U", "", ""))
    return _frame(rows)


# -- overseas indices, FX, commodities, rates -------------------------------------------------------------------
_CLASS_KIND = {"W": "index", "P": "index", "M": "index", "Q": "stock", "H": "stock", "D": "stock", "G": "stock",
               "F": "future", "X": "fx", "C": "commodity", "E": "commodity", "R": "rate", "L": "rate",
               "B": "rate"}  # fmt: skip
NOT_SERVED = "not_served"  # a list's flag for symbols KIS serves no prices of: shown in search, never added
DEAD_CLASSES = {"E"}  # commodities listed only under KIS's 금선물 market S, a dead feed (kis-api.md)
# frgn_code.mst's two swapped FX codes (catalog.SWAPPED_FX), named by the series each answers with.
FX_NAMES = {"FX@INR": ("인도네시아 루피아", "USD/IDR (Indonesian rupiah)"),
            "FX@IDR": ("인도 루피", "USD/INR (Indian rupee)")}  # fmt: skip


def parse_overseas(data: bytes) -> pd.DataFrame:
    """frgn_code.mst -> the overseas chart endpoint's symbols, with the class that picks their market code."""
    rows = []
    for rec in _records(data, 104, "frgn_code"):
        cls, code = _text(rec[0:1]), _text(rec[1:11])
        if not code:
            continue
        en, ko = _text(rec[11:50]), _text(rec[50:90])
        ko, en = FX_NAMES.get(code, (ko, en))
        flags = NOT_SERVED if cls in DEAD_CLASSES else ""
        rows.append(("ovs:" + code, "frgn", code, ko or en, en or ko, "OVERSEAS", _CLASS_KIND.get(cls, "other"),
                     catalog.OVERSEAS_MARKET.get(cls, "N"), cls, flags))  # fmt: skip
    return _frame(rows)


# -- US stocks and ETFs -----------------------------------------------------------------------------------------
_US_MARKETS = {"NAS": "NASDAQ", "NYS": "NYSE", "AMS": "AMEX"}
_US_KIND = {"2": "stock", "3": "etf"}
_ETP_KIND = {"002": "etn", "006": "etn"}


def parse_us(data: bytes, name: str) -> pd.DataFrame:
    """NASMST.COD / NYSMST.COD / AMSMST.COD: 24 tab-separated fields, no header; stocks and ETPs kept."""
    rows = []
    lines = [line.removesuffix(b"\r") for line in data.split(b"\n") if line.strip()]
    if not lines:
        raise MasterError(msg("sym.empty", name=name))
    bad = [i + 1 for i, line in enumerate(lines) if line.count(b"\t") != 23]
    if bad:
        raise MasterError(msg("sym.bad_fields", name=name, n=len(bad), first=bad[0]))
    for line in lines:
        f = [_text(part) for part in line.split(b"\t")]
        excd, symbol, kind = f[2].upper(), f[4].upper(), _US_KIND.get(f[8])
        if kind is None or not symbol or excd not in _US_MARKETS:
            continue
        kind = _ETP_KIND.get(f[22], kind) if kind == "etf" else kind
        rows.append(("us:" + symbol, name, symbol, f[6] or f[7], f[7] or f[6], _US_MARKETS[excd], kind, excd, "", ""))
    return _frame(rows)


# -- Upbit KRW coins --------------------------------------------------------------------------------------------
def parse_upbit(body: object) -> pd.DataFrame:
    """/v1/market/all?isDetails=true -> the KRW markets, with 유의 (warning) and 주의 (caution) flags."""
    if not isinstance(body, list) or not body:
        raise MasterError(msg("sym.empty", name="upbit"))
    rows = []
    for item in body:
        market = str(item.get("market", "")) if isinstance(item, dict) else ""
        if not market.startswith("KRW-"):
            continue
        event = item.get("market_event") or {}
        flags = ["upbit_warning"] if event.get("warning") else []
        if any((event.get("caution") or {}).values()):
            flags.append("upbit_caution")
        coin = market.removeprefix("KRW-")
        rows.append(("coin:" + coin, "upbit", coin, str(item.get("korean_name") or coin),
                     str(item.get("english_name") or coin), "UPBIT", "coin", "", "", " ".join(flags)))  # fmt: skip
    if not rows:
        raise MasterError(msg("sym.empty", name="upbit"))
    return _frame(rows)


def _frame(rows: Iterable[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=list(COLUMNS))
    return frame.drop_duplicates("id", keep="first").reset_index(drop=True)


@dataclass(frozen=True)
class MasterList:
    """One downloadable list: its name, its archive (None: Upbit's JSON) and its parser (of the archive's file, or
    of the parsed JSON)."""

    name: str
    archive: str | None
    parse: Callable[[Any], pd.DataFrame]


LISTS: tuple[MasterList, ...] = (
    MasterList("kospi", "kospi_code.mst.zip", lambda d: parse_stocks(d, KOSPI)),
    MasterList("kosdaq", "kosdaq_code.mst.zip", lambda d: parse_stocks(d, KOSDAQ)),
    MasterList("konex", "konex_code.mst.zip", lambda d: parse_stocks(d, KONEX)),
    MasterList("idx", "idxcode.mst.zip", parse_indices),
    MasterList("frgn", "frgn_code.mst.zip", parse_overseas),
    MasterList("nas", "nasmst.cod.zip", lambda d: parse_us(d, "nas")),
    MasterList("nys", "nysmst.cod.zip", lambda d: parse_us(d, "nys")),
    MasterList("ams", "amsmst.cod.zip", lambda d: parse_us(d, "ams")),
    MasterList("upbit", None, parse_upbit),
)
COLLAPSE = 0.5  # a new list with fewer than half the stored one's records is refused (a truncated download)


def check_count(name: str, new: int, stored: int) -> None:
    if stored and new < stored * COLLAPSE:
        raise MasterError(msg("sym.collapsed", name=name, new=new, stored=stored))


# -- resolving and searching ------------------------------------------------------------------------------------
def to_asset(row: pd.Series | dict) -> catalog.Asset:
    """A stored symbol as the catalog entry every layer reads (a catalog id's own entry for the seven)."""
    asset_id = catalog.canonical(row["id"])
    if asset_id in catalog.ASSETS:
        return catalog.ASSETS[asset_id]
    return catalog.symbol_asset(asset_id, row["name_ko"], row["name_en"], exchange=row["exchange"] or "",
                                symbol_class=row["symbol_class"] or "", kind=row["kind"])  # fmt: skip


_CHOSEONG = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_JAMO = re.compile(r"[ㄱ-ㅎ]")


def choseong(text: str) -> str:
    """The initial consonants of each Hangul syllable (`현대차` -> `ㅎㄷㅊ`); other characters as they are."""
    out = []
    for ch in text:
        code = ord(ch) - 0xAC00
        out.append(_CHOSEONG[code // 588] if 0 <= code < 11172 else ch)
    return "".join(out)


def _fold(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


# Among equal matches: KRX listings first (the users' home market), then US, coins, indices, overseas.
_LIST_RANK = {"kospi": 0, "kosdaq": 1, "konex": 2, "nas": 3, "nys": 3, "ams": 3, "upbit": 4, "idx": 5, "frgn": 6}


class SymbolIndex:
    """Search over every stored symbol (and the catalog's own entries): built once per set of lists, then each
    keystroke is a handful of vectorised string scans (numpy's string ufuncs), a few milliseconds on the whole
    universe (`bench/search.py`)."""

    def __init__(self, symbols: pd.DataFrame) -> None:
        own = pd.DataFrame([_own_row(a) for a in catalog.ASSETS.values() if a.compared], columns=list(COLUMNS))
        symbols = symbols.loc[:, list(COLUMNS)] if len(symbols) else symbols.reindex(columns=list(COLUMNS))
        frame = pd.concat([own, symbols], ignore_index=True)
        frame["id"] = frame["id"].map(catalog.canonical)
        self.frame = frame.drop_duplicates("id", keep="first").reset_index(drop=True)
        f = self.frame
        self._codes = np.array([_fold(c) for c in f["code"]], dtype=str)
        # "\t" + each name: a name that starts with the text contains "\t" + text
        names = ["\t" + _fold(a) + "\t" + _fold(b) for a, b in zip(f["name_ko"], f["name_en"], strict=True)]
        self._names = np.array(names, dtype=str)
        self._initials = np.array(["\t" + choseong(_fold(a)) for a in f["name_ko"]], dtype=str)
        self._lengths = np.strings.str_len(self._names)
        self._rank = np.array([_LIST_RANK.get(x, 0 if i < len(own) else 7) for i, x in enumerate(f["list"])])

    def __len__(self) -> int:
        return len(self.frame)

    def search(self, text: str, limit: int = 20) -> pd.DataFrame:
        """The best matches: the exact code first, then names and codes that start with the text, then those that
        contain it; 초성 text (`ㅎㄷㅊ`) matches the initials of Korean names."""
        query = _fold(text)
        if not query:
            return self.frame.iloc[0:0]
        if _JAMO.search(query):
            query = choseong(query)
            starts = np.strings.find(self._initials, "\t" + query) >= 0
            score = np.where(starts, 1, np.where(np.strings.find(self._initials, query) >= 0, 2, 9))
        else:
            starts = (np.strings.find(self._names, "\t" + query) >= 0) | np.strings.startswith(self._codes, query)
            contains = (np.strings.find(self._names, query) >= 0) | (np.strings.find(self._codes, query) >= 0)
            score = np.where(self._codes == query, 0, np.where(starts, 1, np.where(contains, 2, 9)))
        hits = np.flatnonzero(score < 9)
        order = np.lexsort((hits, self._lengths[hits], self._rank[hits], score[hits]))
        return self.frame.iloc[hits[order[:limit]]].reset_index(drop=True)


def _own_row(asset: catalog.Asset) -> tuple:
    kinds = {"domestic_index": "index", "domestic_stock": "stock", "overseas_stock": "etf", "crypto": "coin",
             "overseas_chart": "commodity"}  # fmt: skip
    market = {"domestic_index": "KRX", "domestic_stock": "KOSPI", "overseas_stock": "AMEX", "crypto": "UPBIT",
              "overseas_chart": "OVERSEAS"}[asset.kind]  # fmt: skip
    return (asset.id, "", asset.code.removeprefix("KRW-"), asset.name_ko, asset.name_en, market, kinds[asset.kind],
            asset.market_code, "", "")  # fmt: skip
