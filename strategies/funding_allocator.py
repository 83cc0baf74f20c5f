"""funding_allocator: one delta-neutral hedge spread across venues (and assets), weighted by trailing funding.

With several assets in the data the same rule runs over every (venue, asset) pair with a perp: each pair
is a slot ('binance:BTC') with its own hedge and weight, and a venue's slots share its cash.

Each venue holds long spot + short perp with the spot posted as collateral. Target weights:
- `weighting=funding`: w_v = min_weight + (1 - V x min_weight) x max(apr_v, 0) / sum(max(apr, 0)),
  apr_v the venue's funding over the last `lookback_days` annualized; equal when no venue is positive;
- `weighting=best`: the floors, and all the rest to the slot with the best trailing APR (a basis desk
  moving its book to whichever asset and venue pays most); the band and the cost test below still apply;
- `weighting=equal`: 1 / V.
Weighting by open interest is not offered: our data (bars, funding, lending, flows) has no
open-interest stream.
Hysteresis and cost: the book is moved only when some weight is off by more than `band`, AND the
expected extra funding over `horizon_days` beats the cost of moving: for each quote moved,
2 x (spot fee + perp fee + slippage) (unwind on one venue, rebuild on another) plus the transfer
fee per move; the cash is idle while in transit (the transfer delay), counted as lost funding.
Moving itself goes through strategies.hedge.steer (unwind, transfer, rebuild over a few decisions).

After a liquidation of a slot's short the desk does not put the same size back into the breach: a partial one (an
OKX/Bybit tier step-down, a Hyperliquid book slice) is followed, selling the spot the closed part hedged, and a full
one sells the spot left; either way the slot's target weight is lowered to the hedge capital left there (0 after a
full one), so steer neither rebuilds it nor rehedge shorts the closed part back. The freed cash waits on the venue.
The slot comes back only through the next reallocation (weights re-chosen when the band and the cost test say so).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from basisbt.engine.context import Context
from basisbt.engine.events import AdlEvent, BarEvent, LiquidationEvent, StartEvent, VenueDefaultEvent
from basisbt.strategies.base import Strategy, param
from basisbt.strategies.hedge import (
    configure_hedges,
    follow_liquidation,
    hedge_value,
    rehedge,
    restore_after_adl,
    steer,
)


class FundingAllocator(Strategy):
    """Spread one hedge over venues by trailing funding, rebalanced with a band and a cost test."""

    name = "funding_allocator"
    summary = "one hedge spread across venues (and assets) weighted by trailing funding; band + cost of moving"
    decide = "bar"
    multi_asset = True

    @dataclass(frozen=True, kw_only=True)
    class Params:
        weighting: str = param("funding", "'funding': by trailing funding APR; 'best': all above the floors to "
                                          "the best trailing APR; 'equal': 1/V", choices=("funding", "best", "equal"))
        lookback_days: float = param(7.0, "trailing window for funding APR (days)", gt=0.0, le=365.0)
        min_weight: float = param(0.1, "floor weight per venue (keeps every venue in use; with several assets "
                                       "shared by the venue's assets)", ge=0.0, le=1.0)
        band: float = param(0.10, "rebalance only when some weight is off target by more than this", ge=0.0, le=1.0)
        horizon_days: float = param(14.0, "days the funding edge is assumed to last, to weigh against costs", gt=0.0, le=3650.0)
        hedge_ratio: float = param(1.0, "perp short as a fraction of the spot held", ge=0.0, le=2.0)
        rehedge_threshold: float = param(0.02, "re-hedge a venue when |spot + perp| exceeds this share of spot", ge=0.0, le=1.0)
        cash_buffer: float = param(0.01, "share of each venue's capital kept as USDT for fees and funding", ge=0.0, lt=1.0)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.target: dict[str, float] = {}
        self.rebalances = 0
        self.dead: set[str] = set()      # venues that defaulted: no longer in the targets

    def live(self, ctx: Context) -> list[str]:
        """The slots (venues; 'venue:ASSET' with several assets) of venues still in business."""
        return [k for k in ctx.slots if ctx.split(k)[0] not in self.dead]

    def on_adl(self, ctx: Context, ev: AdlEvent) -> None:
        restore_after_adl(ctx, ev, self.p.hedge_ratio)

    def on_liquidation(self, ctx: Context, ev: LiquidationEvent) -> None:
        """Follow it (hedge.follow_liquidation) and hold the slot's target weight to the hedge left there until the
        next reallocation (see the module docstring)."""
        if ev.venue not in self.target:
            return
        left = follow_liquidation(ctx, ev, self.p.hedge_ratio)
        capital = ctx.equity * (1.0 - self.p.cash_buffer)
        w = min(self.target[ev.venue], left / capital) if capital > 0.0 else 0.0
        ctx.log(f"{ev.venue}: target weight {self.target[ev.venue]:.4f} -> {w:.4f} after the liquidation, until the "
                "next reallocation")
        self.target[ev.venue] = w

    def on_venue_default(self, ctx: Context, ev: VenueDefaultEvent) -> None:
        self.dead.add(ev.venue)
        self.target = {}                 # re-weight over the venues left at the next bar

    def validate(self, venues: list[str], protocols: list[str]) -> None:
        from basisbt.engine.config import ConfigError
        if not 0.0 <= self.p.min_weight * len(venues) <= 1.0:
            raise ConfigError(f"{self.name}: min_weight x venues must be in [0, 1] ({len(venues)} venues)")


    def on_start(self, ctx: Context, ev: StartEvent) -> None:
        configure_hedges(ctx, ctx.venues)

    def weights(self, ctx: Context) -> dict[str, float]:
        """Target weights from data known now (see the module docstring)."""
        vs = self.live(ctx)
        if self.p.weighting == "equal":
            return {v: 1.0 / len(vs) for v in vs}
        apr = np.array([ctx.funding_apr(v, self.p.lookback_days) for v in vs])
        score = np.where(np.isfinite(apr), np.maximum(apr, 0.0), 0.0)
        if score.sum() <= 0.0:
            return {v: 1.0 / len(vs) for v in vs}
        if self.p.weighting == "best":              # winner takes what the floors leave
            score = (np.arange(len(vs)) == int(np.argmax(score))).astype(float)
        if len(ctx.assets) == 1:
            w = self.p.min_weight + (1.0 - len(vs) * self.p.min_weight) * score / score.sum()
            return dict(zip(vs, w.tolist(), strict=True))
        # several assets: min_weight is a venue's floor, shared by its (venue, asset) slots
        venue = [ctx.split(k)[0] for k in vs]
        floor = np.array([self.p.min_weight / venue.count(v) for v in venue])
        w = floor + (1.0 - floor.sum()) * score / score.sum()
        return dict(zip(vs, w.tolist(), strict=True))

    def move_pays(self, ctx: Context, cur: dict[str, float], new: dict[str, float], capital: float) -> bool:
        """True when the extra funding over horizon_days beats the cost of moving to `new` (quote)."""
        aprs = {v: ctx.funding_apr(v, self.p.lookback_days) for v in new}
        aprs = {v: (a if np.isfinite(a) else 0.0) for v, a in aprs.items()}
        gain = sum((new[v] - cur.get(v, 0.0)) * aprs[v] for v in new) * capital * self.p.horizon_days / 365.0
        cost = 0.0
        quote = ctx.symbol.split("/")[-1].split(":")[0]
        for v in new:
            moved = abs(new[v] - cur.get(v, 0.0)) * capital / 2.0  # each quote moved leaves one venue, lands on one
            c = ctx.costs(v)
            cost += moved * 2.0 * (c.spot_fee + c.perp_fee + c.slippage)
            if c.quote and c.quote != quote:     # USDC on Hyperliquid vs the book's USDT: converted once, in or out
                cost += moved * 2.0 * c.spot_fee
            if new[v] < cur.get(v, 0.0):
                cost += c.transfer_fee
                idle_days = c.transfer_delay_s / 86400.0
                cost += moved * max(aprs[v], 0.0) * idle_days / 365.0
            else:                                # the receiving venue's bridge
                cost += moved * max(aprs[v], 0.0) * c.deposit_delay_s / 86400.0 / 365.0
        return bool(gain > cost)

    def on_bar(self, ctx: Context, ev: BarEvent) -> None:
        capital = ctx.equity * (1.0 - self.p.cash_buffer)
        if not self.target:
            self.target = self.weights(ctx)
        else:
            total = sum(hedge_value(ctx, v) for v in self.live(ctx))
            cur = {v: hedge_value(ctx, v) / total for v in self.live(ctx)} if total > 0 else self.target
            new = self.weights(ctx)
            drift = max(abs(new[v] - self.target[v]) for v in new)
            if drift > self.p.band and self.move_pays(ctx, cur, new, capital):
                self.target = new
                self.rebalances += 1
                ctx.log("reweight " + ", ".join(f"{v}={w:.2f}" for v, w in new.items()))
        for v, w in self.target.items():
            ctx.record(f"weight:{v}", w)
        # tol 0.05 keeps steer from trading on small drift; the band above is the real hysteresis
        steer(ctx, {v: w * capital for v, w in self.target.items()}, 0.0, hedge_ratio=self.p.hedge_ratio,
              cash_buffer=self.p.cash_buffer, tol=0.05, min_move=0.001 * capital)
        for v in self.live(ctx):
            rehedge(ctx, v, self.p.hedge_ratio, self.p.rehedge_threshold)

    def initial_allocation(self, venues: list[str]) -> dict[str, float]:
        return {v: 1.0 / len(venues) for v in venues}
