"""Small building blocks on the book: ledger writes, wallets, equity, a perp fill's position update."""
from __future__ import annotations

import numpy as np
from numba import njit

from engine.kernels.codes import (A_CASH, A_ENTRY, A_ISO, A_QTY, A_SPOT, C_ISOLATED, L_KIND, L_REF, L_TS,
                                  L_VENUE, T_AMOUNT)


@njit(cache=True)
def write_ledger(li: np.ndarray, lf: np.ndarray, count: np.ndarray, ts_ns: int, venue: int, kind: int,
                 amount: float, ref: int) -> None:
    """Append one cash movement to the preallocated ledger (caller guarantees room)."""
    k = count[0]
    li[k, L_TS] = ts_ns
    li[k, L_VENUE] = venue
    li[k, L_KIND] = kind
    li[k, L_REF] = ref
    lf[k] = amount
    count[0] = k + 1


@njit(cache=True)
def wallet_col(vcfg: np.ndarray, v: int) -> int:
    """Which account column pays and receives the perp's money: isolated margin or cross cash."""
    return A_ISO if vcfg[v, C_ISOLATED] > 0.5 else A_CASH


@njit(cache=True)
def update_position(qty: float, entry: float, dq: float, px: float) -> tuple:
    """New (qty, entry, realized PnL) after trading dq at px; realized is quote, + is a gain."""
    new_q = qty + dq
    if qty == 0.0 or qty * dq > 0.0:          # open or add: weighted entry
        return new_q, (qty * entry + dq * px) / new_q, 0.0
    if abs(dq) <= abs(qty):                   # reduce or close
        realized = -dq * (px - entry)
        return new_q, (entry if new_q != 0.0 else 0.0), realized
    realized = qty * (px - entry)             # flip: close all, open the rest at px
    return new_q, px, realized


@njit(cache=True)
def book_equity(acct: np.ndarray, lend: np.ndarray, transit: np.ndarray, spot_px: np.ndarray,
                mark_px: np.ndarray) -> float:
    """Total equity (quote): venue cash and margin, spot at spot price, perps at mark, lending, transit."""
    eq = 0.0
    for v in range(acct.shape[0]):
        eq += acct[v, A_CASH] + acct[v, A_ISO] + acct[v, A_SPOT] * spot_px[v]
        eq += acct[v, A_QTY] * (mark_px[v] - acct[v, A_ENTRY])
    for p in range(lend.shape[0]):
        eq += lend[p]
    for k in range(transit.shape[0]):
        eq += transit[k, T_AMOUNT]
    return eq
