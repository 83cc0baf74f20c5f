"""Basis realized on closes: what a short-perp hedge earns from its basis only when the perp is bought back.

Per slot the book keeps the perp position's units and their average entry spread c = perp - spot (quote per
unit) at the instants that opened them. A trade that reduces the position by d units at spread s realizes

    d x (c - s) for a short,   d x (s - c) for a long,

so a short opened near spot and bought back at a discount (the seed's 5.8 % Binance discount) gains. With the
spot held against the perp this is exactly the hedge's round-trip profit: spot (S1 - S0) + perp (P0 - P1) =
(P0 - S0) - (P1 - S1). While the position is held its spread moves only mark to market: those moves show in the
equity and the backing ratio, never here. Prices are the references a fill was priced from (perp and spot at the
same instant, before slippage), so fees and slippage stay costs of their own.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class BasisBook:
    """Perp units and average entry spread per slot; `trade` returns the basis each trade realizes (quote)."""

    units: dict[str, float] = field(default_factory=dict)    # slot -> signed perp units (short < 0)
    spread: dict[str, float] = field(default_factory=dict)   # slot -> average entry perp - spot (quote per unit)

    def trade(self, slot: str, qty: float, perp_px: float, spot_px: float) -> float:
        """Book a perp trade of `qty` (signed base units, + buys) at perp_px with spot at spot_px; returns the
        basis realized by the part that reduces the position (0 for a trade that only adds to it)."""
        q = self.units.get(slot, 0.0)
        c = self.spread.get(slot, 0.0)
        s = perp_px - spot_px
        realized = 0.0
        if q == 0.0 or (q > 0.0) == (qty > 0.0):            # opens or adds: the average spread moves
            n = abs(q) + abs(qty)
            self.spread[slot] = (c * abs(q) + s * abs(qty)) / n if n > 0.0 else 0.0
            self.units[slot] = q + qty
            return 0.0
        closed = min(abs(qty), abs(q))
        realized = closed * (s - c) if q > 0.0 else closed * (c - s)
        rest = q + qty
        if abs(rest) <= 1e-12 * max(abs(q), abs(qty)):     # closed flat: no position, no spread
            rest = 0.0
        self.units[slot] = rest
        if rest != 0.0 and (rest > 0.0) != (q > 0.0):       # flipped through zero: the rest opens at s
            self.spread[slot] = s
        elif rest == 0.0:
            self.spread[slot] = 0.0
        return realized

    def close_all(self, slot: str, perp_px: float, spot_px: float) -> float:
        """The slot's whole position closed at perp_px against spot_px (a liquidation or a venue default)."""
        q = self.units.get(slot, 0.0)
        return self.trade(slot, -q, perp_px, spot_px) if q != 0.0 else 0.0

    def unrealized(self, slot: str, perp_px: float, spot_px: float) -> float:
        """What closing the slot now at these prices would realize (quote): the basis still mark to market."""
        q = self.units.get(slot, 0.0)
        c = self.spread.get(slot, 0.0)
        return abs(q) * ((perp_px - spot_px) - c if q > 0.0 else c - (perp_px - spot_px))
