"""KIS's 주식기본조회 (`CTPF1002R`, search-stock-info): what a KRX code is (its 증권그룹: ST a stock, EF an ETF, EN an
ETN …) when no symbol list has said so yet. An ETF or ETN pays no 증권거래세, so a portfolio with taxes needs to know
before the lists are downloaded. The answer's `output.scty_grp_id_cd` uses the masters' own group codes."""

from __future__ import annotations

from collectors.kis import KisCollector

PATH, TR_ID = "/uapi/domestic-stock/v1/quotations/search-stock-info", "CTPF1002R"
STOCKS_ETFS_ETNS = "300"  # PRDT_TYPE_CD of KRX stocks, ETFs and ETNs


class KisStockInfo:
    """The security group of KRX codes, on the KIS collector's token, budget and HTTP client."""

    def __init__(self, kis: KisCollector) -> None:
        self.kis = kis

    def security_group(self, code: str) -> str | None:
        """The code's 증권그룹 (ST, EF, EN …), or None when KIS does not name one (an unknown code answers success
        with blank fields)."""
        body = self.kis.call(PATH, TR_ID, {"PRDT_TYPE_CD": STOCKS_ETFS_ETNS, "PDNO": code})
        out = body.get("output") or {}
        if isinstance(out, list):
            out = out[0] if out else {}
        group = str(out.get("scty_grp_id_cd") or "").strip().upper()
        return group or None
