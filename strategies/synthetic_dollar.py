"""synthetic_dollar: a USDe-like product — supply, mints and redemptions, realized revenue, reserve fund, stakers.

Book: long spot + short perp on every venue by `venue_weights` (equal by default), spot posted as perp
collateral (Ethena's set-up), `cash_buffer` of each mint kept as USDT on the venue. With several assets in the
data, `asset_weights` splits each venue's hedge over them ('ETH=0.5,BTC=0.3,USDT=0.2'; the quote's share is held
as cash, unhedged); each (venue, asset) slot is a hedge. `allocation='regime'` sets the share of backing hedged
with perps from trailing funding instead (strategies/regime.py); the rest is held as stables (cash).

The product's books follow the protocol's own accounting (docs/strategies.md; Ethena's docs), not the equity:
- supply (the synthetic dollars outstanding) starts at initial capital x (1 - reserve_seed); the reserve fund
  holds the rest. Mints and redemptions are the dataset's flows scaled by initial supply / `reference_supply`,
  netted per decision: a net mint M adds to supply and opens its hedge; a net redemption R (at most 95 % of
  supply) unwinds the hedge by R (by weight, or deepest perp discount first) and pays 1 USD per unit.
- revenue is what is REALIZED (strategies/revenue.py): funding, basis realized when perps are bought back
  (strategies/realized_basis.py), collateral yield (LST staking, stables, lending), less fees, slippage and
  liquidation losses, booked into the payout period (strategies/payout.py) of the decision that sees it. Marks
  (a stale price in a gap, a basis that reverts) move the assets and the backing ratio, never the payouts.
- each closed period's revenue is split (strategies/staking.py): a negative period is paid by the reserve fund;
  a positive one gives the reserve its take and stakers the rest, which is paid through the next period in
  vesting steps into the staking vault (supply grows as it vests; the vault's share price never falls).
- assets = equity (+ flows ordered now, landing at the next open) + collateral yield accrued off the venues
  (the engine holds no LST or T-bill: that yield is counted here); backing_ratio = assets / supply.
- staker_apy: the APY published for the period being paid, (1 + payout / staked supply at the close)^(periods
  a year) - 1, i.e. weekly compounding for weekly periods; NaN before the first payout.
Recorded each decision: backing_ratio, reserve_fund, supply, staker_apy, share_price, perp_share. At each period
close and at the end: revenue_<source> (cumulative, quote) for every source, and per period period_revenue,
period_staker_payout and period_reserve_take. A reserve below zero is logged once ("reserve fund exhausted").
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from basisbt.engine.config import ConfigError
from basisbt.engine.context import Context
from basisbt.engine.events import (
    AdlEvent,
    BarEvent,
    EndEvent,
    FillEvent,
    LiquidationEvent,
    StartEvent,
    VenueDefaultEvent,
)
from basisbt.strategies.base import Strategy, param, require_venue
from basisbt.strategies.hedge import (
    close_hedge,
    configure_hedges,
    follow_partial_liquidation,
    hedge_value,
    open_hedge,
    rehedge,
    restore_after_adl,
    sell_hedge_units,
    tradable,
)
from basisbt.strategies.payout import Cadence, PayoutSchedule
from basisbt.strategies.presets import PRESETS, apply_preset
from basisbt.strategies.realized_basis import BasisBook
from basisbt.strategies.regime import RegimeRule, weighted_funding
from basisbt.strategies.revenue import SOURCES, RevenueBook, accrual
from basisbt.strategies.staking import RESERVE_RULES, Vault, split_revenue


def parse_asset_weights(spec: str, assets: list[str], quote: str) -> tuple[dict[str, float], float]:
    """'ETH=0.5,BTC=0.3,USDT=0.2' -> ({asset: weight}, quote share), normalized to sum 1 together;
    '' -> equal over the assets, no quote share."""
    if not spec.strip():
        return {a: 1.0 / len(assets) for a in assets}, 0.0
    out: dict[str, float] = {}
    for part in spec.split(","):
        if "=" not in part:
            raise ConfigError(f"asset_weights: expected ASSET=weight, got {part!r}")
        k, w = (x.strip() for x in part.split("=", 1))
        if k not in assets and k != quote:
            raise ConfigError(f"asset_weights: {k!r} is not in the data; valid: {', '.join([*assets, quote])}")
        try:
            out[k] = float(w)
        except ValueError:
            raise ConfigError(f"asset_weights: weight of {k} is {w!r}, not a number") from None
    total = sum(out.values())
    if total <= 0 or any(not w >= 0 for w in out.values()):
        raise ConfigError("asset_weights must be non-negative and sum to > 0")
    quote_share = out.pop(quote, 0.0) / total
    if quote_share >= 1.0:
        raise ConfigError(f"asset_weights: {quote} takes the whole book; give some weight to an asset")
    return {a: w / total for a, w in out.items()}, quote_share


def parse_weights(spec: str, venues: list[str]) -> dict[str, float]:
    """'binance=0.5,okx=0.5' -> normalized weights; '' -> equal over all venues."""
    if not spec.strip():
        return {v: 1.0 / len(venues) for v in venues}
    out: dict[str, float] = {}
    for part in spec.split(","):
        if "=" not in part:
            raise ConfigError(f"venue_weights: expected venue=weight, got {part!r}")
        k, w = part.split("=", 1)
        require_venue(k.strip(), venues)
        out[k.strip()] = float(w)
    total = sum(out.values())
    if total <= 0 or any(w < 0 for w in out.values()):
        raise ConfigError("venue_weights must be non-negative and sum to > 0")
    return {k: w / total for k, w in out.items()}


class SyntheticDollar(Strategy):
    """A USDe-like synthetic dollar: hedge over venues, mint/redeem flows, realized revenue paid weekly to stakers."""

    name = "synthetic_dollar"
    summary = ("USDe-like product: realized revenue paid to stakers weekly in vesting steps, reserve fund, "
               "allocation by funding regime, backing ratio")
    decide = "bar"
    multi_asset = True

    @dataclass(frozen=True, kw_only=True)
    class Params:
        preset: str = param("none", "a protocol's published parameters ('ethena'); values you set win",
                            choices=("none", *PRESETS))
        venue_weights: str = param("", "collateral split, e.g. 'binance=0.5,bybit=0.25,okx=0.25' ('' = equal)")
        asset_weights: str = param("", "backing split over assets when the data has several, e.g. "
                                        "'ETH=0.5,BTC=0.3,USDT=0.2' (the quote's share stays cash; '' = equal)")
        reserve_rule: str = param("share", "the reserve's take of a positive period: 'share' (reserve_share of "
                                            "it) or 'unstaked' (what the unstaked supply earned)",
                                  choices=RESERVE_RULES)
        reserve_share: float = param(0.2, "share of a positive period's revenue kept by the reserve fund "
                                          "(reserve_rule=share; the rest to stakers)", ge=0.0, le=1.0)
        reserve_seed: float = param(0.01, "share of initial capital that seeds the reserve (not supply)", ge=0.0, lt=1.0)
        reserve_cap: float = param(0.0, "reserve fund target as a share of supply: its take stops there, the "
                                        "rest goes to stakers (0 = no cap)", ge=0.0, le=1.0)
        staked_share: float = param(0.3, "share of supply (and of each mint or redemption) that is staked",
                                    gt=0.0, le=1.0)
        payout_period_h: float = param(168.0, "revenue is computed per period of this many hours (Monday 00:00 "
                                              "UTC based) and paid through the next one", ge=1.0, le=8784.0)
        payout_step_h: float = param(8.0, "hours between the transfers that pay a period's revenue", gt=0.0,
                                     le=8784.0)
        payout_vest_h: float = param(8.0, "hours over which each transfer vests linearly (0 = at once)", ge=0.0,
                                     le=8784.0)
        reference_supply: float = param(2.5e9, "supply (USD) the dataset's flows refer to; flows are scaled "
                                               "by initial supply / this (0 = ignore flows)", ge=0.0, le=1e13)
        redeem_from: str = param("weights", "where redemptions unwind: 'weights' or 'discount' "
                                            "(deepest perp discount first)", choices=("weights", "discount"))
        hedge_ratio: float = param(1.0, "perp short as a fraction of the spot held", ge=0.0, le=2.0)
        rehedge_threshold: float = param(0.02, "re-hedge a venue when |spot + perp| exceeds this share of spot", ge=0.0, le=1.0)
        cash_buffer: float = param(0.01, "share of capital and of each mint kept as USDT on the venue", ge=0.0, lt=1.0)
        min_trade: float = param(0.0, "hedge changes below this (quote) wait and accumulate", ge=0.0, le=1e12)
        resize_band: float = param(0.0, "keep each hedge's notional at its share of the backing, trading when "
                                        "off by more than this share of it (0 = never: the quantity opened stays)",
                                   ge=0.0, le=1.0)
        allocation: str = param("fixed", "share of backing hedged with perps: 'fixed' (all, less asset_weights' "
                                          "quote share) or 'regime' (by trailing funding vs the stables yield)",
                                choices=("fixed", "regime"))
        perp_share_high: float = param(0.85, "regime: perp share of backing when funding beats the stables by "
                                             "regime_spread_high or more", ge=0.0, le=1.0)
        perp_share_low: float = param(0.30, "regime: perp share when funding is at or below the stables yield "
                                            "+ regime_spread_low", ge=0.0, le=1.0)
        regime_spread_low: float = param(0.0, "regime: funding APR - stables APY at which the low share applies",
                                         ge=-1.0, le=1.0)
        regime_spread_high: float = param(0.05, "regime: funding APR - stables APY from which the high share "
                                                "applies (linear between)", ge=-1.0, le=1.0)
        regime_lookback_days: float = param(30.0, "regime: trailing window of the funding APR (days)", gt=0.0,
                                            le=365.0)
        regime_band: float = param(0.05, "regime: rebalance when the target perp share moves this far", ge=0.0,
                                   le=1.0)
        lst_share: float = param(0.0, "share of the spot held as a liquid staking token earning lst_apy", ge=0.0,
                                 le=1.0)
        lst_apy: float = param(0.03, "staking yield of the LST (fraction a year)", ge=-0.5, le=1.0)
        lst_apy_from: str = param("", "a lending protocol in the data whose supply APY is the LST yield stream "
                                      "('' = the constant lst_apy)")
        stables_apy: float = param(0.0, "yield on the cash held as stables (fraction a year; T-bills, USDtb)",
                                   ge=-0.5, le=1.0)
        stables_apy_from: str = param("", "a lending protocol in the data whose supply APY is the stables yield "
                                          "stream ('' = the constant stables_apy)")

    def __init__(self, **params: Any) -> None:
        preset = str(params.get("preset", "none"))
        if preset not in ("none", *PRESETS):
            raise ConfigError(f"{self.name}: preset must be one of none, {', '.join(PRESETS)}, not {preset!r}")
        super().__init__(**apply_preset(preset, params))
        p = self.p
        if p.payout_step_h > p.payout_period_h:
            raise ConfigError(f"{self.name}: payout_step_h ({p.payout_step_h:g}) must not exceed payout_period_h "
                              f"({p.payout_period_h:g})")
        if p.perp_share_low > p.perp_share_high:
            raise ConfigError(f"{self.name}: perp_share_low ({p.perp_share_low:g}) must not exceed "
                              f"perp_share_high ({p.perp_share_high:g})")
        if p.regime_spread_low > p.regime_spread_high:
            raise ConfigError(f"{self.name}: regime_spread_low ({p.regime_spread_low:g}) must not exceed "
                              f"regime_spread_high ({p.regime_spread_high:g})")
        self.cadence = Cadence.hours(p.payout_period_h, p.payout_step_h, p.payout_vest_h)
        self.rule = RegimeRule(p.perp_share_low, p.perp_share_high, p.regime_spread_low, p.regime_spread_high)
        self.w: dict[str, float] = {}        # slot (venue; 'venue:ASSET' with several assets) -> share of the book
        self.cash_w: dict[str, float] = {}   # venue -> share of the book held as cash (stables)
        self.venue_w: dict[str, float] = {}  # venue -> share of the book
        self.split_w: dict[str, float] = {}  # regime: slot -> its share of the hedged part (sums to 1)
        self.slot_venue: dict[str, str] = {}  # slot -> its venue
        self.perp_target = 1.0               # regime: the perp share of backing in force
        self.opened_on: set[str] = set()     # venues whose hedge is open (each at its first real bar)
        self.supply = 0.0
        self.initial = 0.0
        self.scale = 0.0
        self.last_flow_ts = None
        self.unhedged: dict[str, float] = {}
        # the protocol's books (module docstring)
        self.revenue = RevenueBook()
        self.basis = BasisBook()
        self.payouts = PayoutSchedule(self.cadence)
        self.vault = Vault.open(0.0)
        self.reserve = 0.0
        self.offchain = 0.0                  # collateral yield accrued off the venues (LST, stables), in the assets
        self.staker_apy = math.nan           # published APY of the period being paid
        self.next_close: int | None = None   # the oldest period not closed yet
        self.first_ns = 0                    # the first decision
        self.last_bar = -1                   # engine PnL booked up to this bar
        self.last_ns: int | None = None      # previous decision (for the yield accruals)
        self.yield_base = (0.0, 0.0, 0.0, 0.0)   # (LST value, stables, LST APY, stables APY) at the last decision
        self.reserve_out = False

    def validate(self, venues: list[str], protocols: list[str]) -> None:
        self.venue_w = parse_weights(self.p.venue_weights, venues)
        self.w = dict(self.venue_w)
        for key in ("lst_apy_from", "stables_apy_from"):
            name = getattr(self.p, key)
            if name:
                require_venue(name, protocols, what=f"{key} protocol")

    def _split_assets(self, ctx: Context) -> None:
        """With several assets: each venue's weight split over its slots by asset_weights (renormalized over
        the assets the venue lists), the quote's share kept as cash."""
        quote = ctx.symbol.split("/")[1]
        if len(ctx.assets) == 1:
            if self.p.asset_weights.strip():            # checked all the same: a typo must not pass silently
                parse_asset_weights(self.p.asset_weights, ctx.assets, quote)
            return
        aw, cash_share = parse_asset_weights(self.p.asset_weights, ctx.assets, quote)
        if cash_share > 0.0 and self.p.allocation == "regime":
            raise ConfigError(f"{self.name}: asset_weights gives {quote} a share and allocation=regime sets the "
                              f"stables' share too; drop {quote} from asset_weights or use allocation=fixed")
        self.w, self.cash_w = {}, {}
        for v, vw in self.venue_w.items():
            here = {k: aw[a] for k in ctx.slots for kv, a in [ctx.split(k)] if kv == v and aw[a] > 0}
            total = sum(here.values())
            for k, a in here.items():
                self.w[k] = vw * (1.0 - cash_share) * a / total
            self.cash_w[v] = vw * (cash_share if total > 0 else 1.0)

    def initial_allocation(self, venues: list[str]) -> dict[str, float]:
        return dict(parse_weights(self.p.venue_weights, venues))

    def on_start(self, ctx: Context, ev: StartEvent) -> None:
        self._split_assets(ctx)
        self.slot_venue = {k: ctx.split(k)[0] for k in ctx.slots}
        if self.p.allocation == "regime":
            total = sum(self.w.values())
            self.split_w = {k: w / total for k, w in self.w.items()}
            self._set_perp_share(self.rule.high)
        configure_hedges(ctx, list(self.venue_w))
        self.initial = ctx.equity
        self.supply = self.initial * (1.0 - self.p.reserve_seed)
        self.reserve = self.initial - self.supply
        self.vault = Vault.open(self.p.staked_share * self.supply)
        self.scale = self.supply / self.p.reference_supply if self.p.reference_supply > 0 else 0.0
        self.unhedged = {v: 0.0 for v in self.w}

    # -- what a close realizes ---------------------------------------------------------------------------
    def _book_basis(self, ctx: Context, amount: float) -> None:
        self.revenue.book(self.cadence.period_of(ctx.now.value), "basis", amount)

    def on_fill(self, ctx: Context, ev: FillEvent) -> None:
        if ev.instrument == "perp":
            self._book_basis(ctx, self.basis.trade(ev.venue, ev.qty, ev.ref_price, ev.spot_price))

    def on_liquidation(self, ctx: Context, ev: LiquidationEvent) -> None:
        """Book the basis the close realized. A partial liquidation (a tier step-down, a book slice) leaves the
        short open: the spot the closed part hedged is sold, so the slot stays hedged at its smaller size (shorting
        it back, as a rehedge would, puts the closed part straight back into the breach). A short that is gone is
        rebuilt on the spot left by the next rehedge: the product keeps its backing hedged."""
        # closed at the liquidation price, spot carried at the last close's basis (as the kernel books it)
        s, m = (ctx.history(ev.venue, kind, "close", 2)[0] for kind in ("spot", "mark"))
        self._book_basis(ctx, self.basis.trade(ev.venue, -ev.qty, ev.price, ev.price * s / m))
        if ev.venue in self.w:
            follow_partial_liquidation(ctx, ev, self.p.hedge_ratio)

    def on_adl(self, ctx: Context, ev: AdlEvent) -> None:
        if ev.qty != 0.0:
            self._book_basis(ctx, self.basis.trade(ev.venue, ev.qty, ev.price, ev.spot_price))
        if ev.venue in self.w:
            restore_after_adl(ctx, ev, self.p.hedge_ratio)

    def on_venue_default(self, ctx: Context, ev: VenueDefaultEvent) -> None:
        """A venue failed: its book is written off (the loss is realized revenue: the reserve pays it); mints and
        redemptions go to the other venues from now on (weights renormalized). The recovered part arrives later on
        ev.destination and is kept as cash backing. The perps closed there realize their basis at this bar's
        opening prices."""
        for k, v in self.slot_venue.items():
            if v == ev.venue:
                perp, spot = (ctx.history(k, kind, "open", 1)[0] for kind in ("perp", "spot"))
                self._book_basis(ctx, self.basis.close_all(k, perp, spot))
        if ev.venue not in self.w:
            return
        ctx.log(f"{ev.venue} defaulted: {ev.lost:,.2f} lost, {ev.recovered:,.2f} arrives on {ev.destination}")
        self.w.pop(ev.venue)
        self.unhedged.pop(ev.venue, None)
        total = sum(self.w.values())
        if total > 0:
            self.w = {v: w / total for v, w in self.w.items()}
        if self.split_w:
            self.split_w = dict(self.w)
            self.venue_w = {v: w for v, w in self.venue_w.items() if v != ev.venue}
            vt = sum(self.venue_w.values())
            self.venue_w = {v: w / vt for v, w in self.venue_w.items()}
            self._set_perp_share(self.perp_target)

    # -- each bar -----------------------------------------------------------------------------------------
    def on_bar(self, ctx: Context, ev: BarEvent) -> None:
        now_ns = ctx.now.value
        self._book_bars(ctx, now_ns)
        self._vest(now_ns)                      # first: a period closing now sees everything vested by now
        self._close_periods(ctx, now_ns)
        self._vest(now_ns)                      # then what the period just closed pays at once (vest_h = 0)
        # the book as it stands is steered first, while nothing is in flight this decision
        if self.p.allocation == "regime" and self._regime_moved(ctx):
            self._steer(ctx, 0.0, "regime")
        elif self.p.resize_band > 0.0:
            self._steer(ctx, self.p.resize_band, "resize")
        for v in self.w:                # each slot opens at its first real bar (venues list at different times)
            if v not in self.opened_on and open_hedge(ctx, v, ctx.cash(v) * (1.0 - self.p.cash_buffer)
                                                      * self._share(v), self.p.hedge_ratio, "open") > 0.0:
                self.opened_on.add(v)
        net = self._apply_flows(ctx)
        for v in self.w:
            rehedge(ctx, v, self.p.hedge_ratio, self.p.rehedge_threshold)
        self._note_yield_base(ctx)
        self._record(ctx, net)

    def on_end(self, ctx: Context, ev: EndEvent) -> None:
        self._record_revenue(ctx)            # what the open period realized so far, in the cumulative series

    def _vest(self, now_ns: int) -> None:
        """Payouts vested since the last decision: minted to stakers (supply and the vault's assets grow)."""
        vested = self.payouts.vest(now_ns)
        if vested > 0.0:
            self.supply += vested
            self.vault.reward(vested)

    def _share(self, slot: str) -> float:
        """The slot's share of its venue's cash (1 with one asset and every dollar hedged)."""
        return self.w[slot] / self.venue_w[self.slot_venue[slot]]

    def _book_bars(self, ctx: Context, now_ns: int) -> None:
        """Book what the bars since the last decision realized into the period of this decision: the engine's
        cash flows (funding, lending, fees, slippage, liquidation) and the off-venue collateral yield."""
        k = self.cadence.period_of(now_ns)
        if self.next_close is None:
            self.next_close, self.first_ns = k, now_ns
        self.revenue.book_engine(k, ctx.pnl_since(self.last_bar))
        self.last_bar = ctx.bar
        if self.last_ns is not None:
            lst_value, stables, lst_apy, stables_apy = self.yield_base
            dt = now_ns - self.last_ns
            lst, stab = accrual(lst_value, lst_apy, dt), accrual(stables, stables_apy, dt)
            self.revenue.book(k, "lst", lst)
            self.revenue.book(k, "stables", stab)
            self.offchain += lst + stab
        self.last_ns = now_ns

    def _note_yield_base(self, ctx: Context) -> None:
        """Balances and APYs the off-venue yield accrues on until the next decision (past data only)."""
        p = self.p
        if p.lst_share == 0.0 and p.stables_apy == 0.0 and not p.stables_apy_from:
            return
        spot = 0.0
        for k in self.slot_venue:
            q = ctx.spot_qty(k)
            if q != 0.0:
                spot += q * ctx.price(k, "spot")
        stables = sum(ctx.cash(v) for v in self.venue_w)
        lst_apy = ctx.lending_apy(p.lst_apy_from) if p.lst_apy_from else p.lst_apy
        self.yield_base = (p.lst_share * spot, stables, lst_apy, self._stables_apy(ctx))

    def _stables_apy(self, ctx: Context) -> float:
        """The yield on the cash held as stables now: the named protocol's supply APY, else the constant."""
        p = self.p
        return ctx.lending_apy(p.stables_apy_from) if p.stables_apy_from else p.stables_apy

    def _close_periods(self, ctx: Context, now_ns: int) -> None:
        """Close every period that has ended by now: split its revenue, set the stakers' payout for the next
        period and the APY published for it."""
        while self.next_close is not None and self.cadence.start(self.next_close + 1) <= now_ns:
            k = self.next_close
            rev = self.revenue.close(k)
            x = math.fsum(rev.values())
            stakers, keep = split_revenue(x, rule=self.p.reserve_rule, reserve_share=self.p.reserve_share,
                                          staked=self.vault.assets, supply=self.supply, reserve=self.reserve,
                                          reserve_cap=self.p.reserve_cap)
            self.reserve += keep
            self.payouts.set(k, stakers)
            staked = self.vault.assets
            years = self.cadence.period_ns / (365 * 86_400e9)
            self.staker_apy = (1.0 + stakers / staked) ** (1.0 / years) - 1.0 if staked > 0 else math.nan
            ctx.record("period_revenue", x)
            ctx.record("period_staker_payout", stakers)
            ctx.record("period_reserve_take", keep)
            self._record_revenue(ctx)
            self.next_close = k + 1

    def _record_revenue(self, ctx: Context) -> None:
        for source in SOURCES:
            ctx.record(f"revenue_{source}", self.revenue.total[source])

    # -- allocation by regime -----------------------------------------------------------------------------
    def _set_perp_share(self, share: float) -> None:
        """Regime: slot weights = share x their split of the hedged part; each venue's rest is cash (stables)."""
        self.perp_target = share
        self.w = {k: share * s for k, s in self.split_w.items()}
        self.cash_w = {v: vw - sum(w for k, w in self.w.items() if self.slot_venue[k] == v)
                       for v, vw in self.venue_w.items()}

    def _regime_moved(self, ctx: Context) -> bool:
        """Regime: the rule's target perp share; True (weights reset) when it moved by regime_band or more."""
        p = self.p
        if ctx.now.value - self.first_ns < p.regime_lookback_days * 86_400e9:
            return False                        # a full window of funding first: a few prints annualize wildly
        aprs = {k: ctx.funding_apr(k, p.regime_lookback_days) for k in self.split_w}
        target = self.rule.perp_share(weighted_funding(aprs, self.split_w), self._stables_apy(ctx))
        if target == self.perp_target or abs(target - self.perp_target) < p.regime_band:
            return False
        ctx.log(f"regime: perp share of backing {self.perp_target:.0%} -> {target:.0%}")
        self._set_perp_share(target)
        return True

    def _steer(self, ctx: Context, band: float, why: str) -> None:
        """Trade each slot's hedge (spot and perp together) to the notional its weight gives it of its venue's
        assets (cash + hedge capital) less the cash buffer, when off by more than `band` of that target. Buys
        use the venue's free cash only (unrealized perp gains are not cash until a close realizes them)."""
        p = self.p
        for v in self.venue_w:
            mine = [k for k in self.w if self.slot_venue[k] == v]
            slots = [k for k in mine if k in self.opened_on and tradable(ctx, k)]
            if not slots:
                continue
            value = ctx.cash(v) + sum(hedge_value(ctx, k) for k in mine)
            free = ctx.cash(v) - p.cash_buffer * value
            for k in slots:
                spot_px = ctx.price(k, "spot")
                want = value * (1.0 - p.cash_buffer) * self.w[k] / self.venue_w[v] / spot_px
                have = ctx.spot_qty(k) + ctx.pending(k, "spot")
                gap = want - have
                if abs(gap) <= band * want or abs(gap) * spot_px <= p.min_trade:
                    continue
                if gap < 0:
                    sell_hedge_units(ctx, k, -gap, why)
                elif free > 0:
                    amt = min(gap * spot_px, free)
                    free -= amt
                    open_hedge(ctx, k, amt, p.hedge_ratio, why)

    # -- mints and redemptions ----------------------------------------------------------------------
    def _apply_flows(self, ctx: Context) -> float:
        """Net mint (+) / redemption (-) known since the last decision, applied; returns the net (quote)."""
        if self.scale == 0.0:
            return 0.0
        mint, redeem, last = ctx.flows_since(self.last_flow_ts)
        if last is None:
            return 0.0
        self.last_flow_ts = last
        net = float((mint - redeem) * self.scale)
        if net < 0:
            net = -min(-net, 0.95 * self.supply)
        self.supply += net
        self.vault.deposit(self.p.staked_share * net)      # the staked share of a mint is staked, of a redemption unstaked
        if net > 0:
            for v, w in self.w.items():
                ctx.external_flow(v, net * w, "mint")
                self.unhedged[v] += net * w * (1.0 - self.p.cash_buffer)
            for v, w in self.cash_w.items():             # the stablecoin share of a mint stays cash
                if w > 0:
                    ctx.external_flow(v, net * w, "mint")
        else:
            for v, amt in self._redeem_split(ctx, -net).items():
                ctx.external_flow(v, -amt, "redeem")
                self.unhedged[v] -= amt
            for v, w in self.cash_w.items():             # ... and a redemption's share of it is paid from cash
                if w > 0:
                    ctx.external_flow(v, net * w, "redeem")
        for v in self.w:
            u = self.unhedged[v]
            if abs(u) <= self.p.min_trade:
                continue
            if u > 0:
                open_hedge(ctx, v, u, self.p.hedge_ratio, "mint")
            else:
                close_hedge(ctx, v, -u, "redeem")
            self.unhedged[v] = 0.0
        return net

    def _redeem_split(self, ctx: Context, amount: float) -> dict[str, float]:
        """Quote to unwind per slot for a redemption of `amount`: by weight, or deepest perp discount first
        (the quote's share of asset_weights is paid from cash, not unwound)."""
        if self.p.redeem_from == "weights":
            return {v: amount * w for v, w in self.w.items()}
        out: dict[str, float] = {}
        basis = {v: ctx.price(v, "perp") / ctx.price(v, "spot") - 1.0 for v in self.w if tradable(ctx, v)}
        left = amount * (1.0 - sum(self.cash_w.values())) if self.cash_w else amount
        for v in sorted(basis, key=lambda u: basis[u]):
            take = min(left, max(hedge_value(ctx, v), 0.0))
            if take > 0:
                out[v] = take
                left -= take
        if left > 0:                     # more than the hedge: the rest comes out of cash by weight
            total = sum(self.w.values()) if self.cash_w else 1.0
            for v, w in self.w.items():
                out[v] = out.get(v, 0.0) + left * w / total
        return out

    # -- what the product reports ---------------------------------------------------------------------
    def _record(self, ctx: Context, net: float) -> None:
        assets = ctx.equity + net + self.offchain
        if self.reserve < 0.0 and not self.reserve_out:
            self.reserve_out = True
            ctx.log(f"reserve fund exhausted: reserve {self.reserve:,.2f} after paying a negative period; backing "
                    f"{assets / self.supply:.6f}")
        perp = 0.0                              # perp notional: the backing the shorts hedge
        for k in self.slot_venue:
            q = ctx.perp_qty(k)
            if q != 0.0:
                perp -= q * ctx.price(k, "mark")
        ctx.record("backing_ratio", assets / self.supply if self.supply > 0 else float("nan"))
        ctx.record("reserve_fund", self.reserve)
        ctx.record("supply", self.supply)
        ctx.record("staker_apy", self.staker_apy)
        ctx.record("share_price", self.vault.price)
        ctx.record("perp_share", perp / assets if assets > 0 else float("nan"))
