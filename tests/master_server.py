"""KIS master files built from their documented layout (`../shared/kis-masters.md`), and a local server for them.

Records are written as bytes: cp949 names padded to their byte width, LF after every record, the US lists as 24
tab-separated fields without a header, each file alone in a zip whose member carries the content date. The server
answers `GET /<archive>` like the real download host (no key), with faults on demand.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import zipfile
from dataclasses import dataclass, field

from tests.local_server import LocalServer, QuietHandler

AS_OF = dt.date(2026, 11, 27)


def _field(text: str, width: int) -> bytes:
    raw = text.encode("cp949")
    assert len(raw) <= width, (text, width)
    return raw + b" " * (width - len(raw))


def _put(tail: bytearray, at: int, value: str) -> None:
    tail[at : at + len(value)] = value.encode("ascii")


def stock_record(
    code: str,
    name: str,
    *,
    market: str = "kospi",
    group: str = "ST",
    etp: str = " ",
    halted: bool = False,
    managed: bool = False,
    warning: str = "00",
) -> bytes:
    """One kospi_code.mst (288 bytes) or kosdaq_code.mst (282 bytes) record."""
    kospi = market == "kospi"
    tail = bytearray(b"N" * (227 if kospi else 221))
    _put(tail, 0, group)
    _put(tail, 2, "1")
    _put(tail, 3, "0027    0000")  # 지수업종 대/중/소분류
    _put(tail, 22 if kospi else 18, etp)
    base = 41 if kospi else 36  # 기준가 onwards: the KOSDAQ tail is the KOSPI one moved 5 bytes back
    _put(tail, base, "000071000")
    _put(tail, base + 9, "00001000010")
    _put(tail, base + 19, "Y" if halted else "N")
    _put(tail, base + 21, "Y" if managed else "N")
    _put(tail, base + 22, warning)
    _put(tail, base + 64, "20000101")  # 상장일자
    isin = ("KR7" + code.ljust(6, "0")[:6] + "003")[:12]
    return _field(code, 9) + _field(isin, 12) + _field(name, 40) + bytes(tail)


def konex_record(code: str, name: str, halted: bool = False) -> bytes:
    """One konex_code.mst record: the same head and a 184-byte tail (group, 기준가, units, then 거래정지 at 21)."""
    tail = bytearray(b"N" * 184)
    _put(tail, 0, "ST")
    _put(tail, 2, "000012000")
    _put(tail, 21, "Y" if halted else "N")
    _put(tail, 24, "00")
    return _field(code, 9) + _field(("KR7" + code + "008")[:12], 12) + _field(name, 40) + bytes(tail)


def index_record(code: str, name: str) -> bytes:
    """One idxcode.mst record (45 bytes): division digit, 4-digit code, name."""
    return _field(code[0] + code, 5) + _field(name, 40)


def overseas_record(
    cls: str, symbol: str, name_en: str, name_ko: str, exchange: str = "NYS", country: str = "USA"
) -> bytes:
    """One frgn_code.mst record (104 bytes)."""
    return (_field(cls, 1) + _field(symbol, 10) + _field(name_en, 39) + _field(name_ko, 40) + _field("0000", 4)
            + b"000" + _field(exchange, 4) + _field(country, 3))  # fmt: skip


def us_line(excd: str, symbol: str, name_ko: str, name_en: str, kind: str = "2", etp: str = "") -> bytes:
    """One NASMST/NYSMST/AMSMST.COD record: 24 tab-separated fields."""
    ids = {"NAS": "22", "NYS": "21", "AMS": "29"}
    names = {"NAS": "나스닥", "NYS": "뉴욕", "AMS": "아멕스"}
    fields = ["US", ids[excd], excd, names[excd], symbol, excd + symbol, name_ko, name_en, kind, "USD", "4", "1",
              "100.0000", "1", "1", "0930", "1600", "N", "", "0000", "0", "1", etp, ""]  # fmt: skip
    return "\t".join(fields).encode("cp949")


KOSPI_ROWS = [
    stock_record("005930", "삼성전자"),
    stock_record("000660", "SK하이닉스"),
    stock_record("005380", "현대차"),
    stock_record("000270", "기아"),
    stock_record("069500", "KODEX 200", group="EF", etp="2"),
    stock_record("122630", "KODEX 레버리지", group="EF", etp="2"),
    stock_record("Q520086", "미래에셋-0.5X S&P500 VIX S/T선물 ETN(H)B", group="EN", etp="3"),
    stock_record("001440", "대한전선", warning="02"),
    stock_record("900110", "이스트아시아홀딩스", halted=True, managed=True),
    stock_record("58J001", "한국J001삼성전자콜", group="EW"),  # an ELW: not offered
]
KOSDAQ_ROWS = [
    stock_record("086520", "에코프로", market="kosdaq"),
    stock_record("196170", "알테오젠", market="kosdaq"),
    stock_record("247540", "에코프로비엠", market="kosdaq", warning="01"),
]
INDEX_ROWS = [index_record("0001", "종합"), index_record("1001", "코스닥"), index_record("2001", "KOSPI200"),
              index_record("0013", "전기전자")]  # fmt: skip
OVERSEAS_ROWS = [
    overseas_record("P", "SPX", "S&P 500 INDEX", "S&P 500"),
    overseas_record("P", "COMP", "NASDAQ COMPOSITE", "나스닥 종합"),
    overseas_record("P", "SOX", "PHLX SEMICONDUCTOR", "필라델피아 반도체"),
    overseas_record("W", "JP#NI225", "NIKKEI 225", "니케이225", "TSE", "JPN"),
    overseas_record("X", "FX@KRW", "USD/KRW", "원/달러"),
    overseas_record("X", "FX@JPY", "USD/JPY", "엔/달러"),
    overseas_record("C", "NYGOLD", "NY GOLD", "뉴욕 금"),
    overseas_record("C", "NYSILV", "NY SILVER", "뉴욕 은"),
    overseas_record("B", "Y0202", "US 10 YEAR", "미국 10년 국채"),
    overseas_record("C", "XAUUSDCOMP", "GOLD SPOT COMPOSITE", "금 현물"),
    # the pair frgn_code.mst names for each other's series: Korean names follow the values, the codes do not
    overseas_record("X", "FX@INR", "INDIA RUPEE", "인도네시아 루피아"),
    overseas_record("X", "FX@IDR", "INDONESIA RUPIAH", "인도 루피"),
    # commodities listed only under the dead market S (class E): never served
    overseas_record("E", "PLATINUM", "PLATINUM", "백금"),
    overseas_record("E", "SUGAR", "SUGAR NO.11", "설탕"),
]
US_ROWS = {
    "NAS": [us_line("NAS", "NVDA", "엔비디아", "NVIDIA CORP"), us_line("NAS", "AAPL", "애플", "APPLE INC"),
            us_line("NAS", "TQQQ", "프로셰어즈 울트라프로 QQQ", "PROSHARES ULTRAPRO QQQ", "3", "001")],
    "NYS": [us_line("NYS", "KO", "코카콜라", "COCA-COLA CO")],
    "AMS": [us_line("AMS", "SOXL", "디렉시온 데일리 반도체 불 3X", "DIREXION DAILY SEMICONDUCTOR BULL 3X", "3", "001"),
            us_line("AMS", "SPY", "SPDR S&P 500", "SPDR S&P 500 ETF TRUST", "3", "001")],
}  # fmt: skip


def master_file(records: list[bytes], crlf: bool = False) -> bytes:
    end = b"\r\n" if crlf else b"\n"
    return b"".join(r + end for r in records)


def zipped(member: str, content: bytes, as_of: dt.date = AS_OF) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo(member, date_time=(as_of.year, as_of.month, as_of.day, 6, 30, 0)), content)
    return buffer.getvalue()


def default_files(as_of: dt.date = AS_OF) -> dict[str, bytes]:
    """Every master archive the app reads, small but in the real format."""
    return {
        "kospi_code.mst.zip": zipped("kospi_code.mst", master_file(KOSPI_ROWS), as_of),
        "kosdaq_code.mst.zip": zipped("kosdaq_code.mst", master_file(KOSDAQ_ROWS), as_of),
        "konex_code.mst.zip": zipped("konex_code.mst", master_file([konex_record("278990", "엠에프엠코리아")]), as_of),
        "idxcode.mst.zip": zipped("idxcode.mst", master_file(INDEX_ROWS), as_of),
        "frgn_code.mst.zip": zipped("frgn_code.mst", master_file(OVERSEAS_ROWS), as_of),
        "nasmst.cod.zip": zipped("NASMST.COD", master_file(US_ROWS["NAS"], crlf=True), as_of),
        "nysmst.cod.zip": zipped("NYSMST.COD", master_file(US_ROWS["NYS"]), as_of),
        "amsmst.cod.zip": zipped("AMSMST.COD", master_file(US_ROWS["AMS"]), as_of),
    }


@dataclass
class MasterServer(LocalServer):
    files: dict[str, bytes] = field(default_factory=default_files)
    calls: list = field(default_factory=list)  # archive names asked for

    def start(self) -> MasterServer:
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                name = self.path.lstrip("/").split("?")[0].rsplit("/", 1)[-1]
                server.calls.append(name)
                body = server.files.get(name)
                if body is None:
                    self.send_body(404, b"<html><body>404 Not Found</body></html>", "text/html")
                else:
                    self.send_body(200, body, "application/x-zip-compressed")

        self.serve(Handler)
        return self


# -- a universe of the real size, for the search benchmark ------------------------------------------------------
_SYLLABLES = "가나다라마바사아자차카타파하삼성현대기아엘지에스케이한화롯데신세계포스코카카오네이버셀트리온"


def _korean_name(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 7)))


def _ticker(i: int, prefix: str = "") -> str:
    """A distinct ticker for each number: A, B, …, Z, BA, BB, …"""
    out = ""
    while True:
        i, digit = divmod(i, 26)
        out = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[digit] + out
        if not i:
            return prefix + out


def universe_files(seed: int = 7, krx: int = 2500, overseas: int = 13000, us: int = 12800) -> dict[str, bytes]:
    """Generated lists of the real sizes (about 2,500 KRX, 13,000 overseas, 12,800 US records)."""
    rng = random.Random(seed)
    kospi = [stock_record(f"{i:06d}", _korean_name(rng), group=rng.choice(("ST", "ST", "EF"))) for i in range(krx)]
    frgn = [overseas_record(rng.choice("WPCXBF"), _ticker(i, "X"), f"INDEX {_ticker(i)}", _korean_name(rng))
            for i in range(overseas)]  # fmt: skip
    nas = [us_line("NAS", _ticker(i), _korean_name(rng), f"{_ticker(i)} HOLDINGS INC") for i in range(us)]
    files = default_files()
    files.update({
        "kospi_code.mst.zip": zipped("kospi_code.mst", master_file([*KOSPI_ROWS, *kospi])),
        "frgn_code.mst.zip": zipped("frgn_code.mst", master_file([*OVERSEAS_ROWS, *frgn])),
        "nasmst.cod.zip": zipped("NASMST.COD", master_file([*US_ROWS["NAS"], *nas])),
    })  # fmt: skip
    return files
