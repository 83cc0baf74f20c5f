"""Event objects handed to strategy hooks: one frozen object per hook call, fields only grow."""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True, slots=True)
class StartEvent:
    ts: pd.Timestamp          # open of the first bar; no bar is known yet


class BarEvent:
    """A bar close became known: `bar` is its index, `ts` its close time.

    One is made per decision, so `ts` is built only when read (a pd.Timestamp costs more than
    a typical on_bar)."""

    __slots__ = ("bar", "_ns", "_ts")

    def __init__(self, bar: int, ts_ns: int) -> None:
        self.bar = bar
        self._ns = ts_ns
        self._ts: pd.Timestamp | None = None

    @property
    def ts(self) -> pd.Timestamp:
        if self._ts is None:
            self._ts = pd.Timestamp(self._ns, unit="ns", tz="UTC")
        return self._ts

    def __repr__(self) -> str:
        return f"BarEvent(ts={self.ts!r}, bar={self.bar})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BarEvent) and (self.bar, self._ns) == (other.bar, other._ns)

    def __hash__(self) -> int:
        return hash((self.bar, self._ns))


@dataclass(frozen=True, slots=True)
class FundingEvent:
    ts: pd.Timestamp          # settlement time
    venue: str
    symbol: str
    rate: float               # fraction for this settlement's interval
    interval_h: float         # hours since the previous settlement (NaN for the first)


@dataclass(frozen=True, slots=True)
class LendingRateEvent:
    ts: pd.Timestamp
    protocol: str
    apy: float                # supply APY, fraction per year


@dataclass(frozen=True, slots=True)
class FillEvent:
    ts: pd.Timestamp
    venue: str
    instrument: str           # 'spot' | 'perp'
    qty: float                # signed base units
    price: float              # executed price, slippage included
    fee: float                # quote; >= 0, or < 0 for a maker rebate
    slippage: float           # quote cost, >= 0
    reason: str
    ref_price: float = math.nan   # the price it was priced from before slippage (the bar's open, or close)
    spot_price: float = math.nan  # the venue's spot reference at the same instant (for a perp fill: its basis)
    liquidity: str = "taker"  # 'taker' (market order) | 'maker' (a resting limit order traded through)
    order_id: int = -1        # the limit order's id (Context.limit_order); -1 for a market order


@dataclass(frozen=True, slots=True)
class RejectEvent:
    """The venue refused an order or a money move, or cancelled a resting limit order (Strategy.on_reject)."""
    ts: pd.Timestamp          # the fill instant
    venue: str                # a venue; 'lending:<protocol>' for a withdrawal the protocol refused
    instrument: str           # 'spot' | 'perp'; a money move: 'transfer', 'collateral', 'margin'
    asked: float              # signed base units ordered (a money move: its quote amount)
    filled: float             # signed base units accepted (0 when refused)
    status: str               # 'refused' | 'cancelled' (a resting limit order the venue cancelled); 'reduced' no longer
    why: str                  # 'not enough cash', 'more than the spot held', 'initial margin above margin balance',
    #                           'would take liquidity (post-only)', 'expired', 'position liquidated', ...
    reason: str               # the order's own reason text
    order_id: int = -1        # the limit order's id; -1 for a market order


@dataclass(frozen=True, slots=True)
class LiquidationEvent:
    ts: pd.Timestamp          # close of the bar in which the mark crossed the liquidation price
    venue: str
    qty: float                # the position that was closed (signed)
    price: float              # liquidation price (mark)
    fee: float                # clearance fee (or margin lost at the bankruptcy price), capped at what was left
    insurance_loss: float     # deficit beyond bankruptcy the venue's insurance fund absorbed
    socialized: float = 0.0   # deficit beyond what the fund held: covered by ADL of other traders' positions
    kind: str = "full"        # the mechanism (engine/kernels/codes.py LIQ_KIND): 'full', 'partial' (a tier
    #                           step-down), 'book' / 'book_slice' (orders into the book), 'backstop' (the vault);
    #                           what 'partial' or 'book_slice' leaves stays open unless a later row closes it


@dataclass(frozen=True, slots=True)
class EndEvent:
    ts: pd.Timestamp


@dataclass(frozen=True, slots=True)
class AdlEvent:
    """The venue auto-deleveraged our profitable perp (Strategy.on_adl); `qty` 0 when it was not in profit."""
    ts: pd.Timestamp          # the bar open at which it was applied
    venue: str
    qty: float                # signed base units closed (+ for a short bought back); 0: nothing happened
    price: float              # the price it was closed at
    fraction: float           # share of the position the schedule asked for
    realized: float           # realized PnL of the closed part (quote)
    spot_price: float = math.nan  # the venue's spot price the close was booked against (basis = price - spot)


@dataclass(frozen=True, slots=True)
class VenueHaltEvent:
    """A venue halt began or ended (Strategy.on_venue_halt)."""
    ts: pd.Timestamp
    venue: str
    phase: str                # 'start' | 'end'
    start: pd.Timestamp
    end: pd.Timestamp
    trading: bool             # True: orders on the venue are refused during the halt
    withdrawals: bool         # True: transfers out are refused, transfers in wait for the end


@dataclass(frozen=True, slots=True)
class VenueDefaultEvent:
    """A venue defaulted (Strategy.on_venue_default): its book closed and its balance written off."""
    ts: pd.Timestamp
    venue: str
    balance: float            # cash + isolated margin + spot at spot + closed perp PnL at the default (quote)
    recovered: float          # recovery x balance, arriving at `arrives` on `destination`
    lost: float               # balance - recovered (ledger kind default_loss)
    arrives: pd.Timestamp
    destination: str
