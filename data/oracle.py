"""The oracle a venue pays funding on (Hyperliquid: payment = size x oracle price x rate; docs/architecture.md §4).

A venue whose file says `funding_price = "oracle"` pays each settlement on its oracle price, not on the mark (the
mark still drives margin and liquidation, fills happen on the perp). Where a run gets that oracle, per venue
(`RunConfig.oracle = { hyperliquid = "..." }`):
- "imported": the dataset's `oracle` bars for the venue (imported like mark bars: `basisbt import csv --stream
  oracle`, a dataset TOML's `oracle = "file"`);
- "basket": the weighted median of the dataset's spot series of the venues in the venue file's `oracle_weights`
  (Hyperliquid: binance 3, okx 2, bybit 2, kraken 1, kucoin 1, gate 1, mexc 1, hyperliquid 1), bar by bar over
  the venues with a bar then; the quotes (USDT, USDC) are taken at par;
- a venue name, e.g. "binance": that venue's spot series alone, as a stand-in;
- "auto" (the default): "imported" when the dataset has the bars, else "basket" when it holds the spot of any of
  the oracle's venues, else the venue's own spot series.
The run log, metrics.json (`data_quality.venues.V.funding.oracle`) and both reports say which was used.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from basisbt.data.dataset import Dataset
from basisbt.data.errors import ConfigError, DataError
from basisbt.data.schemas import MARK_COLUMNS, TS, TS_DTYPE, ts_ns
from basisbt.data.validate import FILLED

CHOICES = ("auto", "imported", "basket")       # or a venue name


def weighted_median(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Row by row, the weighted median of `values` (n, k; NaN = that source has no value then) with `weights` (k,):
    the smallest value whose cumulative weight reaches half the row's total, or, when the cumulative weight
    equals exactly half there, the mean of it and the next value (so equal weights give the ordinary median).
    NaN for a row without any value."""
    v = np.asarray(values, dtype=np.float64)
    w = np.broadcast_to(np.asarray(weights, dtype=np.float64), v.shape)
    order = np.argsort(np.where(np.isnan(v), np.inf, v), axis=1, kind="stable")
    sv = np.take_along_axis(v, order, axis=1)
    sw = np.where(np.isnan(sv), 0.0, np.take_along_axis(w, order, axis=1))
    cum = np.cumsum(sw, axis=1)
    total = cum[:, -1:]
    half = 0.5 * total
    tol = 1e-12 * np.maximum(total, 1e-300)
    k = np.argmax(cum >= half - tol, axis=1)                 # first position reaching half
    rows = np.arange(v.shape[0])
    med = sv[rows, k]
    exact = np.abs(cum[rows, k] - half[:, 0]) <= tol[:, 0]
    nxt = np.minimum(k + 1, v.shape[1] - 1)
    has_next = exact & (nxt > k) & ~np.isnan(sv[rows, nxt])
    med = np.where(has_next, 0.5 * (med + sv[rows, nxt]), med)
    return np.where(total[:, 0] > 0, med, np.nan)


def basket(frames: dict[str, pd.DataFrame], weights: dict[str, float]) -> pd.DataFrame:
    """Oracle bars: open, high, low and close each the weighted median of the venues' bars at that time (a venue
    without a bar then is left out of that median). The weighted median keeps the order of its inputs, so
    low <= open, close <= high holds; it is enforced against rounding all the same. A time when no venue has a real
    bar is left out (a gap of the oracle, priced stale like any)."""
    names = [v for v in weights if v in frames]
    times = np.unique(np.concatenate([ts_ns(frames[v]) for v in names]))
    cols: dict[str, np.ndarray] = {}
    w = np.array([weights[v] for v in names], dtype=np.float64)
    for c in MARK_COLUMNS:
        grid = np.full((times.size, len(names)), np.nan)
        for j, v in enumerate(names):
            f = frames[v]
            real = ~f[FILLED].to_numpy(dtype=bool) if FILLED in f.columns else np.ones(len(f), bool)
            pos = np.searchsorted(times, ts_ns(f))       # a bar --fill-gaps wrote is no price: left out
            grid[pos[real], j] = f[c].to_numpy(dtype=np.float64)[real]
        cols[c] = weighted_median(grid, w)
    cols["high"] = np.maximum.reduce([cols["high"], cols["open"], cols["close"]])
    cols["low"] = np.minimum.reduce([cols["low"], cols["open"], cols["close"]])
    ts = pd.Series(pd.to_datetime(times, utc=True)).astype(TS_DTYPE)
    out = pd.DataFrame({TS: ts, **cols})
    return out[np.isfinite(out["close"].to_numpy())].reset_index(drop=True)


def _bars(frame: pd.DataFrame) -> pd.DataFrame:
    """OHLC bars of a frame (and its --fill-gaps flag: a filled bar stays a gap of the oracle)."""
    return frame[[TS, *MARK_COLUMNS, *([FILLED] if FILLED in frame.columns else [])]].reset_index(drop=True)


def _describe_basket(ds: Dataset, used: list[str], weights: dict[str, float]) -> str:
    missing = [v for v in weights if v not in used]
    if len(used) > 1 and all(ds.spot[v].equals(ds.spot[used[0]]) for v in used[1:]):
        return (f"one spot series, the same bars for {', '.join(used)} (one venue's spot standing in for all): "
                f"the weighted median of copies is that series")
    text = "weighted median of spot " + ", ".join(f"{v} {weights[v]:g}" for v in used)
    return text + (f" (of the venue file's basket; no spot data for {', '.join(missing)})" if missing else "")


def oracle_for(ds: Dataset, venue: str, weights: dict[str, float], choice: str) -> tuple[pd.DataFrame, str]:
    """(oracle bars, what they are) for `venue` of one asset's Dataset, by `choice` (see the module doc)."""
    have = [v for v in weights if v in ds.spot and not ds.spot[v].empty]
    if choice == "auto":
        choice = "imported" if venue in ds.oracle else ("basket" if have else venue)
        if choice == venue:
            if venue not in ds.spot:
                raise DataError(f"{venue} pays funding on an oracle, and the data has no oracle bars, no spot of "
                                f"its oracle's venues ({', '.join(weights)}) and no {venue} spot to stand in")
            return _bars(ds.spot[venue]), (f"{venue}'s own spot series (stand-in: no oracle bars and no spot of "
                                           f"the oracle's venues in the data)")
    if choice == "imported":
        if venue not in ds.oracle:
            raise ConfigError(f"oracle = {{ {venue} = \"imported\" }}: the data has no {venue} oracle bars; import "
                            f"them (--stream oracle) or use \"basket\" or a venue's spot")
        return _bars(ds.oracle[venue]), "imported oracle bars"
    if choice == "basket":
        if not have:
            raise ConfigError(f"oracle = {{ {venue} = \"basket\" }}: the data has spot of none of {venue}'s oracle "
                            f"venues ({', '.join(weights)}); spot in the data: {', '.join(sorted(ds.spot)) or 'none'}")
        return basket({v: ds.spot[v] for v in have}, {v: weights[v] for v in have}), \
            _describe_basket(ds, have, weights)
    if choice not in ds.spot:
        raise ConfigError(f"oracle = {{ {venue} = {choice!r} }}: no {choice} spot in the data; valid: "
                        f"{', '.join([*CHOICES, *sorted(ds.spot)])}")
    return _bars(ds.spot[choice]), f"{choice} spot (a single venue standing in for the oracle)"


def _pays_on_oracle(venue: Any, t0: int, t1: int) -> dict[str, float] | None:
    """The oracle weights of the latest block in force over [t0, t1] that pays funding on the oracle, else None."""
    blocks = [b for b in venue.in_force(t0, t1) if b.funding_price == "oracle"]
    return dict(blocks[-1].oracle_weights) if blocks else None


def attach_oracle(ds: Dataset, venues: Any, choices: dict[str, str]) -> tuple[Dataset, dict[str, str], list[str]]:
    """`ds` with `oracle` holding, per asset, the bars each venue paying funding on an oracle uses (and nothing for
    the others), what they are per slot label, and the run-log lines. `venues`: the run's VenueSet."""
    slots_of_venue: dict[str, list[str]] = {}
    parts = (ds, *ds.extra_assets)
    for d in parts:
        for v in d.perp:
            slots_of_venue.setdefault(v, []).append(f"{v}:{d.base}" if ds.extra_assets else v)
    pays: dict[str, dict[str, float]] = {}
    for v in slots_of_venue:
        if not venues.has(v):
            continue
        times = [ts_ns(d.perp[v]) for d in parts if v in d.perp and not d.perp[v].empty]
        if times:
            w = _pays_on_oracle(venues.get(v), int(min(t[0] for t in times)), int(max(t[-1] for t in times)))
            if w is not None:
                pays[v] = w
    for v, c in choices.items():
        if v not in pays:
            raise ConfigError(f"oracle.{v}: {v} is not a venue of the data that pays funding on an oracle "
                            f"(funding_price = \"oracle\"); those: {', '.join(sorted(pays)) or 'none'}")
        if c not in CHOICES and c not in {s for d in parts for s in d.spot}:
            raise ConfigError(f"oracle.{v} = {c!r}; valid: {', '.join(CHOICES)} or a venue with spot in the data "
                            f"({', '.join(sorted({s for d in parts for s in d.spot})) or 'none'})")
    dropped = sorted({v for d in parts for v in d.oracle if v not in pays})
    if not pays and not dropped:
        return ds, {}, []
    # kept on the Dataset (frozen, like its cuts and its Market), so the runs of a sweep build the oracle, and
    # the Market on it, once
    memo = ds.__dict__.setdefault("_oracles", {})
    key = (tuple(sorted(choices.items())), tuple(sorted((v, tuple(sorted(w.items()))) for v, w in pays.items())))
    if key not in memo:
        memo[key] = _attach(ds, parts, pays, choices, dropped)
    return memo[key]


def _attach(ds: Dataset, parts: tuple[Dataset, ...], pays: dict[str, dict[str, float]], choices: dict[str, str],
            dropped: list[str]) -> tuple[Dataset, dict[str, str], list[str]]:
    used: dict[str, str] = {}
    log = [f"{v}: oracle bars not used: it pays funding on its mark (funding_price = \"mark\")" for v in dropped]
    new_parts = []
    for d in parts:
        frames = {}
        for v, w in pays.items():
            if v in d.perp:
                frames[v], what = oracle_for(d, v, w, choices.get(v, "auto"))
                label = f"{v}:{d.base}" if ds.extra_assets else v
                used[label] = what
                log.append(f"{label}: funding paid on size x oracle price, the oracle = {what}")
        new_parts.append(replace(d, oracle=frames, extra_assets=()))
    out = replace(new_parts[0], extra_assets=tuple(new_parts[1:])) if ds.extra_assets else new_parts[0]
    return out, used, log
