"""perp_short: the cash-and-carry hedge. Long spot, short an equal perp notional on one venue.

Two set-ups (parameter `collateral`):
- `spot`: the spot is posted as perp collateral on the venue (Ethena's set-up); a crash barely
  moves margin because the collateral falls with the short's loss... and a rally is covered
  by the spot's gain (minus the haircut).
- `usdt`: the short is margined with USDT only (perp notional / `leverage`); the spot is held but
  does not count as margin (classic cash and carry). A sharp rally can liquidate the short.
- `usde`: as `usdt`, but the margin (perp notional / `leverage`) is converted into the dataset's
  collateral asset (USDe in the `collateral-depeg` scenario) when the hedge opens: a depeg of that
  asset shrinks the margin (Binance Multi-Assets mode, 2025-10-10).
Re-hedges when the net delta drifts past `rehedge_threshold` of the spot held, and (usdt) tops
up margin by selling spot and shrinking the hedge when the distance to liquidation falls below
`min_liq_distance`. A liquidation that leaves the short open (OKX/Bybit tier step-down, a Hyperliquid
book slice) sells only the spot the closed part hedged; one that closes it sells the spot and stops
(or, with `reopen_after_liquidation`, rebuilds the hedge).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from basisbt.engine.context import Context
from basisbt.engine.events import AdlEvent, BarEvent, LiquidationEvent, StartEvent, VenueDefaultEvent
from basisbt.strategies.base import Strategy, param, require_venue
from basisbt.strategies.hedge import follow_partial_liquidation


class PerpShort(Strategy):
    """Long spot + short perp on one venue, re-hedged on drift."""

    name = "perp_short"
    summary = "long spot, short an equal perp notional on one venue; re-hedge on delta drift"
    decide = "bar"

    @dataclass(frozen=True, kw_only=True)
    class Params:
        venue: str = param("binance", "venue that holds the spot and the short")
        collateral: str = param("spot", "'spot': spot posted as perp margin; 'usdt': USDT margin only; 'usde': "
                                "the margin held as the dataset's collateral asset", choices=("spot", "usdt", "usde"))
        leverage: float = param(3.0, "usdt/usde collateral: perp notional / margin", gt=0.0, le=125.0)
        hedge_ratio: float = param(1.0, "perp short size as a fraction of the spot held", ge=0.0, le=2.0)
        rehedge_threshold: float = param(0.02, "re-hedge when |spot + perp| exceeds this share of spot", ge=0.0, le=1.0)
        cash_buffer: float = param(0.01, "spot collateral: share of capital kept as USDT for fees", ge=0.0, lt=1.0)
        min_liq_distance: float = param(0.0, "usdt: top up margin when the mark is closer than this "
                                             "fraction to the liquidation price (0 = never)", ge=0.0, lt=1.0)
        reopen_after_liquidation: bool = param(False, "rebuild the hedge after a liquidation")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.opened = False
        self.stopped = False
        self.reopen = False

    def validate(self, venues: list[str], protocols: list[str]) -> None:
        require_venue(self.p.venue, venues)

    def initial_allocation(self, venues: list[str]) -> dict[str, float]:
        return {self.p.venue: 1.0}

    def on_start(self, ctx: Context, ev: StartEvent) -> None:
        ctx.configure(self.p.venue, spot_collateral=self.p.collateral == "spot", isolated=False)

    def on_bar(self, ctx: Context, ev: BarEvent) -> None:
        v = self.p.venue
        if self.stopped:
            ctx.sleep()                 # nothing more to do; only an event could say otherwise
            return
        if not self.opened:
            if ctx.listed(v, "spot") and ctx.listed(v, "perp"):     # a venue may list after the data starts
                self._open(ctx)
            return
        if self.reopen:
            self._reopen(ctx)
            self.reopen = False
            return
        watch_margin = self.p.collateral == "usdt" and self.p.min_liq_distance > 0
        if watch_margin and ctx.perp_qty(v) != 0.0:
            self._top_up(ctx)
        spot = ctx.spot_qty(v) + ctx.pending(v, "spot")
        traded = ctx.hedge_to_delta(v, target_delta=spot * (1.0 - self.p.hedge_ratio),
                                    threshold=self.p.rehedge_threshold)
        if not traded and not watch_margin and not ctx.pending(v, "spot") and not ctx.pending(v, "perp"):
            # spot and perp change only through fills, liquidations and ADL, all events that wake it: until one
            # comes the delta (and so this check) stays where it is
            ctx.sleep()

    def _open(self, ctx: Context) -> None:
        v = self.p.venue
        s = ctx.price(v, "spot")
        capital = ctx.cash(v)
        if self.p.collateral == "spot":
            spot_notional = capital * (1.0 - self.p.cash_buffer)
        else:
            # capital = spot notional + perp notional / leverage, perp notional = hedge_ratio * spot notional
            spot_notional = capital / (1.0 + self.p.hedge_ratio / self.p.leverage) * (1.0 - self.p.cash_buffer)
        qty = spot_notional / s
        ctx.order(v, "spot", qty, "open")
        ctx.order(v, "perp", -qty * self.p.hedge_ratio, "open")
        if self.p.collateral == "usde":         # the margin, converted after the orders fill
            ctx.buy_collateral(v, spot_notional * self.p.hedge_ratio / self.p.leverage)
        self.opened = True

    def _top_up(self, ctx: Context) -> None:
        v = self.p.venue
        m = ctx.margin(v)
        if m.distance >= self.p.min_liq_distance:
            return
        # sell a slice of spot for cash margin and cut the short by the same amount
        cut = 0.1 * ctx.spot_qty(v)
        ctx.order(v, "spot", -cut, "margin top-up")
        ctx.order(v, "perp", cut * self.p.hedge_ratio, "margin top-up")
        ctx.log(f"{v}: distance to liquidation {m.distance:.3f} < {self.p.min_liq_distance}; sold 10% of spot")

    def on_liquidation(self, ctx: Context, ev: LiquidationEvent) -> None:
        """A partial liquidation (a tier step-down, a book slice) leaves the short open: sell the spot the closed
        part hedged and carry on. Only when the short is gone: sell the spot and stop, or rebuild the hedge."""
        if ev.venue != self.p.venue or self.stopped:
            return
        if follow_partial_liquidation(ctx, ev, self.p.hedge_ratio, "follow partial liquidation"):
            return
        if self.reopen:                        # a later row of the same bar's liquidations: already handled
            return
        # several rows may close it in one bar (book slices, then the backstop): the engine logs each one
        ctx.log(f"{ev.venue}: the short is gone after this bar's liquidations; "
                + ("rebuilding the hedge" if self.p.reopen_after_liquidation else "selling the spot and stopping"))
        if not self.p.reopen_after_liquidation:
            # unhedged spot is not this strategy's book: sell it and stop
            ctx.target_position(self.p.venue, "spot", 0.0, "unwind after liquidation")
            self.stopped = True
        else:
            self.reopen = True

    def on_adl(self, ctx: Context, ev: AdlEvent) -> None:
        """The venue deleveraged part of the short: the spot stayed, so short it again at the next open."""
        if ev.venue != self.p.venue or ev.qty == 0.0 or self.stopped:
            return
        spot = ctx.spot_qty(ev.venue) + ctx.pending(ev.venue, "spot")
        ctx.log(f"{ev.venue}: ADL closed {ev.qty:+.6f} perp at {ev.price:,.2f}; restoring the hedge")
        ctx.hedge_to_delta(ev.venue, target_delta=spot * (1.0 - self.p.hedge_ratio), threshold=0.0,
                           reason="restore hedge after ADL")

    def on_venue_default(self, ctx: Context, ev: VenueDefaultEvent) -> None:
        """Our venue failed: its book is gone (what is recovered arrives elsewhere); nothing left to hedge."""
        if ev.venue == self.p.venue:
            ctx.log(f"{ev.venue} defaulted: {ev.lost:,.2f} lost, {ev.recovered:,.2f} to {ev.destination}; stopping")
            self.stopped = True

    def _reopen(self, ctx: Context) -> None:
        """Rebuild the hedge after a liquidation from what is left (spot + cash), same split as at the start.

        usdt: part of the spot is sold so the venue holds perp notional / leverage as margin again;
        spot: the remaining spot is shorted again (it is its own collateral).
        """
        v = self.p.venue
        s = ctx.price(v, "spot")
        spot = ctx.spot_qty(v)
        if self.p.collateral == "spot":
            keep = spot
        else:
            total = spot * s + ctx.cash(v)
            keep = min(spot, total / (1.0 + self.p.hedge_ratio / self.p.leverage) * (1.0 - self.p.cash_buffer) / s)
        ctx.order(v, "spot", keep - spot, "reopen after liquidation")
        ctx.target_position(v, "perp", -keep * self.p.hedge_ratio, "reopen after liquidation")
        ctx.log(f"{v}: hedge rebuilt after liquidation on {keep:.4f} spot")
