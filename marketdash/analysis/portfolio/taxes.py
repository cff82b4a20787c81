"""The two taxes a Korean retail investor meets when a backtest sells: KRX 증권거래세 and 해외주식 양도소득세.

증권거래세 (securities transaction tax) is charged on every sale of a KRX-listed stock, on the sale amount, at the
rate in force when the shares change hands (settlement, two KRX sessions after the trade). KOSPI's rate is the tax
plus 0.15 % 농어촌특별세; KOSDAQ's is the tax alone, and the two have been equal since 2019. ETFs and ETNs are exempt
(증권거래세법 비과세); KONEX (0.10 % since 2019) is not told apart from KOSDAQ here. Rates (증권거래세법 시행령
제5조, 농어촌특별세법 제5조), by settlement date:
- until 2019-06-02: 0.30 % (KOSPI 0.15 % + 0.15 %);
- from 2019-06-03 (trades from 2019-05-30): 0.25 % (etnews 2019-05-21, 국무회의 의결);
- from 2021-01-01: 0.23 %; from 2023-01-01: 0.20 %; from 2024-01-01: 0.18 %; from 2025-01-01: 0.15 %
  (2020 and 2022 세법개정; 한양증권 notice of 2024-12-26 for 2025);
- from 2026-01-01: 0.20 % again (KOSPI 0.05 % + 0.15 %; 기획재정부 시행령 개정, 한경 2025-12-01).

해외주식 양도소득세 (tax on gains from overseas stocks): 22 % (20 % plus 10 % of it as local income tax) of a
calendar year's realised gain above the 2,500,000원 basic deduction, every amount in won: each sale's proceeds and
each lot's cost at the USD/KRW fixing of its own trade date (so a currency gain is taxed), fees deducted (소득세법
제118조의2~8). Lots are matched first in, first out: the rule where the shares sold are not identified (소득세법 시행령
제162조 제5항; 국세청 서면-2022-국제세원-0764, which also accepts a broker's moving average, as 한국투자증권 reports).
A sale belongs to the tax year of its settlement date (a sale on the year's last sessions settles in January).
The tax is paid from the portfolio on the year's last valuation day (in life, in May of the next year).

배당소득세 withheld on cash dividends: 15.4 % (14 % plus 1.4 % local tax) on KRX-listed shares and funds (on the
whole distribution: KIS gives no 과세표준 for a fund, so this is the conservative reading), and the 15 % the US
withholds under the Korea-US treaty on US-listed ones (no Korean top-up: 15 % is above Korea's 14 %;
kis-dividends.md section 4).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import deque
from dataclasses import dataclass, field

from marketdash.domain import calendars

_KRX_SALE_TAX = (  # (settlement date from which the rate applies, rate as a fraction)
    (dt.date(1996, 1, 1), 0.0030),
    (dt.date(2019, 6, 3), 0.0025),
    (dt.date(2021, 1, 1), 0.0023),
    (dt.date(2023, 1, 1), 0.0020),
    (dt.date(2024, 1, 1), 0.0018),
    (dt.date(2025, 1, 1), 0.0015),
    (dt.date(2026, 1, 1), 0.0020),
)
_FROM = [d for d, _ in _KRX_SALE_TAX]
US_T1_FROM = dt.date(2024, 5, 28)  # NYSE and Nasdaq settle T+1 for trades from this date, T+2 before
WITHHOLDING = {"krx": 0.154, "us": 0.15}
OVERSEAS_RATE = 0.22
OVERSEAS_DEDUCTION = 2_500_000.0  # won a year


def krx_sale_tax(settlement: dt.date) -> float:
    """The 증권거래세 rate (a fraction of the sale amount) for KRX stock sold and settled on `settlement`."""
    return _KRX_SALE_TAX[max(bisect.bisect_right(_FROM, settlement) - 1, 0)][1]


def settlement(trade_day: dt.date, market: str) -> dt.date:
    """The day a sale settles: KRX T+2 KRX sessions; US T+1 NYSE sessions from 2024-05-28, T+2 before."""
    calendar, days = ("XKRX", 2) if market == "krx" else ("XNYS", 1 if trade_day >= US_T1_FROM else 2)
    later = calendars.session_days(calendar, trade_day + dt.timedelta(days=1), trade_day + dt.timedelta(days=20))
    return later[days - 1].astype(dt.date)


def overseas_tax(gain_krw: float) -> float:
    """A year's 해외주식 양도소득세 on its net realised gain in won."""
    return max(gain_krw - OVERSEAS_DEDUCTION, 0.0) * OVERSEAS_RATE


@dataclass
class Lots:
    """One overseas stock's open lots, oldest first: (units, cost in won per unit, fees included)."""

    open: deque = field(default_factory=deque)

    def buy(self, units: float, cost_krw: float) -> None:
        if units > 0:
            self.open.append([units, cost_krw / units])

    def sell(self, units: float, proceeds_krw: float) -> float:
        """Consume `units` first in, first out; the realised gain in won."""
        cost, left = 0.0, units
        while left > 1e-12 and self.open:
            lot = self.open[0]
            take = min(lot[0], left)
            cost += take * lot[1]
            lot[0] -= take
            left -= take
            if lot[0] <= 1e-12:
                self.open.popleft()
        return proceeds_krw - cost
