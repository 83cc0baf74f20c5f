"""Event objects handed to strategy hooks: one frozen object per hook call, fields only grow."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True, slots=True)
class StartEvent:
    ts: pd.Timestamp          # open of the first bar; no bar is known yet


@dataclass(frozen=True, slots=True)
class BarEvent:
    ts: pd.Timestamp          # close of the bar that just became known
    bar: int


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
    fee: float                # quote, >= 0
    slippage: float           # quote cost, >= 0
    reason: str


@dataclass(frozen=True, slots=True)
class LiquidationEvent:
    ts: pd.Timestamp          # close of the bar in which the mark crossed the liquidation price
    venue: str
    qty: float                # the position that was closed (signed)
    price: float              # liquidation price (mark)
    fee: float
    insurance_loss: float     # deficit the venue's insurance fund absorbed


@dataclass(frozen=True, slots=True)
class EndEvent:
    ts: pd.Timestamp
