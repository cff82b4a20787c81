"""The portfolio's books while a run goes on: units, the cash pools, what is owed and receivable, every trade and
the taxes it raises (SPEC.md, "Portfolio": Units, Owed, Currencies, Taxes).

Cash is kept in three pools so that whole shares pool their remainder: `free` (cash for anything), `pending` (money
waiting for an asset's next session) and `remainder` (what an asset's whole-share buy could not spend, added to its
next buy). Money coming in pays what is owed first.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from marketdash.analysis.portfolio import taxes
from marketdash.analysis.portfolio.plan import Plan
from marketdash.analysis.portfolio.timeline import Timeline
from marketdash.domain import catalog

EPS = 1e-9
_VENUE = {"domestic_stock": "krx", "domestic_index": "krx", "overseas_stock": "us", "overseas_chart": "us",
          "crypto": "coin"}  # fmt: skip


def venue(asset: catalog.Asset) -> str:
    """Whose fee a trade of the asset pays: KRX, an overseas broker (US stocks, COMEX, indices), a coin exchange."""
    return _VENUE[asset.kind]


def krx_stock(asset: catalog.Asset) -> bool:
    """A KRX-listed stock (증권거래세 on sales); ETFs, ETNs and indices are not."""
    return asset.kind == "domestic_stock" and asset.unit == "KRW per share"


def listed_share(asset: catalog.Asset) -> str | None:
    """Where a share or fund is listed ("krx", "us"): what trades in whole units, pays dividends withheld at that
    market's rate and settles on its cycle. None for indices, futures, rates and coins."""
    return {"domestic_stock": "krx", "overseas_stock": "us"}.get(asset.kind)


class Book:
    """One run's state (SPEC.md's units, cash, owed and receivables) and the trades that change it."""

    def __init__(self, plan: Plan, line: Timeline) -> None:
        self.plan, self.line = plan, line
        assets = [catalog.get(a) for a in plan.assets]
        n = len(assets)
        costs = plan.costs
        self.targets = plan.targets()
        self.fee = np.array([costs.fees.get(venue(a), 0.0) / 100 for a in assets])
        self.cross = np.array([a.currency != plan.currency for a in assets])
        self.spread = costs.spread
        self.market = [listed_share(a) for a in assets]
        self.whole = np.array([plan.whole_shares and m is not None for m in self.market])
        self.krx_tax = np.array([costs.tax and krx_stock(a) for a in assets])
        self.withholding = np.array([taxes.WITHHOLDING.get(m, 0.0) if costs.tax and m else 0.0 for m in self.market])
        self.lots = {j: taxes.Lots() for j, a in enumerate(assets) if costs.tax and a.kind == "overseas_stock"}
        self.units = np.zeros(n)
        self.free = 0.0
        self.pending = np.zeros(n)
        self.remainder = np.zeros(n)
        self.owed = 0.0
        self.receivable = np.zeros(n)  # net dividends due, in each asset's own currency
        self.trades: list[list] = []  # day, asset, side, units, price, fx, amount, fee, tax
        self.gains: list[tuple[int, float, dt.date]] = []  # overseas sales: trade row, gain in won, settlement
        self.taxes_paid = 0.0
        self._settle: dict[tuple[int, str], dt.date] = {}

    @property
    def cash(self) -> float:
        return self.free + float(self.pending.sum() + self.remainder.sum())

    def receive(self, amount: float) -> float:
        """Money coming into cash pays what is owed first; returns what is left of it (now in `free`)."""
        paid = min(amount, self.owed) if amount > 0 else 0.0
        self.owed -= paid
        self.free += amount - paid
        return amount - paid

    def take(self, amount: float) -> None:
        """Money going out (a withdrawal, a tax): from cash not waiting for a session (remainders included, which
        start anew), the rest owed."""
        self.free += float(self.remainder.sum())
        self.remainder[:] = 0.0
        paid = min(amount, max(self.free, 0.0))
        self.free -= paid
        self.owed += amount - paid

    # -- trades at a close --------------------------------------------------------------------------------------
    def rate(self, d: int, j: int, side: int) -> float:
        """The applied rate at the asset's close of day d: the conversion, moved by the spread when the
        currencies differ (a buy pays more, a sell gets less)."""
        conv = self.line.conv[d, j]
        return conv * (1 + side * self.spread) if self.cross[j] else conv

    def unit_cost(self, j: int, price: float, conv: float) -> float:
        """What one unit costs with the spread and the fee, at a known price and conversion."""
        return price * conv * (1 + self.spread if self.cross[j] else 1.0) * (1 + self.fee[j])

    def buy(self, d: int, j: int, budget: float, spread: bool = True) -> float:
        """Buy with `budget` (fees included) at the asset's close of day d; whole shares buy what fits. Returns
        what was spent (the caller takes it from its pool)."""
        price = self.line.price[d, j]
        rate = self.rate(d, j, +1) if spread else self.line.conv[d, j]
        units = budget / (price * rate * (1 + self.fee[j])) if budget > 0 else 0.0
        if self.whole[j]:
            units = math.floor(units + EPS)
        if units <= EPS:
            return 0.0
        amount = units * price * rate
        fee = amount * self.fee[j]
        self.units[j] += units
        if j in self.lots:
            won = self.line.krw[d, j] / self.line.conv[d, j]  # won per unit of the portfolio's currency
            self.lots[j].buy(units, units * price * self.line.krw[d, j] + fee * won)
        self.trades.append([d, j, "buy", units, price, rate, amount, fee, 0.0])
        return amount + fee

    def sell(self, d: int, j: int, amount: float, everything: bool = False) -> float:
        """Sell `amount` (in the portfolio's currency, at the applied rate), or `everything`, at the asset's close of
        day d; whole shares sell at least the amount. Returns the proceeds after fee and tax (the caller receives
        them)."""
        price = self.line.price[d, j]
        rate = self.rate(d, j, -1)
        units = amount / (price * rate) if amount > 0 else 0.0
        if self.whole[j]:
            units = math.ceil(units - EPS)
        units = self.units[j] if everything else min(units, self.units[j])
        if units <= EPS:
            return 0.0
        gross = units * price * rate
        fee = gross * self.fee[j]
        settles = self.settlement(d, j)
        tax = gross * taxes.krx_sale_tax(settles) if self.krx_tax[j] else 0.0
        self.units[j] = max(self.units[j] - units, 0.0)
        self.trades.append([d, j, "sell", units, price, rate, gross, fee, tax])
        if j in self.lots:
            won = self.line.krw[d, j] / self.line.conv[d, j]
            gain = self.lots[j].sell(units, units * price * self.line.krw[d, j] - fee * won)
            self.gains.append((len(self.trades) - 1, gain, settles))
        return gross - fee - tax

    def sale_costs(self, d: int, j: int) -> float:
        """The fee and tax rates (a fraction of the amount) a sale of asset j on day d pays: known when decided."""
        tax = taxes.krx_sale_tax(self.settlement(d, j)) if self.krx_tax[j] else 0.0
        return self.fee[j] + tax

    def settlement(self, d: int, j: int) -> dt.date:
        """The day a sale of asset j on day d settles (the KRX tax rate and the US tax year follow it)."""
        market = self.market[j] or "krx"
        key = (d, market)
        if key not in self._settle:
            self._settle[key] = taxes.settlement(self.line.dates[d].date(), market)
        return self._settle[key]

    # -- taxes ------------------------------------------------------------------------------------------------------
    def year_tax(self, d: int, year: int, settled_by: dt.date | None = None) -> float:
        """The 해외주식 양도소득세 of the sales settling in `year` (by `settled_by` at the run's end), in the
        portfolio's currency, spread over that year's gaining sales; those gains are then done."""
        mine = [(row, gain) for row, gain, day in self.gains if day.year == year and (settled_by is None or
                                                                                     day <= settled_by)]  # fmt: skip
        if not mine:
            return 0.0
        rows = {row for row, _ in mine}
        self.gains = [g for g in self.gains if g[0] not in rows]
        tax_krw = taxes.overseas_tax(sum(g for _, g in mine))
        positive = sum(g for _, g in mine if g > 0)
        if tax_krw <= 0 or positive <= 0:
            return 0.0
        tax = tax_krw / self.line.day_end_krw[d]
        for row, gain in mine:
            if gain > 0:
                self.trades[row][8] += tax * gain / positive
        self.taxes_paid += tax
        return tax
