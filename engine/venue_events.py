"""Scheduled venue events in a run (issue 15 items 4-5): ADL, halts and defaults, applied between kernel calls.

The schedule comes from `Dataset.venue_events` (data/venue_events.py). Each event is applied at the first
bar OPEN at or after its time, in Python, before that bar's fills, like a fill (engine/runner.py stops the
kernel `advance` there; no kernel change). PnL stays exact: a close at a stated price is booked like a
fill at that price (price and basis parts from the previous close), a default's written-off part goes to
the `liquidation` part (every forced loss: liquidation fees, insurance, defaults) and the ledger shows
`adl` and `default_loss` as their own kinds. Every event bar is a decision point, where the strategy's
`on_adl`, `on_venue_halt` and `on_venue_default` hooks run.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from basisbt.data.venue_events import VenueEvent, check_events
from basisbt.engine.events import AdlEvent, VenueDefaultEvent, VenueHaltEvent
from basisbt.engine.kernels.codes import (
    A_CASH,
    A_COLL,
    A_ENTRY,
    A_FUND,
    A_ISO,
    A_QTY,
    A_SPOT,
    C_ISOLATED,
    C_TIER_BASE,
    K_ADL,
    K_COLL_TRADE,
    K_DEFAULT_LOSS,
    K_REALIZED,
    K_SPOT_TRADE,
    K_TRANSFER_IN,
    K_TRANSFER_OUT,
    P_BASIS,
    P_LIQUIDATION,
    P_PRICE,
    T_AMOUNT,
    T_ARRIVE_NS,
    T_DEST,
    WHY_DEFAULTED,
    WHY_HALTED,
    WHY_LIQUIDATED,
    WHY_NONE,
)
from basisbt.engine.kernels.margin import leverage_pnl, maintenance_margin_at
from basisbt.engine.market import Market

EVENT_COLUMNS = ("ts", "venue", "kind", "instrument", "qty", "price", "amount")


@dataclass(frozen=True)
class Step:
    """One thing to do at the open of `bar`: 'adl', 'halt-start', 'halt-end' or 'default'."""

    bar: int
    order: int                 # position in the schedule: ties at one bar keep the schedule's order
    phase: str
    event: VenueEvent
    venue: int


class VenueSchedule:
    """A run's venue events resolved to bars: what is pending, and what is halted or defaulted at bar i."""

    def __init__(self, events: tuple[VenueEvent, ...], venues: list[str], open_ns: np.ndarray, where: str,
                 log: list[str]) -> None:
        check_events(events, venues, where)
        n = len(open_ns)
        self.venues = venues
        self.steps: list[Step] = []
        self.halts: list[tuple[int, int, int, VenueEvent]] = []     # (venue, first bar, end bar, event)
        self.default_bar: dict[int, int] = {}

        def bar_of(t: pd.Timestamp) -> int:
            return int(np.searchsorted(open_ns, t.value, side="left"))

        for k, ev in enumerate(events):
            j = venues.index(ev.venue)
            b = bar_of(ev.time)
            if ev.kind == "halt":
                assert ev.end is not None
                e = bar_of(ev.end)
                if b >= n or e <= 0:
                    log.append(f"{ev.time.isoformat()} {ev.describe()}: outside the run, ignored")
                    continue
                self.halts.append((j, b, e, ev))
                self.steps.append(Step(b, k, "halt-start", ev, j))
                if e < n:
                    self.steps.append(Step(e, k, "halt-end", ev, j))
                continue
            if b >= n or ev.time.value < open_ns[0]:
                log.append(f"{ev.time.isoformat()} {ev.describe()}: outside the run, ignored")
                continue
            if ev.kind == "default":
                self.default_bar[j] = b
            self.steps.append(Step(b, k, ev.kind, ev, j))
        self.steps.sort(key=lambda s: (s.bar, s.order, s.phase != "halt-end"))

    def bars(self) -> list[int]:
        """Bars at whose open something happens: each is a decision point (the strategy hears of it there)."""
        return sorted({s.bar for s in self.steps})

    def next_bar(self, n: int) -> int:
        """The bar of the next pending step (n when none): the kernel must not run past its open."""
        return self.steps[0].bar if self.steps else n

    def due(self, i: int) -> list[Step]:
        """Pop the steps due at or before bar i, in order."""
        out = []
        while self.steps and self.steps[0].bar <= i:
            out.append(self.steps.pop(0))
        return out

    def trading_blocked(self, j: int, i: int) -> int:
        """Why an order on venue j filling at bar i's open is refused (codes.WHY_*), WHY_NONE if it is not."""
        return self._blocked(j, i, "stop_trading")

    def withdrawals_blocked(self, j: int, i: int) -> int:
        """Why a transfer out of (or into) venue j at bar i's open is refused; WHY_NONE if it is not."""
        return self._blocked(j, i, "stop_withdrawals")

    def _blocked(self, j: int, i: int, flag: str) -> int:
        """WHY_DEFAULTED from venue j's default bar on, WHY_HALTED inside a halt that sets `flag`, else WHY_NONE."""
        d = self.default_bar.get(j)
        if d is not None and i >= d:
            return WHY_DEFAULTED
        for hj, b, e, ev in self.halts:
            if hj == j and getattr(ev, flag) and b <= i < e:
                return WHY_HALTED
        return WHY_NONE

    def arrival_floor(self, j: int, i: int) -> int:
        """Earliest arrival (ns) of a transfer to venue j sent at bar i: the end of a withdrawal halt under way."""
        floor = 0
        for hj, b, e, ev in self.halts:
            if hj == j and ev.stop_withdrawals and b <= i < e:
                assert ev.end is not None
                floor = max(floor, int(ev.end.value))
        return floor

    def first_other(self, j: int, i: int) -> int:
        """Where a defaulted venue's recovery goes: the first other venue (data order) not defaulted by bar i."""
        for k in range(len(self.venues)):
            d = self.default_bar.get(k)
            if k != j and (d is None or d > i):
                return k
        return j


def freeze_halts(m: Market, events: tuple[VenueEvent, ...]) -> Market:
    """The market a run sees when a halt stops its venue's marks or funding (halt `stop_marks`, `stop_funding`): a
    copy whose mark (and index: posted spot's valuation) hold their last close before the halt for every bar opening
    inside it, so no liquidation can trigger there and the first bar after it is checked from the frozen mark; and
    whose bars settling funding inside the halt pay nothing (those settlements are gone from on_funding and the
    windows too). The dataset's own market is shared by runs and never written: this is a copy."""
    halts = [e for e in events if e.kind == "halt" and (e.stop_marks or e.stop_funding) and e.venue in m.venues]
    if not halts:
        return m
    bars = dict(m.bars)
    rate, value = m.funding_rate.copy(), m.funding_value.copy()
    f_ts, f_bar, f_raw, f_stale = list(m.funding_ts), list(m.funding_bar), list(m.funding_raw), list(m.funding_stale)
    n = m.n
    for ev in halts:
        assert ev.end is not None
        j = m.venues.index(ev.venue)
        b, e = (int(np.searchsorted(m.open_ns, t.value, side="left")) for t in (ev.time, ev.end))
        if b >= n or e <= 0:
            continue
        if ev.stop_marks:
            for stream in ("mark", "index"):
                frozen = bars[f"{stream}_close"][b - 1, j] if b > 0 else bars[f"{stream}_open"][0, j]
                for c in ("open", "high", "low", "close"):
                    key = f"{stream}_{c}"
                    if bars[key] is m.bars[key]:
                        bars[key] = bars[key].copy()
                    bars[key][b:e, j] = frozen
        if ev.stop_funding:
            inside = (f_ts[j] >= ev.time.value) & (f_ts[j] < ev.end.value)
            gone = np.unique(f_bar[j][inside])          # bars settling inside the halt pay nothing
            rate[gone, j], value[gone, j] = np.nan, 0.0
            keep = ~np.isin(f_bar[j], gone)
            f_ts[j], f_bar[j], f_raw[j], f_stale[j] = f_ts[j][keep], f_bar[j][keep], f_raw[j][keep], f_stale[j][keep]
    return replace(m, bars=bars, funding_rate=rate, funding_value=value, funding_ts=f_ts, funding_bar=f_bar,
                   funding_raw=f_raw, funding_stale=f_stale)


def _book_close(eng: Any, i: int, j: int, dq: float, px: float, spot_ref: float) -> None:
    """Price and basis parts of a perp trade of dq at px at bar i's open: the same correction as a fill."""
    st, rec = eng.state, eng.rec
    prev_s, prev_m = st.prev_spot[j], st.prev_mark[j]
    price_part = dq * (prev_s - spot_ref)
    basis_part = dq * ((prev_m - prev_s) - (px - spot_ref))
    rec.pnl[i, P_PRICE] += price_part
    rec.pnl[i, P_BASIS] += basis_part
    rec.attr[j, P_PRICE] += price_part
    rec.attr[j, P_BASIS] += basis_part


def _spot_ref(eng: Any, i: int, j: int, px: float) -> float:
    """The venue's spot price at bar i's open (the perp price carried at the last basis when spot is missing)."""
    s = float(eng.arrays.spot_open[i, j])
    if math.isfinite(s) and s > 0:
        return s
    prev_s, prev_m = eng.state.prev_spot[j], eng.state.prev_mark[j]
    return px * prev_s / prev_m if prev_m > 0 and math.isfinite(prev_s) else px


def adl_price(eng: Any, j: int, price: float) -> float:
    """The price venue j deleverages at: the event's (the bankrupt's price: Binance, Bybit, OKX), or the previous
    mark, the mark close before this bar's open (its spec's adl_model = "previous_mark": Hyperliquid)."""
    if eng.specs[j].adl_model == "previous_mark":
        return float(eng.state.prev_mark[j])
    return price


def adl_score(eng: Any, j: int, wallet: float, q: float, entry: float, mark: float) -> float:
    """Where venue j ranks our position in its ADL queue (higher goes first): Binance's LeveragePnl
    (margin.leverage_pnl), or Hyperliquid's (mark / entry) x (notional / account value), entry / mark for a short
    (its profit ratio), 0 for an account value <= 0 (adl_model = "previous_mark")."""
    upnl = q * (mark - entry)
    if eng.specs[j].adl_model == "previous_mark":
        value = wallet + upnl
        ratio = mark / entry if q > 0.0 else entry / mark
        return ratio * abs(q) * mark / value if value > 0.0 and entry > 0.0 and mark > 0.0 else 0.0
    maint = maintenance_margin_at(q, mark, eng.tables.floor, eng.tables.rate, eng.tables.amount, j,
                                  eng.tables.cfg[j, C_TIER_BASE] > 0.5) if q != 0.0 else 0.0
    return leverage_pnl(wallet, upnl, maint)


def apply_adl(eng: Any, step: Step, i: int, ts_ns: int) -> AdlEvent:
    """Reduce venue j's perp by the scheduled fraction at the scheduled price (or at the previous mark where the
    venue deleverages there: Hyperliquid) if it is in profit there (no fee)."""
    ev, j = step.event, step.venue
    q, entry, px = float(eng.state.acct[j, A_QTY]), float(eng.state.acct[j, A_ENTRY]), adl_price(eng, j, ev.price)
    ts = pd.Timestamp(ts_ns, unit="ns", tz="UTC")
    if q == 0.0 or q * (px - entry) <= 0.0:
        why = "no position" if q == 0.0 else f"position {q:.6f} (entry {entry:,.2f}) not in profit"
        eng.log.append(f"{ts.isoformat()} {ev.describe()}: {why}, nothing closed")
        return AdlEvent(ts, eng.market.venues[j], 0.0, px, ev.fraction, 0.0)
    dq = -q if ev.fraction >= 1.0 else -q * ev.fraction
    realized, spot = _deleverage(eng, i, ts_ns, j, dq, px, ev.describe())
    return AdlEvent(ts, eng.market.venues[j], dq, px, ev.fraction, realized, spot)


def _deleverage(eng: Any, i: int, ts_ns: int, j: int, dq: float, px: float, what: str) -> tuple[float, float]:
    """Close dq of slot j's perp at px, no fee (ADL): realized PnL to its wallet, the ledger row `adl`, the price and
    basis parts as a fill at px, and the venue cancels the position's resting orders. Returns (the realized PnL, the
    spot price the close was booked against)."""
    acct = eng.state.acct
    q, entry = float(acct[j, A_QTY]), float(acct[j, A_ENTRY])
    realized = -dq * (px - entry)
    col = A_ISO if eng.tables.cfg[j, C_ISOLATED] > 0.5 else A_CASH
    acct[j, col] += realized
    rest = q + dq
    acct[j, A_QTY] = rest
    if rest == 0.0:
        acct[j, A_ENTRY] = 0.0
        if col == A_ISO:                       # closed: isolated margin returns to the wallet
            acct[j, A_CASH] += acct[j, A_ISO]
            acct[j, A_ISO] = 0.0
    ref = len(eng.venue_event_rows)
    eng._ledger(ts_ns, j, K_ADL, realized, ref)
    eng.cancel_resting(ts_ns, j, WHY_LIQUIDATED)           # ADL cancels the position's open orders (Binance FAQ)
    spot = _spot_ref(eng, i, j, px)
    _book_close(eng, i, j, dq, px, spot)
    ts = pd.Timestamp(ts_ns, unit="ns", tz="UTC")
    eng.venue_event_rows.append(dict(ts=ts, venue=eng.market.venues[j], kind="adl", instrument="perp", qty=dq,
                                     price=px, amount=realized))
    eng.log.append(f"{ts.isoformat()} {what}: closed {dq:+.6f} (of {q:.6f}, entry {entry:,.2f}), "
                   f"realized {realized:,.2f}")
    return realized, spot


def apply_bankruptcy(eng: Any, step: Step, i: int, ts_ns: int) -> AdlEvent:
    """Other traders went bankrupt on venue j (a market-wide deficit the backtest does not hold): the symbol's
    insurance fund (acct A_FUND) pays the loss while it can; the share it cannot cover is deleveraged from
    profitable opposite positions at their bankruptcy price, ranked by the venue's ADL score (margin.leverage_pnl,
    Binance's LeveragePnl). Our perp is reached, up to that share of the bankrupt size, when it is on the other
    side, in profit at the last mark close and scored at least the event's `adl_from`: a single account cannot
    see the rest of the queue, so the event says how deep it went (0: it reached every profitable position)."""
    ev, j = step.event, step.venue
    acct = eng.state.acct
    ts = pd.Timestamp(ts_ns, unit="ns", tz="UTC")
    venue = eng.market.venues[j]
    fund = float(acct[j, A_FUND])
    paid = min(ev.loss, max(fund, 0.0))
    acct[j, A_FUND] = fund - paid
    uncovered = ev.loss - paid
    eng.venue_event_rows.append(dict(ts=ts, venue=venue, kind="bankruptcy", instrument="", qty=0.0, price=ev.price,
                                     amount=-paid))
    q, entry = float(acct[j, A_QTY]), float(acct[j, A_ENTRY])
    if uncovered <= 0.0:
        eng.log.append(f"{ts.isoformat()} {ev.describe()}: the insurance fund paid it ({acct[j, A_FUND]:,.2f} left)")
        return AdlEvent(ts, venue, 0.0, ev.price, 0.0, 0.0)
    share = uncovered / ev.loss                      # of the bankrupt size, deleveraged from the opposite side
    mark = float(eng.state.prev_mark[j])
    wallet = float(acct[j, A_ISO] if eng.tables.cfg[j, C_ISOLATED] > 0.5 else acct[eng.market.home[j], A_CASH])
    upnl = q * (mark - entry)
    score = adl_score(eng, j, wallet, q, entry, mark)
    opposite = q < 0.0 if ev.side == "long" else q > 0.0
    head = (f"{ts.isoformat()} {ev.describe()}: the insurance fund paid {paid:,.2f} and is empty; "
            f"{share:.1%} of it is deleveraged from profitable {'shorts' if ev.side == 'long' else 'longs'}")
    if not opposite or upnl <= 0.0 or score < ev.adl_from:
        why = ("no opposite position" if not opposite else "not in profit" if upnl <= 0.0 else
               f"ADL score {score:.4g} below the queue's reach {ev.adl_from:g}")
        eng.log.append(f"{head}; ours is not reached ({why})")
        return AdlEvent(ts, venue, 0.0, ev.price, 0.0, 0.0)
    dq = -q if abs(q) <= share * ev.qty else (share * ev.qty if q < 0 else -share * ev.qty)
    px = adl_price(eng, j, ev.price)
    at = f" at the previous mark {px:,.2f}" if px != ev.price else ""
    eng.log.append(f"{head}; ours is reached (ADL score {score:.4g}){at}")
    realized, spot = _deleverage(eng, i, ts_ns, j, dq, px, ev.describe())
    return AdlEvent(ts, venue, dq, px, abs(dq / q), realized, spot)


def apply_default(eng: Any, step: Step, i: int, ts_ns: int) -> VenueDefaultEvent:
    """Close venue j's book at the stated price, write its whole balance off, send recovery x balance on.

    Balance = cash + isolated margin + the perp's PnL closed at `price` + spot at the venue's spot price
    now + collateral-asset units at their last close + money already in transit to the venue. Ledger on the venue: realized_pnl, spot_trade,
    transfer_in (money in flight), default_loss (the lost part), transfer_out (the recovered part, which
    then travels like a transfer and arrives `delay_h` later on `first_other`).
    """
    ev, j = step.event, step.venue
    st = eng.state
    acct = st.acct
    ts = pd.Timestamp(ts_ns, unit="ns", tz="UTC")
    venue = eng.market.venues[j]
    ref = len(eng.venue_event_rows)
    eng.cancel_resting(ts_ns, j, WHY_DEFAULTED, perp_only=False)
    q, entry, px = float(acct[j, A_QTY]), float(acct[j, A_ENTRY]), ev.price
    balance = float(acct[j, A_CASH] + acct[j, A_ISO])
    if q != 0.0:
        realized = q * (px - entry)
        balance += realized
        eng._ledger(ts_ns, j, K_REALIZED, realized, ref)
        _book_close(eng, i, j, -q, px, _spot_ref(eng, i, j, px))
        eng.venue_event_rows.append(dict(ts=ts, venue=venue, kind="default", instrument="perp", qty=-q, price=px,
                                         amount=realized))
    spot = float(acct[j, A_SPOT])
    if spot != 0.0:
        s = _spot_ref(eng, i, j, px)
        balance += spot * s
        eng._ledger(ts_ns, j, K_SPOT_TRADE, spot * s, ref)
        part = -spot * (st.prev_spot[j] - s)            # a spot sale of `spot` at s, valued from the last close
        eng.rec.pnl[i, P_PRICE] += part
        eng.rec.attr[j, P_PRICE] += part
        eng.venue_event_rows.append(dict(ts=ts, venue=venue, kind="default", instrument="spot", qty=-spot, price=s,
                                         amount=spot * s))
    units = float(acct[j, A_COLL])
    if units != 0.0:                                   # a collateral asset (USDe) at its last close, as equity had it
        cpx = float(eng.arrays.coll_close[max(i - 1, 0), j])
        balance += units * cpx
        eng._ledger(ts_ns, j, K_COLL_TRADE, units * cpx, ref)
        eng.venue_event_rows.append(dict(ts=ts, venue=venue, kind="default", instrument="collateral", qty=-units,
                                         price=cpx, amount=units * cpx))
    tr = st.transit
    for k in np.flatnonzero((tr[:, T_AMOUNT] != 0.0) & (tr[:, T_DEST] == j)):
        amt = float(tr[k, T_AMOUNT])                   # deposits in flight land in the failed venue
        balance += amt
        eng._ledger(ts_ns, j, K_TRANSFER_IN, amt, ref)
        tr[k, T_AMOUNT] = 0.0
    acct[j, :] = 0.0
    recovered = ev.recovery * balance if balance > 0.0 else 0.0
    lost = balance - recovered
    dst = eng.venue_events.first_other(j, i)
    if balance == 0.0 and q == 0.0 and spot == 0.0 and units == 0.0:
        eng.log.append(f"{ts.isoformat()} {ev.describe()}: the book held nothing there, nothing lost")
        return VenueDefaultEvent(ts, venue, 0.0, 0.0, 0.0, ts, eng.market.venues[dst])
    eng._ledger(ts_ns, j, K_DEFAULT_LOSS, -lost, ref)
    eng.rec.pnl[i, P_LIQUIDATION] -= lost
    eng.rec.attr[j, P_LIQUIDATION] -= lost
    arrive = ts_ns + int(round(ev.delay_h * 3600e9))
    arrive = max(arrive, eng.venue_events.arrival_floor(dst, i))
    if recovered > 0.0:
        eng._ledger(ts_ns, j, K_TRANSFER_OUT, -recovered, ref)
        eng._put_in_transit(dst, recovered, arrive)
    eng.venue_event_rows.append(dict(ts=ts, venue=venue, kind="default_loss", instrument="", qty=0.0,
                                     price=math.nan, amount=-lost))
    dest = eng.market.venues[dst]
    when = pd.Timestamp(arrive, unit="ns", tz="UTC")
    eng.log.append(f"{ts.isoformat()} {ev.describe()}: balance {balance:,.2f} written off, {recovered:,.2f} "
                   f"arrives on {dest} at {when.isoformat()}, {lost:,.2f} lost")
    return VenueDefaultEvent(ts, venue, balance, recovered, lost, when, dest)


def apply_halt(eng: Any, step: Step, i: int, ts_ns: int) -> VenueHaltEvent:
    """Start or end of a halt: at the start, transfers in flight to the venue wait for its end."""
    ev, j = step.event, step.venue
    assert ev.end is not None
    ts = pd.Timestamp(ts_ns, unit="ns", tz="UTC")
    if step.phase == "halt-start":
        if ev.stop_withdrawals:
            tr = eng.state.transit
            late = (tr[:, T_AMOUNT] != 0.0) & (tr[:, T_DEST] == j) & (tr[:, T_ARRIVE_NS] < ev.end.value)
            tr[late, T_ARRIVE_NS] = float(ev.end.value)
        eng.log.append(f"{ts.isoformat()} {ev.describe()} begins")
    else:
        eng.log.append(f"{ts.isoformat()} halt {ev.venue} ends")
    return VenueHaltEvent(ts, ev.venue, "start" if step.phase == "halt-start" else "end", ev.time, ev.end,
                          ev.stop_trading, ev.stop_withdrawals)


def apply_step(eng: Any, step: Step, i: int) -> tuple[str, Any]:
    """Apply one step at bar i's open; returns (strategy hook, event) to deliver at the next decision."""
    ts_ns = int(eng.market.open_ns[i])
    if step.phase == "adl":
        return "on_adl", apply_adl(eng, step, i, ts_ns)
    if step.phase == "default":
        return "on_venue_default", apply_default(eng, step, i, ts_ns)
    if step.phase == "bankruptcy":
        return "on_adl", apply_bankruptcy(eng, step, i, ts_ns)
    return "on_venue_halt", apply_halt(eng, step, i, ts_ns)
