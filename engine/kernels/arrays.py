"""NamedTuples that pack kernel inputs and state (numpy only: numba sees them as typed tuples).

Entry points (advance, fill_order) take these tuples. Per-bar helpers do not: they are inlined
and take the few arrays they read (see margin.py on reference-count traffic).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class MarketArrays(NamedTuple):
    """Aligned market data on one bar grid; (n,) or (n, V) / (n, P). Bar i closes at close_ns[i]."""

    close_ns: np.ndarray      # int64 (n,)
    spot_open: np.ndarray     # (n, V); prices are NaN where the instrument is not listed yet
    spot_close: np.ndarray
    perp_open: np.ndarray
    mark_open: np.ndarray
    mark_high: np.ndarray
    mark_low: np.ndarray
    mark_close: np.ndarray
    spot_volume: np.ndarray
    perp_volume: np.ndarray
    funding_rate: np.ndarray  # (n, V), NaN where no settlement falls in the bar
    funding_value: np.ndarray  # (n, V), sum over the bar's settlements of rate x mark known then
    lend_apy: np.ndarray      # (n, P), APY in force during bar i (known at its open)
    lend_update: np.ndarray   # (n, P) bool: a new rate became known at the close of bar i
    dt_years: np.ndarray      # (n,) bar length in years of 365 days
    coll_low: np.ndarray      # (n, V) collateral asset (A_COLL) bar low, quote; NaN where the venue has none
    coll_close: np.ndarray    # (n, V) its bar close
    coll_open: np.ndarray     # (n, V) its bar open (a bar's prices walk from the open, docs/architecture.md §4)
    index_open: np.ndarray    # (n, V) the price posted spot is valued at: the venue's index when imported, else spot
    index_low: np.ndarray     # (n, V) its bar low (posted spot is long: the low is its adverse extreme)
    index_close: np.ndarray   # (n, V) its close (records: margin balance at the close)


class VenueTables(NamedTuple):
    """Per-venue configuration (V, N_CFG) and margin tiers (V, K), padded with floor=+inf."""

    cfg: np.ndarray
    floor: np.ndarray
    rate: np.ndarray
    amount: np.ndarray
    max_lev: np.ndarray      # (V, K) the tier's maximum leverage: initial margin = notional / max_lev


class State(NamedTuple):
    """Mutable book state, updated in place by the kernels."""

    acct: np.ndarray         # (V, N_ACCT)
    lend: np.ndarray         # (P,) supply balance, quote
    lend_accrued: np.ndarray  # (P,) interest not yet written to the ledger
    transit: np.ndarray      # (K, N_TRANSIT)
    prev_spot: np.ndarray    # (V,) spot price of the last valuation
    prev_mark: np.ndarray    # (V,) mark price of the last valuation


class Records(NamedTuple):
    """Per-bar outputs written by the kernels."""

    equity: np.ndarray  # (n,)
    pnl: np.ndarray     # (n, N_PNL): parts of equity[i] - equity[i-1]
    venue: np.ndarray   # (n, V, N_REC)
    lend: np.ndarray    # (n, P) lending supply balances at the close
    transit: np.ndarray  # (n,) money in transit at the close
    flows: np.ndarray   # (n,) external capital in (+) / out (-) during the bar (mints, redemptions)
    attr: np.ndarray    # (V + 1, N_PNL) totals per venue; row V is lending


class Ledger(NamedTuple):
    """Preallocated ledger buffer; count[0] rows are used."""

    keys: np.ndarray     # (cap, N_LEDGER_I) int64: time, venue, kind, ref (codes.L_*)
    amounts: np.ndarray  # (cap,) float64 quote amounts
    count: np.ndarray  # (1,) int64
