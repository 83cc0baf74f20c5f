"""Small building blocks on the book: ledger writes, wallets, a perp fill's position update.

Inlined into the kernels (see margin.py for why: no reference-count traffic on their arrays).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from basisbt.engine.kernels.codes import A_CASH, A_ISO, C_HOME_OFF, C_ISOLATED, L_KIND, L_REF, L_TS, L_VENUE


@njit(cache=True, inline="always")
def write_ledger(keys: np.ndarray, amounts: np.ndarray, count: np.ndarray, ts_ns: int, venue: int, kind: int,
                 amount: float, ref: int) -> None:
    """Append one cash movement to the preallocated ledger (caller guarantees room)."""
    k = count[0]
    keys[k, L_TS] = ts_ns
    keys[k, L_VENUE] = venue
    keys[k, L_KIND] = kind
    keys[k, L_REF] = ref
    amounts[k] = amount
    count[0] = k + 1


@njit(cache=True, inline="always")
def wallet_col(vcfg: np.ndarray, v: int) -> int:
    """Which account column pays and receives the perp's money: isolated margin or cross cash."""
    return A_ISO if vcfg[v, C_ISOLATED] > 0.5 else A_CASH


@njit(cache=True, inline="always")
def home_row(vcfg: np.ndarray, v: int) -> int:
    """The slot that holds venue cash for slot v (v itself in a single-asset run)."""
    return v - int(vcfg[v, C_HOME_OFF])


@njit(cache=True, inline="always")
def wallet_row(vcfg: np.ndarray, v: int) -> int:
    """The row whose wallet_col pays and receives slot v's perp money: v when isolated, else the home slot."""
    return v if vcfg[v, C_ISOLATED] > 0.5 else v - int(vcfg[v, C_HOME_OFF])


@njit(cache=True, inline="always")
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
