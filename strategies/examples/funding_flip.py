"""funding_flip: an example user strategy — hold the hedge only while trailing funding pays.

Written as a user writes one, with the public names of `basisbt` only; docs/strategies.md shows it piece by
piece (a test checks each piece is in this file).

Run it with: basisbt run --strategy strategies/examples/funding_flip.py:FundingFlip --set lookback_days=2
Long spot + short perp on one venue while the trailing funding APR is above `on_above`; the
whole hedge (spot and perp together, so the book never holds naked ETH) is closed to USDT when
the APR falls below `off_below`. Two thresholds = a hysteresis band, so one print does not flip the book.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from basisbt import BarEvent, Context, StartEvent, Strategy, param, require_venue


class FundingFlip(Strategy):
    """Cash and carry while trailing funding is positive, flat USDT otherwise."""

    name = "funding_flip"
    summary = "example: long spot + short perp while trailing funding APR > on_above, flat below off_below"
    decide = "funding"                     # hooks run at funding settlements only (8h here)

    @dataclass(frozen=True, kw_only=True)
    class Params:
        venue: str = param("binance", "venue for spot and perp")
        lookback_days: float = param(3.0, "trailing window of the funding APR (days)", gt=0.0, le=365.0)
        on_above: float = param(0.02, "open the hedge when funding APR is above this (per year)", ge=-10.0, le=10.0)
        off_below: float = param(0.0, "close the hedge when funding APR is below this (per year)", ge=-10.0, le=10.0)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.hedged = False

    def validate(self, venues: list[str], protocols: list[str]) -> None:
        require_venue(self.p.venue, venues)          # a typo'd venue fails before the run starts

    def initial_allocation(self, venues: list[str]) -> dict[str, float]:
        return {self.p.venue: 1.0}                   # all capital on the one venue

    def on_start(self, ctx: Context, ev: StartEvent) -> None:
        ctx.configure(self.p.venue, spot_collateral=True)   # spot backs the short (Ethena set-up)

    def on_bar(self, ctx: Context, ev: BarEvent) -> None:
        v = self.p.venue
        apr = ctx.funding_apr(v, self.p.lookback_days)      # NaN until the first settlement
        ctx.record("funding_apr", apr)
        if not self.hedged and apr > self.p.on_above:
            qty = 0.99 * ctx.cash(v) / ctx.price(v, "spot")   # keep 1 % as USDT for fees
            ctx.order(v, "spot", qty, "funding on")
            ctx.order(v, "perp", -qty, "funding on")
            self.hedged = True
        elif self.hedged and apr < self.p.off_below:
            ctx.target_position(v, "spot", 0.0, "funding off")
            ctx.target_position(v, "perp", 0.0, "funding off")
            self.hedged = False
