"""The merged event queue (docs/architecture.md §3): every input as (known_ns, kind, key, row, bar), sorted.

At one instant the tie-break is liquidation check < funding < lending < bar close < fills; the
queue holds the inputs (funding, lending, bars), liquidation checks and fills are what the
kernels and the runner do around them in the same order. `bar` is the index of the bar at
whose close the event is processed.
"""
from __future__ import annotations

import numpy as np

from basisbt.engine.market import Market

EV_LIQUIDATION = 0
EV_FUNDING = 1
EV_LENDING = 2
EV_BAR = 3
EV_FILL = 4

EVENT_DT = np.dtype([("known_ns", "i8"), ("kind", "i1"), ("key", "i4"), ("row", "i8"), ("bar", "i8")])


def _events(known_ns: np.ndarray, kind: int, key: int, row: np.ndarray, bar: np.ndarray) -> np.ndarray:
    """One block of queue entries of a single kind and key."""
    e = np.empty(known_ns.shape[0], EVENT_DT)
    for name, value in zip(EVENT_DT.names, (known_ns, kind, key, row, bar), strict=True):
        e[name] = value
    return e


def events_of(market: Market) -> np.ndarray:
    """build_events(market), built once per Market and kept on it (read-only to its users)."""
    ev = market.__dict__.get("_events")
    if ev is None:
        ev = market.__dict__["_events"] = build_events(market)
        ev.flags.writeable = False
    return ev


def build_events(market: Market, lending_ts: list[np.ndarray] | None = None) -> np.ndarray:
    """The sorted event queue of a market: funding settlements, lending rate changes, bar closes.

    Sorted by (bar, kind, key, row). Only the few funding and lending entries are sorted; the bar closes,
    one per bar and already in order, are merged in after them: every other kind sorts before EV_BAR, so
    bar b's close goes right after the entries of bars <= b (on a year of 1m bars, 0.01 s instead of the
    0.06 s a lexsort of all 546,000 entries took)."""
    parts = []
    for j in range(len(market.venues)):
        t, b = market.funding_ts[j], market.funding_bar[j]
        parts.append(_events(t, EV_FUNDING, j, np.arange(t.shape[0]), b))
    for p in range(len(market.protocols)):
        b = np.flatnonzero(market.lend_update[:, p])
        parts.append(_events(market.close_ns[b], EV_LENDING, p, b, b))
    few = np.concatenate(parts) if parts else np.empty(0, EVENT_DT)
    few = few[np.lexsort((few["row"], few["key"], few["kind"], few["bar"]))]
    bars = np.arange(market.n)
    at = bars + np.searchsorted(few["bar"], bars, side="right")      # bar b after every entry of bars <= b
    ev = np.empty(few.shape[0] + market.n, EVENT_DT)
    is_bar = np.zeros(ev.shape[0], bool)
    is_bar[at] = True
    ev[is_bar] = _events(market.close_ns, EV_BAR, -1, bars, bars)
    ev[~is_bar] = few
    return ev
