"""Helpers the multi-venue built-ins share: value a venue's hedge, open/close it, steer it to targets.

A "hedge" on a venue is long spot + short perp on that same venue, with the spot posted as
perp collateral (Ethena's set-up). Its value (the capital it holds, quote units) is
spot_qty x spot + perp_qty x (mark - entry): a rally raises the spot and lowers the short's
unrealized PnL by about the same amount, so the value stays near what was put in.
On a venue that does not take the spot as margin (Hyperliquid: USDC only) the short is margined with quote
cash instead: the hedge also holds perp notional / QUOTE_MARGIN_LEVERAGE of cash (`margin_reserve`), which is
part of its value and not free for other uses (`configure_hedges` sets each venue up the way it allows).
Orders fill at the next bar's open; everything here counts orders already queued this decision.
"""
from __future__ import annotations

from basisbt.engine.context import Context
from basisbt.engine.events import AdlEvent, LiquidationEvent

# perp notional / quote margin of a hedge on a venue that does not take its spot as margin (Hyperliquid): 3x
# leaves a short room for about a +30 % move before its margin is gone (perp_short's `leverage` default). A
# constant, not a declared parameter, so that runs on venues taking spot margin keep their identity.
QUOTE_MARGIN_LEVERAGE = 3.0


def configure_hedges(ctx: Context, venues: list[str]) -> None:
    """Cross margin on each venue, its spot posted as perp margin where the venue takes it (Ethena's set-up) and
    quote-margined elsewhere (Hyperliquid), slot by slot when a venue trades several assets."""
    for v in venues:
        slots = [k for k in ctx.slots if ctx.split(k)[0] == v]
        if all(ctx.takes_spot_margin(k) for k in slots) or not any(ctx.takes_spot_margin(k) for k in slots):
            ctx.configure(v, spot_collateral=ctx.takes_spot_margin(slots[0]), isolated=False)
        else:
            for k in slots:
                ctx.configure(v, spot_collateral=ctx.takes_spot_margin(k), isolated=False, asset=ctx.split(k)[1])


def margin_reserve(ctx: Context, venue: str, leverage: float = QUOTE_MARGIN_LEVERAGE) -> float:
    """Quote cash a quote-margined hedge keeps for its short: |perp (orders queued included)| x mark / leverage;
    0 where the spot is the margin."""
    if ctx.spot_margin(venue):
        return 0.0
    perp = ctx.perp_qty(venue) + ctx.pending(venue, "perp")
    return abs(perp) * ctx.price(venue, "mark") / leverage if perp != 0.0 else 0.0


def tradable(ctx: Context, venue: str) -> bool:
    """Both legs of the hedge have a real bar now (a venue lists late, or its data has a gap)."""
    return ctx.listed(venue, "spot") and ctx.listed(venue, "perp")


def unit_value(ctx: Context, venue: str) -> float:
    """Capital held per base unit of hedge on `venue` (quote): spot + the short's uPnL per unit."""
    spot = ctx.spot_qty(venue)
    s = ctx.price(venue, "spot")
    if spot <= 1e-12:
        return s
    perp = ctx.perp_qty(venue)
    upnl = perp * (ctx.price(venue, "mark") - ctx.entry_price(venue)) if perp != 0.0 else 0.0
    return max((spot * s + upnl) / spot, 1e-9)


def hedge_value(ctx: Context, venue: str) -> float:
    """Capital in the hedge on `venue` (quote), including spot already ordered this decision (and, quote-margined,
    the cash kept as the short's margin)."""
    spot = ctx.spot_qty(venue)
    pend = ctx.pending(venue, "spot")
    if spot == 0.0 and pend == 0.0:
        return 0.0                      # also before the venue lists (its price is NaN then)
    return spot * unit_value(ctx, venue) + pend * ctx.price(venue, "spot") + margin_reserve(ctx, venue)


def open_hedge(ctx: Context, venue: str, value: float, hedge_ratio: float = 1.0, reason: str = "open") -> float:
    """Put `value` quote into the hedge: buy spot and short hedge_ratio x that quantity of perp (quote-margined:
    value = spot + its short's margin, spot = value / (1 + hedge_ratio / QUOTE_MARGIN_LEVERAGE)); returns base
    units bought."""
    if value <= 0.0 or not tradable(ctx, venue):
        return 0.0
    if ctx.spot_margin(venue):
        qty = value / ctx.price(venue, "spot")
    else:
        qty = value / (ctx.price(venue, "spot") * (1.0 + hedge_ratio / QUOTE_MARGIN_LEVERAGE))
    ctx.order(venue, "spot", qty, reason)
    ctx.order(venue, "perp", -qty * hedge_ratio, reason)
    return qty


def close_hedge(ctx: Context, venue: str, value: float, reason: str = "unwind") -> float:
    """Unwind `value` quote of hedge capital: sell spot and buy back perp in proportion; returns base sold.

    Cash freed is about `value` (spot proceeds less the short's realized loss, or plus its gain:
    buying back a perp that trades at a discount to spot is a gain, the seed's 5.8 % case; quote-margined,
    plus the margin the bought-back short no longer needs).
    """
    spot = ctx.spot_qty(venue) + ctx.pending(venue, "spot")
    if value <= 0.0 or spot <= 1e-12 or not tradable(ctx, venue):
        return 0.0
    per_unit = unit_value(ctx, venue) + (margin_reserve(ctx, venue) / spot)
    qty = min(value / per_unit, spot)
    sell_hedge_units(ctx, venue, qty, reason)
    return qty


def sell_hedge_units(ctx: Context, venue: str, qty: float, reason: str) -> None:
    """Sell `qty` base units of the hedge's spot and buy back its short in the same proportion (the perp per unit of
    spot, orders queued this decision included), so what is left keeps its hedge ratio."""
    spot = ctx.spot_qty(venue) + ctx.pending(venue, "spot")
    perp = ctx.perp_qty(venue) + ctx.pending(venue, "perp")
    ratio = -perp / spot if spot > 0 else 0.0
    ctx.order(venue, "spot", -qty, reason)
    if ratio > 0.0:
        ctx.order(venue, "perp", qty * ratio, reason)


def rehedge(ctx: Context, venue: str, hedge_ratio: float, threshold: float, reason: str = "rehedge") -> bool:
    """Bring the venue's perp to -hedge_ratio x its spot when off by more than `threshold` of the spot."""
    spot = ctx.spot_qty(venue) + ctx.pending(venue, "spot")
    perp = ctx.perp_qty(venue) + ctx.pending(venue, "perp")
    target = -spot * hedge_ratio
    if abs(perp - target) <= threshold * max(abs(spot), 1e-12) or not ctx.listed(venue, "perp"):
        return False
    ctx.order(venue, "perp", target - perp, reason)
    return True


def restore_after_adl(ctx: Context, ev: AdlEvent, hedge_ratio: float) -> bool:
    """After the venue auto-deleveraged part of the short (Strategy.on_adl), short the spot's hedge again now:
    the spot is untouched, so the book is long the deleveraged part until the perp is restored."""
    if ev.qty == 0.0:
        return False
    ctx.log(f"{ev.venue}: ADL closed {ev.qty:+.6f} perp at {ev.price:,.2f}; restoring the hedge")
    return rehedge(ctx, ev.venue, hedge_ratio, 0.0, "restore hedge after ADL")


def follow_partial_liquidation(ctx: Context, ev: LiquidationEvent, hedge_ratio: float,
                               reason: str = "follow partial liquidation") -> bool:
    """After a liquidation that left the perp open (a tier step-down, a book slice: `ev.qty` is only the closed
    part, signed as the position), sell the spot that part hedged, -ev.qty / hedge_ratio (the hedge holds perp =
    -hedge_ratio x spot), so the book stays delta-neutral at its smaller size instead of being unwound or shorted
    back into the breach. Returns True when the position is still open (read from ctx: the book at the bar's
    close, after every liquidation of the bar), False when it is gone and the caller's full-liquidation rule
    applies."""
    if ctx.perp_qty(ev.venue) == 0.0:
        return False
    spot = ctx.spot_qty(ev.venue) + ctx.pending(ev.venue, "spot")
    sell = min(-ev.qty / hedge_ratio, spot) if hedge_ratio > 0.0 else 0.0   # ev.qty: the short's closed part, < 0
    if sell > 0.0:
        ctx.order(ev.venue, "spot", -sell, reason)
    ctx.log(f"{ev.venue}: {ev.kind} liquidation closed {ev.qty:+.6f} perp at {ev.price:,.2f}, "
            f"{ctx.perp_qty(ev.venue):+.6f} left; selling {max(sell, 0.0):.6f} spot to stay hedged")
    return True


def follow_liquidation(ctx: Context, ev: LiquidationEvent, hedge_ratio: float) -> float:
    """A desk's answer to a liquidation of the hedge on `ev.venue` (a slot): a partial one (the short still open) is
    followed (follow_partial_liquidation: the spot the closed part hedged is sold), a full one leaves spot with
    nothing against it, and that spot is sold. Returns the hedge capital left there (quote, the sale queued now
    included): what a multi-venue book holds the slot's target to, so its steer neither shorts the closed part back
    (rehedge) nor rebuilds the hedge to its old size (steer), both straight back into the breach."""
    if not follow_partial_liquidation(ctx, ev, hedge_ratio):
        ctx.log(f"{ev.venue}: {ev.kind} liquidation closed the short at {ev.price:,.2f}; selling the spot it hedged")
        ctx.target_position(ev.venue, "spot", 0.0, "unwind after liquidation")
    return max(hedge_value(ctx, ev.venue), 0.0)


def best_protocol(ctx: Context) -> tuple[str | None, float]:
    """(protocol, supply APY) with the highest APY now; (None, nan) without lending data."""
    best, apy = None, float("nan")
    for p in ctx.protocols:
        a = ctx.lending_apy(p)
        if best is None or a > apy:
            best, apy = p, a
    return best, apy


def lent_total(ctx: Context) -> float:
    """Quote supplied to every protocol now."""
    return sum(ctx.lent(p) for p in ctx.protocols)


def steer(ctx: Context, targets: dict[str, float], lend_target: float, *, hedge_ratio: float = 1.0,
          cash_buffer: float = 0.01, tol: float = 0.05, min_move: float = 0.0) -> list[str]:
    """Move the book toward hedge capital `targets` (slot -> quote) and `lend_target` (quote in lending).

    One step per decision, in this order (each later step only uses cash already on a venue):
    1. unwind hedges that are above target by more than `tol` (relative) and `min_move`;
    2. open hedges below target with the venue's free cash (cash above `cash_buffer` x target);
    3. if nothing is in transit: withdraw lending above target to the neediest venue, send free
       cash from venues without a need to the neediest venue, and lend what is left over
       (to the best protocol) while lending is below target.
    Cash freed in step 1 is moved at a later decision, once it is on the venue. Returns a log of actions.
    """
    done: list[str] = []
    need: dict[str, float] = {}
    free: dict[str, float] = {}
    # targets are per slot (venue, or 'venue:ASSET' with several assets); cash is per venue, shared by its slots
    venue_of = {k: ctx.split(k)[0] for k in targets}
    cash_left: dict[str, float] = {}
    for k, tgt in targets.items():
        v = venue_of[k]
        if v not in cash_left:
            cash_left[v] = ctx.cash(v) - cash_buffer * sum(max(t, 0.0) for kk, t in targets.items()
                                                           if venue_of[kk] == v)
            cash_left[v] -= sum(margin_reserve(ctx, kk) for kk in targets if venue_of[kk] == v)
        h = hedge_value(ctx, k)
        gap = tgt - h
        band = max(tol * max(tgt, h), min_move)
        if gap < -band:
            close_hedge(ctx, k, -gap, "steer: above target")
            done.append(f"unwind {k} {-gap:.0f}")
            gap = 0.0
        cash = cash_left[v]
        if gap > band and cash > min_move:
            amt = min(gap, cash / (1.0 + 2 * (ctx.costs(v).spot_fee + ctx.costs(v).perp_fee)))
            open_hedge(ctx, k, amt, hedge_ratio, "steer: below target")
            done.append(f"open {k} {amt:.0f}")
            gap -= amt
            cash_left[v] = cash - amt
        need[v] = need.get(v, 0.0) + (max(gap, 0.0) if gap > band else 0.0)
    for v, cash in cash_left.items():
        free[v] = max(cash, 0.0) if need[v] == 0.0 else 0.0
    if ctx.in_transit > 0.0:
        return done
    lent = lent_total(ctx)
    total_need = sum(need.values())
    if total_need > min_move and lent > lend_target + min_move:
        dst = max(need, key=lambda v: need[v])
        amt = min(lent - lend_target, total_need)
        for p in sorted(ctx.protocols, key=ctx.lending_apy):
            take = min(amt, ctx.lent(p))
            if take > 0:
                ctx.withdraw(p, take, dst)
                done.append(f"withdraw {p} {take:.0f} -> {dst}")
                amt -= take
        return done
    for src in sorted(free, key=lambda v: free[v], reverse=True):
        amt = free[src] - ctx.costs(src).transfer_fee
        if amt <= min_move:
            continue
        if total_need > min_move:
            dst = max(need, key=lambda v: need[v])
            send = min(amt, need[dst])
            ctx.move_collateral(src, dst, send)
            done.append(f"move {src} -> {dst} {send:.0f}")
            need[dst] -= send
            total_need -= send
            amt -= send
        proto, _ = best_protocol(ctx)
        if proto is not None and lend_target > lent + min_move and amt > min_move:
            put = min(amt, lend_target - lent)
            ctx.lend(proto, put, src)
            done.append(f"lend {src} -> {proto} {put:.0f}")
            lent += put
    return done
