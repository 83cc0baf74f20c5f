"""Resting limit orders (maker fills, issue 23 item 4): which orders rest, and the bar that fills or expires them.

The fill rule (docs/api.md "Maker orders", docs/architecture.md §4):
- a limit order is post-only: it is placed at the fill instant (the next bar's open, or the close with
  fill="close") and refused there if it would trade at once (a buy at or above that price, a sell at or below);
- it fills in a later bar (or the bar it was placed in, after its open) that trades STRICTLY through its price,
  on the instrument's own trade bars (spot bars for spot, perp trade bars for a perp, not the mark): a buy when
  the bar's low is below the limit, a sell when its high is above. Touching is not enough (the queue at that
  price may not have been reached). It fills whole, at the limit price, with no slippage and the venue's maker
  fee (a negative fee: a rebate). Only real bars count (a missing bar trades nothing), and not while the venue's
  trading is halted;
- the fill is booked at the open of the bar that trades through, like a taker fill at that open (its price,
  basis and fee are that bar's), so the bar's liquidation check and funding see the new position; the strategy
  hears of it (on_fill, liquidity "maker") at its next decision, which is never before that bar's close;
- `expire` (a time) cancels it unfilled once a bar would close after that time; the venue also cancels a perp's
  resting orders when the position is liquidated or auto-deleveraged, and every order on a venue that defaults;
  each such cancellation reaches the strategy as on_reject with status "cancelled". The venue checks margin and
  cash when the order fills (a venue reserves them at placement; we do not model reservations): an order the
  book can no longer pay for is refused then and leaves the book.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from basisbt.engine.kernels.codes import PERP, SPOT
from basisbt.engine.market import LIVE, Market


@dataclass(frozen=True, slots=True)
class LimitOrder:
    """A post-only limit order: `qty` signed base units of `instrument` on slot `venue` at `price`."""

    id: int
    venue: int
    instrument: int
    qty: float
    price: float
    expire_ns: int          # 0: good till cancelled; else it can fill only in bars closing at or before this time
    reason: str


class RestingBook:
    """The orders resting on the venues, in the order they were placed (an earlier order fills first)."""

    def __init__(self, market: Market) -> None:
        self.orders: list[LimitOrder] = []
        n = market.n
        self.close_ns = market.close_ns
        # each instrument's trade bars per slot (rows contiguous), NaN where the bar is not real (a gap or a bar
        # before the listing trades nothing)
        self.high: dict[int, np.ndarray] = {}
        self.low: dict[int, np.ndarray] = {}
        for ins, name in ((SPOT, "spot"), (PERP, "perp")):
            live = market.state[name] == LIVE
            self.high[ins] = np.ascontiguousarray(np.where(live, market.bars[f"{name}_high"], np.nan).T)
            self.low[ins] = np.ascontiguousarray(np.where(live, market.bars[f"{name}_low"], np.nan).T)
        self.n = n

    def __bool__(self) -> bool:
        return bool(self.orders)

    def add(self, order: LimitOrder) -> None:
        self.orders.append(order)

    def remove(self, ids: set[int]) -> list[LimitOrder]:
        """Take the orders with these ids off the book; returns them."""
        gone = [o for o in self.orders if o.id in ids]
        self.orders = [o for o in self.orders if o.id not in ids]
        return gone

    def expired(self, i: int) -> list[LimitOrder]:
        """Orders that can no longer fill from bar i on (bar i closes after their expiry), taken off the book."""
        close = int(self.close_ns[i])
        return self.remove({o.id for o in self.orders if o.expire_ns and close > o.expire_ns})

    def trades_at(self, i: int) -> list[LimitOrder]:
        """Resting orders that bar i trades strictly through, in book order (not taken off: the fill may fail)."""
        from basisbt.engine.kernels.fills import first_fill_bar  # numba: loaded by a run, not by `strategies`
        return [o for o in self.orders if first_fill_bar(self.high[o.instrument][o.venue],
                                                         self.low[o.instrument][o.venue], o.price, o.qty > 0.0,
                                                         i, i + 1) == i]

    def next_bar(self, i: int) -> int:
        """The first bar >= i at which some resting order fills or expires (n when none): the kernel must not
        run past its open."""
        from basisbt.engine.kernels.fills import first_fill_bar
        best = self.n
        for o in self.orders:
            stop = best
            if o.expire_ns:                      # the first bar closing after the expiry cancels it at its open
                stop = min(stop, int(np.searchsorted(self.close_ns, o.expire_ns, side="right")))
            b = first_fill_bar(self.high[o.instrument][o.venue], self.low[o.instrument][o.venue], o.price,
                               o.qty > 0.0, i, stop)
            best = min(best, stop, b if b >= 0 else best)
        return max(best, i)
