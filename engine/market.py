"""Align a Dataset's frames on one bar grid as numpy arrays (what kernels and windows read).

Bars of every venue are reindexed to the union grid of perp bar open times. A missing bar is
filled flat at the previous close with zero volume and counted in the run log. Missing mark
bars fall back to perp bars (with one log line: liquidation then sees trade wicks).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from data.dataset import Dataset
from data.schemas import BAR_COLUMNS, MARK_COLUMNS, timeframe_ns, ts_ns
from engine.kernels.arrays import MarketArrays

YEAR_NS = 365 * 24 * 3600 * 10**9


class MarketError(ValueError):
    """The dataset cannot be turned into a market (no perp bars, mismatched timeframe...)."""


@dataclass
class Market:
    """Aligned arrays plus the labels a Python layer needs to talk about them."""

    venues: list[str]
    protocols: list[str]
    timeframe: str
    tf_ns: int
    open_ns: np.ndarray
    bars: dict[str, np.ndarray]      # "spot_open", "perp_close", "mark_high", ... -> (n, V)
    funding_rate: np.ndarray         # (n, V), NaN off settlement
    funding_px: np.ndarray
    funding_ts: list[np.ndarray]     # per venue, settlement times (ns) in this grid
    funding_bar: list[np.ndarray]    # per venue, bar index of each settlement
    funding_raw: list[np.ndarray]    # per venue, rate of each settlement
    lend_apy: np.ndarray             # (n, P)
    lend_update: np.ndarray          # (n, P) bool
    flows: pd.DataFrame | None
    log: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return self.open_ns.shape[0]

    @property
    def close_ns(self) -> np.ndarray:
        """Bar close times (ns); computed once, callers read it per decision."""
        c = self.__dict__.get("_close_ns")
        if c is None:
            c = self.__dict__["_close_ns"] = self.open_ns + self.tf_ns
        return c

    def arrays(self) -> MarketArrays:
        b = self.bars
        return MarketArrays(
            close_ns=self.close_ns, spot_open=b["spot_open"], spot_close=b["spot_close"],
            perp_open=b["perp_open"], mark_open=b["mark_open"], mark_high=b["mark_high"],
            mark_low=b["mark_low"], mark_close=b["mark_close"], spot_volume=b["spot_volume"],
            perp_volume=b["perp_volume"], funding_rate=self.funding_rate, funding_px=self.funding_px,
            lend_apy=self.lend_apy, lend_update=self.lend_update,
            dt_years=np.full(self.n, self.tf_ns / YEAR_NS))


def _strictly_increasing(t: np.ndarray) -> bool:
    """True when open times are sorted without repeats (what loaders produce), so no sort is needed."""
    return t.shape[0] < 2 or bool((t[1:] > t[:-1]).all())


def _union_grid(times: list[np.ndarray]) -> np.ndarray:
    """Sorted union of the venues' perp open times; equal to np.unique(concatenate) but avoids hashing it."""
    if not all(_strictly_increasing(t) for t in times):
        return np.unique(np.concatenate(times))
    first = times[0]
    if all(np.array_equal(t, first) for t in times[1:]):   # the common case: venues share one grid
        return first.copy()
    merged = np.sort(np.concatenate(times), kind="stable")  # runs of sorted input merge in linear time
    keep = np.empty(merged.shape[0], bool)
    keep[:1] = True
    np.not_equal(merged[1:], merged[:-1], out=keep[1:])
    return merged[keep]


def _align(frame: pd.DataFrame, grid: np.ndarray, cols: tuple[str, ...]) -> tuple[list[np.ndarray], int]:
    """`frame`'s `cols` on `grid` open times (one array per column); gaps filled flat at the previous close."""
    t = ts_ns(frame)
    if np.array_equal(t, grid):                 # already on the grid: no lookup, no intermediate copy
        return [frame[c].to_numpy(dtype=np.float64) for c in cols], 0
    pos = np.searchsorted(t, grid)
    hit = (pos < len(t)) & (t[np.minimum(pos, len(t) - 1)] == grid)
    out = np.full((grid.shape[0], len(cols)), np.nan)
    vals = frame[list(cols)].to_numpy(dtype=np.float64)
    out[hit] = vals[pos[hit]]
    missing = int((~hit).sum())
    if missing:
        close = pd.Series(out[:, cols.index("close")]).ffill().bfill().to_numpy()
        for j, c in enumerate(cols):
            if c == "volume":
                out[~hit, j] = 0.0
            else:
                out[~hit, j] = close[~hit]
    return [out[:, j] for j in range(len(cols))], missing


def build_market(ds: Dataset) -> Market:
    """Turn a Dataset into aligned arrays on the perp bars' grid."""
    venues = ds.venues
    if not venues:
        raise MarketError(f"dataset {ds.name!r} has no perp bars")
    tf = timeframe_ns(ds.timeframe)
    grid = _union_grid([ts_ns(ds.perp[v]) for v in venues])
    n, nv = grid.shape[0], len(venues)
    log: list[str] = []
    names = [f"{k}_{c}" for k in ("spot", "perp") for c in BAR_COLUMNS] + [f"mark_{c}" for c in MARK_COLUMNS]
    bars = {name: np.empty((n, nv)) for name in names}
    for j, v in enumerate(venues):
        if v not in ds.spot:
            raise MarketError(f"dataset {ds.name!r}: venue {v} has perp bars but no spot bars")
        for kind, frame in (("spot", ds.spot[v]), ("perp", ds.perp[v])):
            cols, missing = _align(frame, grid, BAR_COLUMNS)
            if missing:
                log.append(f"{v} {kind}: {missing} missing bars filled flat at the previous close")
            for c, col in zip(BAR_COLUMNS, cols):
                bars[f"{kind}_{c}"][:, j] = col
        mark = ds.mark.get(v)
        if mark is None or mark.empty:
            log.append(f"{v}: no mark-price bars; liquidation checks use perp trade prices (wicks included)")
            for c in MARK_COLUMNS:
                bars[f"mark_{c}"][:, j] = bars[f"perp_{c}"][:, j]
        else:
            cols, missing = _align(mark, grid, MARK_COLUMNS)
            if missing:
                log.append(f"{v} mark: {missing} missing bars filled flat at the previous close")
            for c, col in zip(MARK_COLUMNS, cols):
                bars[f"mark_{c}"][:, j] = col
    close_ns = grid + tf
    funding_rate = np.full((n, nv), np.nan)
    funding_px = bars["mark_close"].copy()
    f_ts, f_bar, f_raw = [], [], []
    for j, v in enumerate(venues):
        f = ds.funding.get(v)
        if f is None or f.empty:
            log.append(f"{v}: no funding rows; the perp neither pays nor earns funding")
            f_ts.append(np.empty(0, np.int64)), f_bar.append(np.empty(0, np.int64)), f_raw.append(np.empty(0))
            continue
        t = ts_ns(f)
        rate = f["rate"].to_numpy(dtype=np.float64)
        # a settlement at ts belongs to the first bar closing at or after ts
        idx = np.searchsorted(close_ns, t, side="left")
        keep = (idx < n) & (t > grid[0])
        t, idx, rate = t[keep], idx[keep], rate[keep]
        f_ts.append(t), f_bar.append(idx), f_raw.append(rate)
        summed = np.zeros(n)
        np.add.at(summed, idx, rate)
        has = np.zeros(n, bool)
        has[idx] = True
        funding_rate[has, j] = summed[has]
        if "mark_price" in f.columns:
            mp = f["mark_price"].to_numpy(dtype=np.float64)[keep]
            ok = np.isfinite(mp) & (mp > 0)
            funding_px[idx[ok], j] = mp[ok]
    protocols = ds.protocols
    lend_apy = np.zeros((n, len(protocols)))
    lend_update = np.zeros((n, len(protocols)), bool)
    for p, name in enumerate(protocols):
        f = ds.lending[name]
        t = ts_ns(f)
        apy = f["supply_apy"].to_numpy(dtype=np.float64)
        # rate in force during bar i: the last row known at the bar's open
        k = np.searchsorted(t, grid, side="right") - 1
        lend_apy[:, p] = np.where(k >= 0, apy[np.maximum(k, 0)], 0.0)
        upd = np.searchsorted(close_ns, t, side="left")
        upd = upd[upd < n]
        lend_update[upd, p] = True
    return Market(venues, protocols, ds.timeframe, tf, grid, bars, funding_rate, funding_px,
                  f_ts, f_bar, f_raw, lend_apy, lend_update, ds.flows, log)
