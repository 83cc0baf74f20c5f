"""The baseline an engineer writes first: a plain-Python event loop over a heapq of stream cursors.

Same events and the same accounting as our engine on perp_short (spot posted as collateral, cross
margin): every bar of every stream, funding settlements (-qty * mark * rate), lending accrual
((1 + apy) ** dt), a liquidation check on each mark bar (worst of high/low against the tiered
maintenance margin), mark to market at every bar close, decisions every `decide_every` bars and
fills at the next bar's open with taker fees. No numpy in the loop: Python floats and lists.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from basisbt.data.dataset import Dataset
from basisbt.data.schemas import timeframe_ns, ts_ns

K_MARK, K_FUNDING, K_LENDING, K_BAR = 0, 1, 2, 3   # tie-break at one instant (docs/architecture.md §3)
YEAR_NS = 365 * 24 * 3600 * 10**9


@dataclass
class HeapqResult:
    final_equity: float
    funding_total: float
    n_fills: int
    events: int
    liquidations: int


def _maint(notional: float, floor: list[float], rate: list[float], amount: list[float]) -> float:
    k = 0
    for j in range(len(floor)):
        if floor[j] <= notional:
            k = j
        else:
            break
    return notional * rate[k] - amount[k]


def prepare(ds: Dataset, venue: str = "binance") -> dict:
    """Python lists of every stream (the loop's 'market build', timed apart from the loop)."""
    tf = timeframe_ns(ds.timeframe)
    venues = ds.venues
    streams = []   # (kind, key, times, cols...)
    for j, v in enumerate(venues):
        for inst, frame in (("spot", ds.spot[v]), ("perp", ds.perp[v])):
            streams.append((K_BAR, (j, inst), (ts_ns(frame) + tf).tolist(), frame["open"].tolist(),
                            frame["close"].tolist()))
        mk = ds.mark[v]
        streams.append((K_MARK, (j, "mark"), (ts_ns(mk) + tf).tolist(), mk["high"].tolist(), mk["low"].tolist(),
                        mk["close"].tolist()))
        f = ds.funding[v]
        streams.append((K_FUNDING, (j, "funding"), ts_ns(f).tolist(), f["rate"].tolist(),
                        f["mark_price"].tolist()))
    for p in ds.protocols:
        f = ds.lending[p]
        streams.append((K_LENDING, (len(venues) + ds.protocols.index(p), "lending"), ts_ns(f).tolist(),
                        f["supply_apy"].tolist()))
    return {"streams": streams, "venues": venues, "n_protocols": len(ds.protocols), "tf_ns": tf,
            "venue": venues.index(venue), "n_bars": len(ds.perp[venues[0]])}


def run_heapq(prep: dict, *, decide_every: int = 60, cash: float = 1_000_000.0, taker_fee: float = 0.0005,
              spot_taker_fee: float = 0.001, haircut: float = 0.05, liq_fee: float = 0.0125,
              tiers: tuple[list[float], list[float], list[float]] = ([0.0], [0.004], [0.0]),
              cash_buffer: float = 0.01, rehedge_threshold: float = 0.02) -> HeapqResult:
    """perp_short on venue `prep['venue']`, one pop/push per event."""
    streams, nv, npr = prep["streams"], len(prep["venues"]), prep["n_protocols"]
    w = prep["venue"]
    n_bars = prep["n_bars"]
    dt_years = prep["tf_ns"] / YEAR_NS
    floor, rate, amount = tiers
    acct_cash = [0.0] * nv
    acct_cash[w] = cash
    spot_q, perp_q, entry = [0.0] * nv, [0.0] * nv, [0.0] * nv
    spot_px, mark_px = [0.0] * nv, [0.0] * nv
    lend, apy = [0.0] * npr, [0.0] * npr
    funding_total, n_fills, n_events, n_liq = 0.0, 0, 0, 0
    bar_streams = sum(1 for s in streams if s[0] == K_BAR)
    seen_bars = 0
    bar = 0
    pending: list[tuple[int, float]] = []   # (instrument 0 spot / 1 perp, qty) on venue w
    opened = False
    spot_open = perp_open = None
    for s in streams:
        if s[0] == K_BAR and s[1] == (w, "spot"):
            spot_open = s[3]
        elif s[0] == K_BAR and s[1] == (w, "perp"):
            perp_open = s[3]
    heap = [(s[2][0], s[0], sid, 0) for sid, s in enumerate(streams) if s[2]]
    heapq.heapify(heap)
    equity = cash
    while heap:
        t, kind, sid, row = heap[0]
        s = streams[sid]
        n_events += 1
        if pending:                                       # fills at the open of the bar after the decision
            for ins, q in pending:
                if ins == 0:
                    px = spot_open[bar]
                    acct_cash[w] -= q * px + abs(q) * px * spot_taker_fee
                    spot_q[w] += q
                else:
                    px = perp_open[bar]
                    acct_cash[w] -= abs(q) * px * taker_fee
                    old = perp_q[w]
                    new = old + q
                    if old == 0.0 or old * q > 0.0:
                        entry[w] = (old * entry[w] + q * px) / new
                    elif abs(q) <= abs(old):
                        acct_cash[w] += -q * (px - entry[w])
                        if new == 0.0:
                            entry[w] = 0.0
                    else:
                        acct_cash[w] += old * (px - entry[w])
                        entry[w] = px
                    perp_q[w] = new
                n_fills += 1
            pending = []
        if kind == K_MARK:
            j = s[1][0]
            q = perp_q[j]
            if q != 0.0:                                  # liquidation check on the worst mark of the bar
                m = s[3][row] if q < 0.0 else s[4][row]
                bal = acct_cash[j] + q * (m - entry[j]) + spot_q[j] * (1.0 - haircut) * m
                if bal <= _maint(abs(q) * m, floor, rate, amount):
                    acct_cash[j] += q * (m - entry[j]) - abs(q) * m * liq_fee
                    perp_q[j] = entry[j] = 0.0
                    n_liq += 1
            mark_px[j] = s[5][row]
        elif kind == K_FUNDING:
            j = s[1][0]
            if perp_q[j] != 0.0:
                pay = -perp_q[j] * s[4][row] * s[3][row]
                acct_cash[j] += pay
                funding_total += pay
        elif kind == K_LENDING:
            apy[s[1][0] - nv] = s[3][row]
        else:
            j = s[1][0]
            if s[1][1] == "spot":
                spot_px[j] = s[4][row]
            seen_bars += 1
            if seen_bars == bar_streams:                  # every bar of this instant is in: close the bar
                seen_bars = 0
                for p in range(npr):
                    lend[p] *= (1.0 + apy[p]) ** dt_years
                equity = sum(lend)
                for v in range(nv):
                    equity += acct_cash[v] + spot_q[v] * spot_px[v] + perp_q[v] * (mark_px[v] - entry[v])
                if (bar % decide_every == decide_every - 1) and bar + 1 < n_bars:
                    if not opened:
                        q = acct_cash[w] * (1.0 - cash_buffer) / spot_px[w]
                        pending = [(0, q), (1, -q)]
                        opened = True
                    else:
                        drift = spot_q[w] + perp_q[w]
                        if abs(drift) > rehedge_threshold * max(abs(spot_q[w]), 1e-12):
                            pending = [(1, -drift)]
                bar += 1
        row += 1
        if row < len(s[2]):
            heapq.heapreplace(heap, (s[2][row], kind, sid, row))
        else:
            heapq.heappop(heap)
    return HeapqResult(equity, funding_total, n_fills, n_events, n_liq)


def tiers_of(ds: Dataset, venue: str) -> tuple[list[float], list[float], list[float]]:
    """The venue's maintenance tiers for the dataset's base asset, as Python lists."""
    from basisbt.data.venues import load_venue
    t = load_venue(venue, at=ds.perp[venue]["ts"].iloc[0]).tier_table(ds.base)
    return list(map(float, t.floor)), list(map(float, t.rate)), list(map(float, t.amount))


__all__ = ["HeapqResult", "prepare", "run_heapq", "tiers_of", "np", "math"]
