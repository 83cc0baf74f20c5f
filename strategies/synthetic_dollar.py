"""synthetic_dollar: a USDe-like product — supply, mints and redemptions, reserve fund, stakers, backing.

Book: long spot + short perp on every venue by `venue_weights` (equal by default), spot posted as
perp collateral (Ethena's set-up), `cash_buffer` of each mint kept as USDT on the venue. With several
assets in the data, `asset_weights` splits each venue's hedge over them ('ETH=0.5,BTC=0.3,USDT=0.2'; the
quote's share is held as cash, unhedged, as Ethena holds stablecoins); each (venue, asset) slot is a hedge.

Accounting (all quote units, USD; simple and exact, a bookkeeping split of one equity):
- assets = equity of the book (+ external flows ordered this decision, which land at the next open).
- supply starts at initial capital x (1 - reserve_seed); the rest is the reserve's seed.
  (reserve_seed=0 gives supply = initial capital exactly; then opening fees alone put backing
  a hair below 1.)
- mints / redemptions: the dataset's flows rows known by now (ctx.flows_history), scaled by
  initial supply / `reference_supply` (the scenario's flows are for a product of that size).
  Mints and redemptions known at one decision are netted. Net mint M: supply += M,
  ctx.external_flow(+M) split by weight, and a hedge of M x (1 - cash_buffer) is opened.
  Net redemption R (capped at 95 % of supply): supply -= R, the hedge is unwound by R on the
  venues (by weight, or deepest perp discount first with redeem_from='discount') and
  ctx.external_flow(-R) pays the redeemer 1 USD per unit. Unwinding a short by buying back a
  perp that trades below spot is a gain (the seed's 5.8 % Binance discount): that part is
  recorded as `redemption_basis_gain` = sum over redemption fills of qty x (spot px - perp px).
- income: cum_pnl = equity - initial capital - flows already applied. Only new highs of
  cum_pnl are distributed: reserve_share of them stays in the reserve, the rest is minted to
  stakers (supply grows by it). A fall of cum_pnl (negative funding, fees, basis) is paid by the
  reserve; a recovery up to the previous high refills the reserve first (no double payout).
- reserve_fund = assets - supply (it can go negative: a deficit). backing_ratio = assets / supply.
- staker_apy: staker payouts over the last 7 days / staked supply (staked_share x supply) x 365/7.
Recorded each decision with ctx.record: backing_ratio, reserve_fund, supply, staker_apy,
redemption_basis_gain.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import pandas as pd

from basisbt.engine.config import ConfigError
from basisbt.engine.context import Context
from basisbt.engine.events import AdlEvent, BarEvent, FillEvent, StartEvent, VenueDefaultEvent
from basisbt.strategies.base import Strategy, param, require_venue
from basisbt.strategies.hedge import (close_hedge, configure_hedges, hedge_value, open_hedge, rehedge,
                                      restore_after_adl, tradable)


DAY_NS = 86_400 * 10**9


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
    """A USDe-like synthetic dollar: hedge spread over venues, mint/redeem flows, reserve fund, stakers."""

    name = "synthetic_dollar"
    summary = "USDe-like product: mint/redeem flows, hedge over venues, reserve fund, staker APY, backing ratio"
    decide = "bar"
    multi_asset = True

    @dataclass(frozen=True, kw_only=True)
    class Params:
        venue_weights: str = param("", "collateral split, e.g. 'binance=0.5,bybit=0.25,okx=0.25' ('' = equal)")
        asset_weights: str = param("", "backing split over assets when the data has several, e.g. "
                                        "'ETH=0.5,BTC=0.3,USDT=0.2' (the quote's share stays cash; '' = equal)")
        reserve_share: float = param(0.2, "share of new income kept by the reserve fund (rest to stakers)", ge=0.0, le=1.0)
        reserve_seed: float = param(0.01, "share of initial capital that seeds the reserve (not supply)", ge=0.0, lt=1.0)
        staked_share: float = param(0.3, "share of supply that is staked and receives the income", gt=0.0, le=1.0)
        reference_supply: float = param(2.5e9, "supply (USD) the dataset's flows refer to; flows are scaled "
                                               "by initial supply / this (0 = ignore flows)", ge=0.0, le=1e13)
        redeem_from: str = param("weights", "where redemptions unwind: 'weights' or 'discount' "
                                            "(deepest perp discount first)", choices=("weights", "discount"))
        hedge_ratio: float = param(1.0, "perp short as a fraction of the spot held", ge=0.0, le=2.0)
        rehedge_threshold: float = param(0.02, "re-hedge a venue when |spot + perp| exceeds this share of spot", ge=0.0, le=1.0)
        cash_buffer: float = param(0.01, "share of capital and of each mint kept as USDT on the venue", ge=0.0, lt=1.0)
        min_trade: float = param(0.0, "hedge changes below this (quote) wait and accumulate", ge=0.0, le=1e12)
        distribute: str = param("decision", "when stakers are paid the income set aside for them: at each "
                                            "'decision', 'daily' or 'weekly' (Ethena pays sUSDe weekly)",
                                choices=("decision", "daily", "weekly"))
        reserve_cap: float = param(0.0, "reserve fund target as a share of supply: income above it goes to "
                                        "stakers in full (0 = no cap)", ge=0.0, le=1.0)

    def __init__(self, **params) -> None:
        super().__init__(**params)
        for k in ("reserve_share", "reserve_seed", "staked_share", "cash_buffer"):
            if not 0.0 <= getattr(self.p, k) <= 1.0:
                raise ConfigError(f"{self.name}: {k} must be in [0, 1], not {getattr(self.p, k)}")
        if self.p.staked_share <= 0.0:
            raise ConfigError(f"{self.name}: staked_share must be > 0")
        self.w: dict[str, float] = {}        # slot (venue; 'venue:ASSET' with several assets) -> share of the book
        self.cash_w: dict[str, float] = {}   # venue -> share of the book held as cash (asset_weights' quote share)
        self.venue_w: dict[str, float] = {}  # venue -> share of the book
        self.slot_venue: dict[str, str] = {}  # slot -> its venue (several assets only)
        self.opened = False
        self.opened_on: set[str] = set()     # venues whose hedge is open (each at its first real bar)
        self.supply = 0.0
        self.initial = 0.0
        self.scale = 0.0
        self.flows_applied = 0.0        # external flows already ordered (they land at the next open)
        self.hwm = 0.0                  # highest cum_pnl distributed so far
        self.last_flow_ts: pd.Timestamp | None = None
        self.unhedged: dict[str, float] = {}
        self.payouts: deque[tuple[pd.Timestamp, float]] = deque()
        self.basis_gain = 0.0
        self.reserve_out: pd.Timestamp | None = None
        self.pending = 0.0              # staker income recognized but not yet paid (distribute daily / weekly)
        self.paid_day = 0.0             # staker payouts of the current UTC day, for staker_apy_day
        self.day: int | None = None     # UTC day number of the last decision
        self.started: pd.Timestamp | None = None

    def validate(self, venues: list[str], protocols: list[str]) -> None:
        self.venue_w = parse_weights(self.p.venue_weights, venues)
        self.w = dict(self.venue_w)

    def _split_assets(self, ctx: Context) -> None:
        """With several assets: each venue's weight split over its slots by asset_weights (renormalized over
        the assets the venue lists), the quote's share kept as cash."""
        if len(ctx.assets) == 1:
            if self.p.asset_weights.strip():            # checked all the same: a typo must not pass silently
                parse_asset_weights(self.p.asset_weights, ctx.assets, ctx.symbol.split("/")[1])
            return
        aw, cash_share = parse_asset_weights(self.p.asset_weights, ctx.assets, ctx.symbol.split("/")[1])
        self.w, self.cash_w = {}, {}
        self.slot_venue = {k: ctx.split(k)[0] for k in ctx.slots}
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
        configure_hedges(ctx, list(self.venue_w))
        self.initial = ctx.equity
        self.started = ctx.now
        self.supply = self.initial * (1.0 - self.p.reserve_seed)
        self.scale = self.supply / self.p.reference_supply if self.p.reference_supply > 0 else 0.0
        self.unhedged = {v: 0.0 for v in self.w}

    def on_fill(self, ctx: Context, ev: FillEvent) -> None:
        if ev.reason == "redeem":
            # spot sold (qty < 0) brings qty x spot px, perp bought back costs qty x perp px
            self.basis_gain += -ev.qty * ev.price

    def on_adl(self, ctx: Context, ev: AdlEvent) -> None:
        if ev.venue in self.w:
            restore_after_adl(ctx, ev, self.p.hedge_ratio)

    def on_venue_default(self, ctx: Context, ev: VenueDefaultEvent) -> None:
        """A venue failed: its book is written off; mints and redemptions go to the other venues from now on
        (weights renormalized). The recovered part arrives later on ev.destination and is kept as cash backing."""
        if ev.venue not in self.w:
            return
        ctx.log(f"{ev.venue} defaulted: {ev.lost:,.2f} lost, {ev.recovered:,.2f} arrives on {ev.destination}")
        self.w.pop(ev.venue)
        self.unhedged.pop(ev.venue, None)
        total = sum(self.w.values())
        if total > 0:
            self.w = {v: w / total for v, w in self.w.items()}

    def on_bar(self, ctx: Context, ev: BarEvent) -> None:
        self._close_day(ctx)
        if self.opened:
            self._distribute(ctx)
        for v, w in self.w.items():     # each slot opens at its first real bar (venues list at different times)
            if v not in self.opened_on and open_hedge(ctx, v, ctx.cash(v) * (1.0 - self.p.cash_buffer) * self._share(v),
                                                      self.p.hedge_ratio, "open") > 0.0:
                self.opened_on.add(v)
        self.opened = True
        net = self._apply_flows(ctx)
        for v in self.w:
            rehedge(ctx, v, self.p.hedge_ratio, self.p.rehedge_threshold)
        self._record(ctx, net)

    def _share(self, slot: str) -> float:
        """The slot's share of its venue's starting cash: 1 with one asset (the venue's hedge is its slot)."""
        if not self.cash_w:
            return 1.0
        return self.w[slot] / self.venue_w[self.slot_venue[slot]]

    # -- income and the reserve ---------------------------------------------------------------------
    def _distribute(self, ctx: Context) -> None:
        """Recognize new highs of cumulative PnL: reserve_share to the reserve (none above reserve_cap x
        supply), the rest to stakers, minted now or at the next daily / weekly payout."""
        cum = ctx.equity - self.initial - self.flows_applied
        if cum > self.hwm:
            new = cum - self.hwm
            to_stakers = new * (1.0 - self.p.reserve_share)
            if self.p.reserve_cap > 0.0:                 # fill the reserve up to its target, no further
                reserve = ctx.equity - self.supply - self.pending - new      # before this income
                keep = min(new * self.p.reserve_share, max(self.p.reserve_cap * self.supply - reserve, 0.0))
                to_stakers = new - keep
            self.pending += to_stakers
            self.hwm = cum
        if self.pending > 0.0 and self._payday(ctx.now):
            self.supply += self.pending
            self.payouts.append((ctx.now, self.pending))
            self.paid_day += self.pending
            self.pending = 0.0
        while self.payouts and (ctx.now - self.payouts[0][0]).total_seconds() > 7 * 86400:
            self.payouts.popleft()

    def _close_day(self, ctx: Context) -> None:
        """At the first decision of a new UTC day, record what stakers were paid on the day before (annualized
        over the staked supply): staker_apy_day, stamped when it is known (that first decision, not the day's
        start: a value stamped at 00:00 of its own day would be look-ahead)."""
        day = ctx.now.value // DAY_NS                      # integer days: Timestamp.floor costs ~50 us a call
        if self.day is not None and day > self.day:
            staked = self.p.staked_share * self.supply
            ctx.record("staker_apy_day", self.paid_day / staked * 365.0 if staked > 0 else float("nan"))
            self.paid_day = 0.0
        self.day = day

    def _payday(self, now: pd.Timestamp) -> bool:
        """Whether income set aside is paid at this decision: always, or at the first decision of a new UTC
        day (daily) or of a new ISO week (weekly, Monday 00:00 UTC)."""
        if self.p.distribute == "decision":
            return True
        last = (self.payouts[-1][0] if self.payouts else (self.started or now)).value // DAY_NS
        today = now.value // DAY_NS
        if self.p.distribute == "daily":
            return today > last
        return (today + 3) // 7 > (last + 3) // 7          # ISO weeks: day 0 (1970-01-01) was a Thursday

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
        self.flows_applied += net
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
        for v in sorted(basis, key=basis.get):
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
        assets = ctx.equity + net
        reserve = assets - self.supply
        staked = self.p.staked_share * self.supply
        paid = sum(x for _, x in self.payouts)
        apy = paid / staked * 365.0 / 7.0 if staked > 0 else float("nan")
        if reserve <= 0 and self.reserve_out is None:
            self.reserve_out = ctx.now
            ctx.log(f"reserve fund exhausted: reserve {reserve:.2f}, backing {assets / self.supply:.6f}")
        ctx.record("backing_ratio", assets / self.supply if self.supply > 0 else float("nan"))
        ctx.record("reserve_fund", reserve)
        ctx.record("supply", self.supply)
        ctx.record("staker_apy", apy)
        ctx.record("redemption_basis_gain", self.basis_gain)
