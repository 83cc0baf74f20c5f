"""A venue's funding formula: the rate one settlement prints for a premium (spec fields `funding_formula` ...).

Used wherever funding is derived from a premium rather than read from data: scenario generation
(data/scenarios/paths.py) and the stress paths (data/stress/model.py). Per venue (docs/venue-facts.md):
- "interest_clamp": F = P + clamp(I - P, -C, +C), I = 0.01 %, C = 0.05 % per 8h (Binance, Bybit; Hyperliquid
  too, its 8h formula paid hourly);
- "premium": F = P (OKX, help 360053909272, 2024-01: interest 0 and no clamp).
A settlement over `interval_h` hours pays F x interval_h / base_h, capped at +-cap (the venue's per-settlement
cap: Hyperliquid's 4 % is an hourly cap on F_8h / 8).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FundingFormula:
    """F from the premium P per `base_h` hours; `rate` / `rates` scale it to a settlement and cap it."""

    kind: str = "interest_clamp"      # "interest_clamp" | "premium"
    interest: float = 0.0001          # I per base_h ("interest_clamp" only)
    clamp: float = 0.0005             # C per base_h ("interest_clamp" only)
    base_h: float = 8.0

    def rate(self, premium: float, interval_h: float, cap: float) -> float:
        """One settlement's rate (fraction per interval) for the interval's mean premium; +- cap at most."""
        if self.kind == "interest_clamp":
            f = premium + min(max(self.interest - premium, -self.clamp), self.clamp)
        else:
            f = premium
        return min(max(f * interval_h / self.base_h, -cap), cap)

    def rates(self, premium: np.ndarray, interval_h: np.ndarray | float, cap: np.ndarray | float) -> np.ndarray:
        """`rate` over an array of premiums (the same arithmetic, element by element; intervals may be per row)."""
        return np.clip(self.per_base(premium) * interval_h / self.base_h, -np.asarray(cap), np.asarray(cap))

    def per_base(self, premium: np.ndarray) -> np.ndarray:
        """F per base_h for a premium, uncapped (e.g. the APR a premium pays: F x 365 x 24 / base_h)."""
        p = np.asarray(premium, dtype=np.float64)
        return p + np.clip(self.interest - p, -self.clamp, self.clamp) if self.kind == "interest_clamp" else p


# The formula the scenario and stress premium templates are calibrated with: their documented targets are
# funding levels (e.g. "premium -0.042 % so funding prints 0.004-0.01 %/8h"), reached through Binance's formula.
REFERENCE = FundingFormula()


def equivalent_premium(premium: np.ndarray, formula: FundingFormula) -> np.ndarray:
    """The premium that prints under `formula` what `premium` prints under REFERENCE (uncapped, per settlement of
    formula.base_h hours): for a premium-only venue (OKX) that is REFERENCE's F itself, for a venue with the
    interest + clamp formula the premium unchanged.

    Why: a venue's basis settles where its own formula pays the market's carry. A premium-only venue's perp does
    not sit at Binance's persistent -0.04 % basis (which Binance's +0.05 % clamp turns into +0.01 %/8h): dYdX v3
    (premium only, hourly) averaged -0.05 bp/8h on ETH over 2022-06..2023-06 against Binance's +0.23 bp and
    Bybit's +0.25 bp (multi-venue funding history, development data), so funding levels stay close across
    formulas while the premium-only venue's prints follow its premium (none pinned at the interest rate)."""
    p = np.asarray(premium, dtype=np.float64)
    if formula.kind == "premium":
        return REFERENCE.per_base(p) * (formula.base_h / REFERENCE.base_h)
    return p
