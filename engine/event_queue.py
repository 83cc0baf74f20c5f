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
    for name, value in zip(EVENT_DT.names, (known_ns, kind, key, row, bar)):
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
    """The sorted event queue of a market: funding settlements, lending rate changes, bar closes."""
    parts = []
    for j in range(len(market.venues)):
        t, b = market.funding_ts[j], market.funding_bar[j]
        parts.append(_events(t, EV_FUNDING, j, np.arange(t.shape[0]), b))
    for p in range(len(market.protocols)):
        b = np.flatnonzero(market.lend_update[:, p])
        parts.append(_events(market.close_ns[b], EV_LENDING, p, b, b))
    bars = np.arange(market.n)
    parts.append(_events(market.close_ns, EV_BAR, -1, bars, bars))
    ev = np.concatenate(parts)
    return ev[np.lexsort((ev["row"], ev["key"], ev["kind"], ev["bar"]))]
