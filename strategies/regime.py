"""Allocation by funding regime: the share of a synthetic dollar's backing hedged with perps, the rest in stables.

Ethena (docs: liquid stables dynamic allocation, current allocation approach) holds perps while they pay more
than US treasuries and moves backing into liquid stables (USDC, USDtb, earning about the T-bill rate) when they
do not: perps were > 80 % of backing at the start of 2025 and about 28 % by mid-2025. The rule stated here:

    spread = trailing funding APR - stables APY
    perp share = low + (high - low) x clamp((spread - spread_low) / (spread_high - spread_low), 0, 1)

so funding no better than the stables gives `low`, funding `spread_high` above them gives `high`, linear between.
Funding is each hedged slot's trailing APR (Context.funding_apr, past settlements only) averaged by slot weight.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class RegimeRule:
    """Perp share of backing as a function of the funding spread over stables (fractions a year)."""

    low: float = 0.30
    high: float = 0.85
    spread_low: float = 0.0
    spread_high: float = 0.05

    def perp_share(self, funding_apr: float, stables_apy: float) -> float:
        """The target share; `high` while no funding is known yet (NaN), as a book that opens on perps."""
        if not math.isfinite(funding_apr):
            return self.high
        width = self.spread_high - self.spread_low
        spread = funding_apr - stables_apy
        if width <= 0.0:                                  # a step at spread_high
            return self.high if spread >= self.spread_high else self.low
        x = (spread - self.spread_low) / width
        if x >= 1.0 or x <= 0.0:                         # the ends exactly (not low + (high - low) x 1)
            return self.high if x >= 1.0 else self.low
        return self.low + (self.high - self.low) * x


def weighted_funding(aprs: dict[str, float], weights: dict[str, float]) -> float:
    """Average of the finite slot APRs by weight; NaN when none is known."""
    num = den = 0.0
    for k, w in weights.items():
        a = aprs.get(k, math.nan)
        if w > 0.0 and math.isfinite(a):
            num += w * a
            den += w
    return num / den if den > 0.0 else math.nan
