"""lending_rebalance ("yield radar"): rotate a share of the book between the hedge and lending.

The hedge is long spot + short perp on one venue (spot posted as collateral). Each decision it
compares the venue's trailing funding APR (last `lookback_days`, annualized) with the best
supply APY across lending protocols. spread = best APY - funding APR.
- hedge regime -> lending regime when spread > `enter_spread` (funding has turned poor);
- lending regime -> hedge regime when spread < `exit_spread` (funding has recovered);
- a regime is kept at least `min_hold_days` (no flapping on one print).
enter_spread > exit_spread is the hysteresis band; it should cover a round trip of costs
(sell + buy back spot and perp: about 2 x (0.10 % + 0.05 %) = 0.3 % of the amount moved, i.e. 0.3 %
x 365 / hold_days in APR terms). In the lending regime `max_share` of equity sits in lending:
the hedge is unwound proportionally (spot and perp together, so the book stays delta-neutral),
the cash is sent to the best protocol (transfer fee and delay of the venue); in the hedge regime
lending is withdrawn and the hedge rebuilt. Moves go through strategies.hedge.steer.
After a liquidation of the short (a venue that margins it with quote, Hyperliquid, or a crash past the spot
collateral) the hedge is not put back into the breach: a partial one is followed (the spot the closed part hedged
is sold), a full one sells the spot left, and the hedge's capital is held to what is left (nothing after a full
one) until the next regime switch; the freed cash waits on the venue.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from basisbt.engine.config import ConfigError
from basisbt.engine.context import Context
from basisbt.engine.events import AdlEvent, BarEvent, LiquidationEvent, StartEvent
from basisbt.strategies.base import Strategy, param, require_venue
from basisbt.strategies.hedge import (
    best_protocol,
    configure_hedges,
    follow_liquidation,
    rehedge,
    restore_after_adl,
    steer,
)


class LendingRebalance(Strategy):
    """Hedge when funding pays, lend when lending pays more; hysteresis, max share, min hold."""

    name = "lending_rebalance"
    summary = "yield radar: move up to max_share of the book from the hedge to lending when lending beats funding"
    decide = "bar"

    @dataclass(frozen=True, kw_only=True)
    class Params:
        venue: str = param("binance", "venue that holds the spot and the short")
        lookback_days: float = param(3.0, "trailing window for the funding APR (days)", gt=0.0, le=365.0)
        enter_spread: float = param(0.03, "go to lending when best APY - funding APR exceeds this (per year)", ge=-1.0, le=1.0)
        exit_spread: float = param(0.0, "come back to the hedge when best APY - funding APR falls below this", ge=-1.0, le=1.0)
        max_share: float = param(0.8, "share of equity in lending in the lending regime (0..1)", ge=0.0, le=1.0)
        min_hold_days: float = param(3.0, "minimum days between two regime switches", ge=0.0, le=365.0)
        hedge_ratio: float = param(1.0, "perp short as a fraction of the spot held", ge=0.0, le=2.0)
        rehedge_threshold: float = param(0.02, "re-hedge when |spot + perp| exceeds this share of spot", ge=0.0, le=1.0)
        cash_buffer: float = param(0.01, "share of the hedge kept as USDT on the venue for fees and funding", ge=0.0, lt=1.0)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if not 0.0 <= self.p.max_share <= 1.0:
            raise ConfigError(f"{self.name}: max_share must be in [0, 1], not {self.p.max_share}")
        if self.p.enter_spread < self.p.exit_spread:
            raise ConfigError(f"{self.name}: enter_spread must be >= exit_spread (hysteresis band)")
        self.lending = False
        self.last_switch: object = None
        self.switches = 0
        self.hedge_scale = 1.0       # < 1 after a liquidation: the hedge held to what was left, until the next switch

    def validate(self, venues: list[str], protocols: list[str]) -> None:
        require_venue(self.p.venue, venues)
        if not protocols:
            raise ConfigError(f"{self.name}: the data has no lending stream; use perp_short instead")

    def initial_allocation(self, venues: list[str]) -> dict[str, float]:
        return {self.p.venue: 1.0}

    def on_start(self, ctx: Context, ev: StartEvent) -> None:
        configure_hedges(ctx, [self.p.venue])

    def on_bar(self, ctx: Context, ev: BarEvent) -> None:
        v = self.p.venue
        funding = ctx.funding_apr(v, self.p.lookback_days)
        _, apy = best_protocol(ctx)
        spread = apy - funding if np.isfinite(funding) else float("nan")
        held = self.last_switch is None or (ctx.now - self.last_switch).total_seconds() >= self.p.min_hold_days * 86400
        if held and np.isfinite(spread):
            if not self.lending and spread > self.p.enter_spread:
                self._switch(ctx, True, spread)
            elif self.lending and spread < self.p.exit_spread:
                self._switch(ctx, False, spread)
        share = self._lend_share()
        ctx.record("lending_share_target", share)
        ctx.record("yield_spread", spread)
        equity = ctx.equity
        hedge_capital = self._full_hedge(equity) * self.hedge_scale
        steer(ctx, {v: hedge_capital}, equity * share, hedge_ratio=self.p.hedge_ratio,
              cash_buffer=self.p.cash_buffer, tol=0.02, min_move=0.001 * equity)
        rehedge(ctx, v, self.p.hedge_ratio, self.p.rehedge_threshold)

    def on_adl(self, ctx: Context, ev: AdlEvent) -> None:
        if ev.venue == self.p.venue:
            restore_after_adl(ctx, ev, self.p.hedge_ratio)

    def on_liquidation(self, ctx: Context, ev: LiquidationEvent) -> None:
        """Follow it (hedge.follow_liquidation) and hold the hedge to the capital left until the next regime switch."""
        if ev.venue != self.p.venue:
            return
        left = follow_liquidation(ctx, ev, self.p.hedge_ratio)
        full = self._full_hedge(ctx.equity)
        self.hedge_scale = min(self.hedge_scale, left / full) if full > 0.0 else 0.0
        ctx.log(f"{ev.venue}: hedge held to {self.hedge_scale:.4f} of its target after the liquidation, until the "
                "next regime switch")

    def _lend_share(self) -> float:
        """Share of equity meant for lending in the regime in force."""
        share: float = self.p.max_share if self.lending else 0.0
        return share

    def _full_hedge(self, equity: float) -> float:
        """Hedge capital the regime in force targets (before any hold after a liquidation, `hedge_scale`)."""
        full: float = equity * (1.0 - self._lend_share()) * (1.0 - self.p.cash_buffer)
        return full

    def _switch(self, ctx: Context, to_lending: bool, spread: float) -> None:
        self.hedge_scale = 1.0
        self.lending = to_lending
        self.last_switch = ctx.now
        self.switches += 1
        ctx.log(f"{'to lending' if to_lending else 'back to the hedge'}: best APY - funding APR = {spread:.4f}")
