"""What a synthetic dollar counts as revenue: realized cash flows by source, booked per payout period.

Revenue (docs: Ethena protocol revenue) = funding on the short perps + basis realized when perps are bought
back + collateral yield (an LST's staking yield, the yield on liquid stables, lending interest) - trading fees
and slippage - liquidation losses (fees, insurance, a venue's written-off balance). Sources, in quote:

| source | from |
| --- | --- |
| funding, lending, fees, slippage, liquidation | the engine's PnL parts of those names (Context.pnl_since) |
| basis | strategies.realized_basis.BasisBook: only at closes |
| lst, stables | accrued by the strategy: balance x ((1 + APY)^(dt / 365 d) - 1) per bar, APY constant or a stream |

The engine's `basis` part (mark to market of the spread) and `price` part (residual delta) are NOT revenue: they
move the equity and the backing ratio, and reach stakers only when a close realizes them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

SOURCES = ("funding", "basis", "lst", "stables", "lending", "fees", "slippage", "liquidation")
ENGINE_SOURCES = ("funding", "lending", "fees", "slippage", "liquidation")   # engine PnL parts taken as booked
YEAR_NS = 365 * 86_400 * 10**9


def accrual(balance: float, apy: float, dt_ns: int) -> float:
    """Yield of `balance` (quote) over dt at `apy` (fraction a year), compounded as the engine's lending is."""
    if balance <= 0.0 or dt_ns <= 0 or apy == 0.0:
        return 0.0
    return float(balance * ((1.0 + apy) ** (dt_ns / YEAR_NS) - 1.0))


@dataclass
class RevenueBook:
    """Realized revenue by source, per open period, and the running totals since the start (quote)."""

    periods: dict[int, dict[str, float]] = field(default_factory=dict)
    total: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SOURCES, 0.0))

    def book(self, period: int, source: str, amount: float) -> None:
        if amount == 0.0:
            return
        if source not in self.total:
            raise KeyError(f"revenue source {source!r}: one of {', '.join(SOURCES)}")
        row = self.periods.setdefault(period, dict.fromkeys(SOURCES, 0.0))
        row[source] += amount
        self.total[source] += amount

    def book_engine(self, period: int, parts: dict[str, float]) -> None:
        """The engine's realized parts (funding, lending, fees, slippage, liquidation) of some bars."""
        for source in ENGINE_SOURCES:
            self.book(period, source, parts[source])

    def close(self, period: int) -> dict[str, float]:
        """Period `period`'s revenue by source (zeros when nothing was booked); it leaves the book."""
        return self.periods.pop(period, None) or dict.fromkeys(SOURCES, 0.0)
