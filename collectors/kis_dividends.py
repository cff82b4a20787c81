"""KIS's dividend records (shared/kis-dividends.md), on the KIS collector's token, rate budget and HTTP client.

- KRX: 예탁원정보(배당일정) `HHKDB669102C0`, one call per asset for any window: record date, gross cash amount per
  share in won, pay date, kind and share class; no ex-date (the service derives it by the T+2 rule).
- US: 기간별권리조회 `CTRGT011R` (types 03 배당 and 75 특별배당, by local record date) gives the amount; 권리종합
  `HHDFS78330900` gives the ex-date (`div_lock_dt`) and pay date; the two are joined on the record date.

The traps, each handled where the rows are read: the array under `output1` or `output` (or one object instead of
an array), zero-padded amounts, `YYYY/MM/DD` pay dates, `0` with a blank pay date for an amount not fixed yet (left
out, asked again on a later day), other codes and share classes in an answer (`005935` rows for `005930`, `QQQM`
for `QQQ`), the same rows again on a repeated page, `dfnt_yn=N` (the amount may still change), and rights-by-ice
windowing on the announcement date (its window is widened backwards). All three TRs are real-account only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

from collectors.errors import BadResponseError, RealAccountOnlyError
from collectors.kis import KisCollector
from marketdash.domain import calendars
from marketdash.domain.catalog import Asset
from marketdash.domain.i18n import msg
from marketdash.domain.records import Dividend, MalformedValueError, parse_decimal, parse_yyyymmdd

SOURCE = "kis"
DOMESTIC = ("/uapi/domestic-stock/v1/ksdinfo/dividend", "HHKDB669102C0")
PERIOD_RIGHTS = ("/uapi/overseas-price/v1/quotations/period-rights", "CTRGT011R")
RIGHTS_ICE = ("/uapi/overseas-price/v1/quotations/rights-by-ice", "HHDFS78330900")
MAX_PAGES = 20  # a bound on continued pages; a page that adds nothing new also ends the walk
MORE = ("M", "F")  # a reply's tr_cont header when another page follows
DOMESTIC_KINDS = {"결산": "final", "중간": "interim", "분기": "quarterly"}
US_TYPES = {"03": "cash", "75": "special"}  # 74 (배당옵션, a choice of shares) is not cash
ANNOUNCED_BEFORE = dt.timedelta(days=180)  # rights-by-ice filters on the announcement date: reach back this far
US_T1 = dt.date(2024, 5, 28)  # from this record date the US ex-date is the record date itself (T+1 settlement)


def _text(row: dict, field: str) -> str:
    return str(row.get(field) or "").strip()


def _day(row: dict, field: str) -> dt.date | None:
    """A date field as KIS writes it (`20250417`, or `2025/04/17` for pay dates); None when blank."""
    text = _text(row, field).replace("/", "").replace("-", "")
    return parse_yyyymmdd(text, field) if text else None


def _rows(body: dict, *keys: str) -> list[dict]:
    """The body's array under the first of `keys` it has; one object instead of an array is one row."""
    for key in keys:
        value = body.get(key)
        if isinstance(value, dict):
            return [value] if value else []
        if isinstance(value, list):
            return [r for r in value if isinstance(r, dict) and r]
    return []


def _share_class_fits(code: str, stk_kind: str) -> bool:
    """A KRX common share's code ends in 0 (preferred ones in 5, 7, 9 or a letter): a row of the other class is
    another share's dividend, whatever code it carries."""
    if "우선" in stk_kind:
        return not code.endswith("0")
    if "보통" in stk_kind:
        return code.endswith("0")
    return True


def domestic_dividends(asset: Asset, rows: list[dict]) -> list[Dividend]:
    """`HHKDB669102C0` rows -> the asset's cash dividends: its exact code and share class only, amounts of 0 (not
    fixed yet, or a stock dividend) left out, one row per (record date, kind)."""
    out: dict[tuple[dt.date, str], Dividend] = {}
    for row in rows:
        if _text(row, "sht_cd") != asset.code or not _share_class_fits(asset.code, _text(row, "stk_kind")):
            continue
        amount = parse_decimal(row.get("per_sto_divi_amt"), "per_sto_divi_amt", required=False) or 0.0
        if amount <= 0:
            continue
        record, pay = parse_yyyymmdd(_text(row, "record_date"), "record_date"), _day(row, "divi_pay_dt")
        kind = DOMESTIC_KINDS.get(_text(row, "divi_kind"), _text(row, "divi_kind") or "cash")
        out[(record, kind)] = Dividend(asset.id, record, None, pay, amount, "KRW", kind, pay is not None, SOURCE)
    return list(out.values())


def _leg(row: dict, currency: str) -> tuple[float, str]:
    """The amount per share and its currency: the leg paid in the asset's currency, else the first with an amount
    (a payout may come in up to four currencies: crcy_cd, crcy_cd2..4)."""
    legs = [(_text(row, "crcy_cd"), row.get("alct_frcr_unpr"), "alct_frcr_unpr")]
    for i in (2, 3, 4):
        legs.append((_text(row, f"crcy_cd{i}"), row.get(f"stkp_dvdn_frcr_amt{i}"), f"stkp_dvdn_frcr_amt{i}"))
    paid = [(parse_decimal(raw, field, required=False) or 0.0, ccy) for ccy, raw, field in legs if ccy]
    paid = [(amount, ccy) for amount, ccy in paid if amount > 0]
    return next((leg for leg in paid if leg[1] == currency), paid[0] if paid else (0.0, currency))


def us_ex_date(record: dt.date) -> dt.date | None:
    """The US ex-date when the source gives none: the record date under T+1 (from 2024-05-28), the session before
    it under T+2; None where the calendar does not reach."""
    if record >= US_T1:
        return record
    before = calendars.sessions("XNYS", record - dt.timedelta(days=10), record - dt.timedelta(days=1))
    return before[-1].date() if len(before) else None


def us_dividends(asset: Asset, rights: list[dict], ice: list[dict]) -> list[Dividend]:
    """`CTRGT011R` rows (amounts) joined with `HHDFS78330900` rows (dates) on the record date -> the asset's cash
    dividends. Rows of other symbols (PDNO matches as a prefix) and other rights are left out. Fixed only when KIS
    says the amount is (`dfnt_yn` Y) and ICE gave its dates; else the ex-date follows the US rule and it is asked
    again on a later day."""
    dates: dict[dt.date, tuple[dt.date | None, dt.date | None]] = {}
    for row in ice:
        record, ex = _day(row, "record_dt"), _day(row, "div_lock_dt")
        if record is not None and (ex is not None or record not in dates):
            dates[record] = (ex, _day(row, "pay_dt"))
    out: dict[tuple[dt.date, str], Dividend] = {}
    for row in rights:
        kind = US_TYPES.get(_text(row, "rght_type_cd"))
        if _text(row, "pdno") != asset.code or kind is None:
            continue
        record = _day(row, "acpl_bass_dt") or _day(row, "bass_dt")
        amount, currency = _leg(row, asset.currency)
        if record is None or amount <= 0:
            continue
        ex, pay = dates.get(record, (None, None))
        fixed = _text(row, "dfnt_yn") == "Y" and ex is not None and pay is not None
        out[(record, kind)] = Dividend(asset.id, record, ex or us_ex_date(record), pay, amount, currency, kind, fixed,
                                       SOURCE)  # fmt: skip
    return list(out.values())


class KisDividends:
    """One asset's dividends over a window of record dates; KRX and US listed shares and funds only."""

    source = SOURCE

    def __init__(self, kis: KisCollector, *, paper: bool = False) -> None:
        self.kis = kis
        self.paper = paper

    def __repr__(self) -> str:
        return f"KisDividends({self.kis!r}, paper={self.paper})"

    def dividends(self, asset: Asset, start: dt.date, end: dt.date) -> list[Dividend]:
        """The cash dividends with a record date in [start, end] as KIS has them now. A paper key never asks:
        KIS serves these records to real accounts only."""
        if self.paper:
            raise RealAccountOnlyError(msg("err.kis_dividends_paper"))
        try:
            if asset.kind == "domestic_stock":
                rows = list(self._domestic_pages(asset, start, end))
                return domestic_dividends(asset, rows)
            if asset.kind == "overseas_stock":
                rights = [r for code in US_TYPES for r in self._rights_pages(asset, code, start, end)]
                return us_dividends(asset, rights, self._ice(asset, start, end) if rights else [])
        except MalformedValueError as exc:
            raise BadResponseError(msg("err.kis_malformed_row", code=asset.code, detail=exc.msg)) from None
        return []

    def _walk(
        self, endpoint: tuple[str, str], asset: Asset, params: Callable[[dict], dict], *keys: str
    ) -> Iterator[dict]:
        """Rows of every page: the next page is asked for while the reply's tr_cont says more and a page brings
        rows not seen yet (a repeated page ends the walk; its rows are duplicates)."""
        seen: set[tuple] = set()
        body, cont = {}, ""
        for _ in range(MAX_PAGES):
            body, headers = self.kis.exchange(*endpoint, params(body), asset, tr_cont=cont)
            fresh = [r for r in _rows(body, *keys) if tuple(sorted(r.items())) not in seen]
            seen.update(tuple(sorted(r.items())) for r in fresh)
            yield from fresh
            if str(headers.get("tr_cont", "")).strip() not in MORE or not fresh:
                return
            cont = "N"

    def _domestic_pages(self, asset: Asset, start: dt.date, end: dt.date) -> Iterator[dict]:
        def params(last: dict) -> dict:
            return {"CTS": _text(last, "cts"), "GB1": "0", "F_DT": f"{start:%Y%m%d}", "T_DT": f"{end:%Y%m%d}",
                    "SHT_CD": asset.code, "HIGH_GB": ""}  # fmt: skip

        return self._walk(DOMESTIC, asset, params, "output1", "output")

    def _rights_pages(self, asset: Asset, code: str, start: dt.date, end: dt.date) -> Iterator[dict]:
        def params(last: dict) -> dict:
            return {"RGHT_TYPE_CD": code, "INQR_DVSN_CD": "02", "INQR_STRT_DT": f"{start:%Y%m%d}",
                    "INQR_END_DT": f"{end:%Y%m%d}", "PDNO": asset.code, "PRDT_TYPE_CD": "",
                    "CTX_AREA_NK50": _text(last, "ctx_area_nk50"),
                    "CTX_AREA_FK50": _text(last, "ctx_area_fk50")}  # fmt: skip

        return self._walk(PERIOD_RIGHTS, asset, params, "output", "output1")

    def _ice(self, asset: Asset, start: dt.date, end: dt.date) -> list[dict]:
        params = {"NCOD": "US", "SYMB": asset.code, "ST_YMD": f"{start - ANNOUNCED_BEFORE:%Y%m%d}",
                  "ED_YMD": f"{end:%Y%m%d}"}  # fmt: skip
        return _rows(self.kis.call(*RIGHTS_ICE, params, asset), "output1", "output")
