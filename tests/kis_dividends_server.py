"""The three dividend TRs of the local KIS server (tests/kis_server.py), as shared/kis-dividends.md documents them,
with the traps others logged from the real ones:

- 예탁원정보(배당일정) `HHKDB669102C0`: `output1` (or `output`, per server), filtered by record date, amounts
  zero-padded (`000000000361`), pay dates `YYYY/MM/DD`, an amount not fixed yet as `0` with a blank pay date, the
  preferred share's rows (`005935`, 우선) in the common share's answer, and (per server) a reply saying "more"
  (tr_cont M) whose next page repeats the same rows.
- 기간별권리조회 `CTRGT011R`: `output` by local record date and right type, `PDNO` matching as a prefix (`QQQ`
  answers `QQQM` too), pages of `page_rows` rows continued by tr_cont M and ctx_area_nk50/fk50 (each next page
  starting with the last row of the page before, as repeated rows), `dfnt_yn` N for amounts not confirmed.
- 권리종합 `HHDFS78330900`: `output1`, the window on the announcement date, dates only (no amount), other rights
  (a split) among the dividends.
- The paper host (`paper_host`) refuses all three: HTTP 500, rt_cd 1, "모의투자 TR  이 아닙니다." and no code.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

REAL_ONLY = {"ksd_dividend", "period_rights", "rights_ice"}
PATHS = {
    "/uapi/domestic-stock/v1/ksdinfo/dividend": ("ksd_dividend", "HHKDB669102C0", 0),
    "/uapi/overseas-price/v1/quotations/period-rights": ("period_rights", "CTRGT011R", 0),
    "/uapi/overseas-price/v1/quotations/rights-by-ice": ("rights_ice", "HHDFS78330900", 0),
}
OK = {"rt_cd": "0", "msg_cd": "KIOK0000", "msg1": "정상처리 되었습니다."}
PAPER_REFUSAL = {"rt_cd": "1", "msg1": "모의투자 TR  이 아닙니다."}


@dataclass(frozen=True)
class Payout:
    """One dividend as the server's records hold it. `amount` is the wire string (zero-padded for KRX, "0" when not
    fixed); `code` the row's own code (sht_cd / pdno); `kind` 결산/중간/분기 (KRX) or 03/75 (US)."""

    code: str
    record: dt.date
    amount: str
    pay: dt.date | None
    kind: str = "분기"
    stk_kind: str = "보통"
    currency: str = "USD"
    ex: dt.date | None = None  # US: div_lock_dt
    announced: dt.date | None = None  # US: anno_dt
    confirmed: bool = True  # US: dfnt_yn


def _ymd(day: dt.date | None, sep: str = "") -> str:
    return "" if day is None else day.strftime(f"%Y{sep}%m{sep}%d")


def _weekday_on_or_after(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


NAMES = {"005930": "삼성전자", "005935": "삼성전자우", "000660": "SK하이닉스"}
SAMSUNG = (("005930", "보통"), ("005935", "우선"))  # the preferred share pays beside the common one


def krx_quarterly(first_year: int, today: dt.date, amount: int = 361, shares: tuple = SAMSUNG) -> list[Payout]:
    """Quarterly dividends at the quarter ends (삼성전자's 361원 by default), `amount` won each, paid about seven
    weeks later (the year-end one in April), for each of `shares` (code, class); the quarter whose pay date has
    not come yet is announced but not fixed ("0", no pay date)."""
    out = []
    for year in range(first_year, today.year + 1):
        for month, day in ((3, 31), (6, 30), (9, 30), (12, 31)):
            record = dt.date(year, month, day)
            if record > today:
                break
            pay = _weekday_on_or_after(dt.date(year + 1, 4, 17) if month == 12 else record + dt.timedelta(days=47))
            kind = "결산" if month == 12 else "분기"
            fixed = pay <= today
            for code, stk in shares:
                wire = f"{amount:012d}" if fixed else "0"
                out.append(Payout(code, record, wire, pay if fixed else None, kind, stk, "KRW"))
    return out


def soxl(first_year: int, today: dt.date, us_sessions: list[dt.date]) -> list[Payout]:
    """SOXL's quarterly distributions in USD (cents, five decimals as KIS writes them), record date the Tuesday
    before the last week of Mar/Jun/Sep/Dec: ex-date the session before it under T+2, the record date itself from
    2024-05-28 (T+1); paid a week later; announced a week before the ex-date; the newest not confirmed yet."""
    sessions = sorted(us_sessions)
    out = []
    for year in range(first_year, today.year + 1):
        for i, month in enumerate((3, 6, 9, 12)):
            record = dt.date(year, month, 20)
            while record.weekday() != 1:
                record -= dt.timedelta(days=1)
            if record > today:
                break
            before = [d for d in sessions if d < record]
            ex = record if record >= dt.date(2024, 5, 28) else (before[-1] if before else record)
            amount = f"{0.00731 + 0.00457 * ((year * 4 + i) % 5):.5f}"
            confirmed = record + dt.timedelta(days=7) <= today
            out.append(Payout("SOXL", record, amount, record + dt.timedelta(days=7), "03", currency="USD", ex=ex,
                              announced=ex - dt.timedelta(days=7), confirmed=confirmed))  # fmt: skip
    return out


def qqq(today: dt.date) -> list[Payout]:
    """QQQ and QQQM, whose ticker starts with QQQ's, paying on the same days: a query for QQQ answers both."""
    out = []
    for code, amount in (("QQQ", "0.67686"), ("QQQM", "0.27720")):
        record = dt.date(2025, 9, 22)
        out.append(Payout(code, record, amount, dt.date(2025, 9, 30), "03", ex=record, announced=dt.date(2025, 9, 15)))
    return [p for p in out if p.record <= today]


def answer(server: object, kind: str, params: dict, headers: dict) -> tuple[int, dict, dict]:
    """The reply of one dividend TR: (status, body, headers)."""
    if server.paper_host:
        return 500, PAPER_REFUSAL, {}
    if kind == "ksd_dividend":
        return _ksd(server, params, headers)
    if kind == "period_rights":
        return _period_rights(server, params)
    return _rights_ice(server, params)


def _ksd(server: object, params: dict, headers: dict) -> tuple[int, dict, dict]:
    code, lo, hi = params.get("SHT_CD", "").strip(), params.get("F_DT", ""), params.get("T_DT", "")
    rows = [
        {"record_date": _ymd(p.record), "sht_cd": p.code, "isin_name": NAMES.get(p.code, p.code),
         "divi_kind": p.kind, "face_val": "100", "per_sto_divi_amt": p.amount,
         "divi_rate": f"{int(p.amount) / 100 * 100:.2f}", "stk_divi_rate": "0", "divi_pay_dt": _ymd(p.pay, "/"),
         "stk_div_pay_dt": "", "odd_pay_dt": "", "stk_kind": p.stk_kind, "high_divi_gb": "N"}
        for p in server.payouts
        if p.currency == "KRW" and (not code or p.code[:5] == code[:5]) and lo <= _ymd(p.record) <= hi
    ]  # fmt: skip
    more = server.ksd_repeat_pages and headers.get("tr_cont", "") != "N"  # "more", then the same rows again
    body = {**OK, server.ksd_key: rows[0] if server.ksd_single_object and len(rows) == 1 else rows}
    return 200, body, {"tr_cont": "M" if more else "D"}


def _period_rights(server: object, params: dict) -> tuple[int, dict, dict]:
    wanted, pdno = params.get("RGHT_TYPE_CD", ""), params.get("PDNO", "").strip()
    lo, hi = params.get("INQR_STRT_DT", ""), params.get("INQR_END_DT", "")
    if params.get("INQR_DVSN_CD") != "02":
        return 200, {**OK, "ctx_area_nk50": "", "ctx_area_fk50": "", "output": []}, {"tr_cont": "D"}
    rows = [
        {"bass_dt": _ymd(p.record), "rght_type_cd": p.kind, "pdno": p.code, "prdt_name": p.code,
         "prdt_type_cd": "529", "std_pdno": f"US{p.code:0>9}0", "acpl_bass_dt": _ymd(p.record), "sbsc_strt_dt": "",
         "sbsc_end_dt": "", "cash_alct_rt": "0", "stck_alct_rt": "0", "crcy_cd": p.currency, "crcy_cd2": "",
         "crcy_cd3": "", "crcy_cd4": "", "alct_frcr_unpr": p.amount, "stkp_dvdn_frcr_amt2": "0",
         "stkp_dvdn_frcr_amt3": "0", "stkp_dvdn_frcr_amt4": "0", "dfnt_yn": "Y" if p.confirmed else "N"}
        for p in server.payouts
        if p.currency != "KRW" and p.code.startswith(pdno) and wanted in ("%%", p.kind) and lo <= _ymd(p.record) <= hi
    ]  # fmt: skip
    start = int(params.get("CTX_AREA_NK50") or 0)
    size = server.page_rows or len(rows) or 1
    first = max(start - 1, 0) if start else 0  # a continued page repeats the last row of the page before
    page = rows[first : start + size]
    more = start + size < len(rows)
    keys = {"ctx_area_nk50": str(start + size) if more else "", "ctx_area_fk50": f"{pdno}^{wanted}" if more else ""}
    return 200, {**OK, **keys, "output": page}, {"tr_cont": "M" if more else "D"}


def _rights_ice(server: object, params: dict) -> tuple[int, dict, dict]:
    symbol, lo, hi = params.get("SYMB", "").strip(), params.get("ST_YMD", ""), params.get("ED_YMD", "")
    blank = {k: "" for k in ("validity_dt", "local_end_dt", "lock_dt", "delist_dt", "redempt_dt", "early_redempt_dt",
                             "effective_dt")}  # fmt: skip
    rows = [
        {"anno_dt": _ymd(p.announced), "ca_title": "배당" if p.kind == "03" else "특별배당", "div_lock_dt": _ymd(p.ex),
         "pay_dt": _ymd(p.pay), "record_dt": _ymd(p.record), **blank}
        for p in server.payouts
        if p.currency != "KRW" and p.code == symbol and p.announced and lo <= _ymd(p.announced) <= hi
    ]  # fmt: skip
    if symbol == "SOXL" and lo <= "20170113" <= hi:  # a split among the rights: no dividend dates
        rows.append({"anno_dt": "20170113", "ca_title": "액면분할", "div_lock_dt": "", "pay_dt": "",
                     "record_dt": "20170123", **blank, "effective_dt": "20170124"})  # fmt: skip
    return 200, {**OK, "output1": rows}, {}
