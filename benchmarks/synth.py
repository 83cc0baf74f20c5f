"""One year of synthetic 1-minute data for the benchmark, built straight from numpy (seconds, not minutes).

3 venues (binance, bybit, okx) x (spot, perp, mark) OHLCV bars, funding every 8h per venue (with
the mark price), and hourly supply APY rows for 2 lending protocols. Prices: one GBM spot path,
venue spreads and a basis oscillating around +5 bp; bars are gapless (open = previous close).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from basisbt.data.dataset import Dataset
from basisbt.data.schemas import TS_DTYPE

VENUES = ("binance", "bybit", "okx")
PROTOCOLS = ("aave", "morpho")
MIN_NS = 60 * 10**9
START = pd.Timestamp("2024-01-01", tz="UTC")


@dataclass(frozen=True)
class EventCount:
    """What "an event" is, used for every engine in the benchmark: one row of one input stream.

    bars x streams (each venue's spot, perp and mark bar is one event) + funding settlements +
    lending-rate rows.
    """

    bars: int
    streams: int
    funding: int
    lending: int

    @property
    def total(self) -> int:
        return self.bars * self.streams + self.funding + self.lending


def _ts(ns: np.ndarray) -> pd.Series:
    return pd.Series(ns.view("datetime64[ns]")).dt.tz_localize("UTC").astype(TS_DTYPE)


def _bars(ts: pd.Series, close: np.ndarray, rng: np.random.Generator, volume: bool) -> pd.DataFrame:
    open_ = np.empty_like(close)
    open_[0] = close[0]
    open_[1:] = close[:-1]
    wick = np.abs(rng.standard_normal((2, close.size))) * 3e-4
    hi = np.maximum(open_, close) * (1.0 + wick[0])
    lo = np.minimum(open_, close) * (1.0 - wick[1])
    cols = {"ts": ts, "open": open_, "high": hi, "low": lo, "close": close}
    if volume:
        cols["volume"] = rng.gamma(2.0, 50.0, close.size)
    return pd.DataFrame(cols)


def build_year(n_bars: int = 525_600, seed: int = 7) -> tuple[Dataset, EventCount]:
    """The benchmark dataset (1m bars) and its event count."""
    rng = np.random.default_rng(seed)
    open_ns = START.value + np.arange(n_bars, dtype=np.int64) * MIN_NS
    ts = _ts(open_ns)
    spot_path = 3000.0 * np.exp(np.cumsum(rng.standard_normal(n_bars) * 0.0008))  # ~58 % annual vol
    spot, perp, mark, funding = {}, {}, {}, {}
    settle_ns = START.value + np.arange(8 * 3600 * 10**9, n_bars * MIN_NS + 1, 8 * 3600 * 10**9, dtype=np.int64)
    settle_bar = (settle_ns - START.value) // MIN_NS - 1          # the bar whose close is the settlement
    for k, v in enumerate(VENUES):
        s = spot_path * (1.0 + 2e-4 * (k - 1) + rng.standard_normal(n_bars) * 5e-5)
        t = np.arange(n_bars) / 1440.0                               # days
        basis = 5e-4 + 8e-4 * np.sin(2 * np.pi * t / (3.0 + k)) + rng.standard_normal(n_bars) * 5e-5
        m = s * (1.0 + basis)
        p = m * (1.0 + rng.standard_normal(n_bars) * 1e-4)
        spot[v] = _bars(ts, s, rng, True)
        perp[v] = _bars(ts, p, rng, True)
        mark[v] = _bars(ts, m, rng, False)
        rate = np.clip(1e-4 + basis[settle_bar] * 0.1 + rng.standard_normal(settle_bar.size) * 5e-5, -3e-3, 3e-3)
        funding[v] = pd.DataFrame({"ts": _ts(settle_ns), "rate": rate, "mark_price": m[settle_bar]})
    lend_ns = START.value + np.arange(0, n_bars * MIN_NS, 3600 * 10**9, dtype=np.int64)
    lending = {p: pd.DataFrame({"ts": _ts(lend_ns),
                                "supply_apy": np.clip(0.05 + np.cumsum(rng.standard_normal(lend_ns.size)) * 1e-3,
                                                      0.0, 0.3)})
               for p in PROTOCOLS}
    ds = Dataset("bench:1y-1m", "ETH/USDT", "1m", spot, perp, mark, funding, lending)
    count = EventCount(bars=n_bars, streams=3 * len(VENUES), funding=len(VENUES) * settle_ns.size,
                       lending=len(PROTOCOLS) * lend_ns.size)
    return ds, count


def to_hourly(ds: Dataset) -> Dataset:
    """The 1m dataset as exact 1h bars (open first, high max, low min, close last, volume summed); funding
    and lending rows unchanged. The sweep benchmark's one-year hourly 3-venue data."""
    def agg(f: pd.DataFrame) -> pd.DataFrame:
        n = len(f) // 60 * 60
        cols = {"ts": f["ts"].iloc[:n:60].reset_index(drop=True)}
        for c, fn in (("open", None), ("high", np.max), ("low", np.min), ("close", None), ("volume", np.sum)):
            if c not in f.columns:
                continue
            x = f[c].to_numpy()[:n].reshape(-1, 60)
            cols[c] = x[:, 0] if c == "open" else x[:, -1] if c == "close" else fn(x, axis=1)
        return pd.DataFrame(cols)
    return Dataset("bench:1y-1h", ds.symbol, "1h", {v: agg(f) for v, f in ds.spot.items()},
                   {v: agg(f) for v, f in ds.perp.items()}, {v: agg(f) for v, f in ds.mark.items()},
                   dict(ds.funding), dict(ds.lending))
