"""Turn simulated 1m arrays into a Dataset at any timeframe by exact aggregation of the 1m bars."""
from __future__ import annotations

import numpy as np
import pandas as pd

from basisbt.data.dataset import Dataset
from basisbt.data.scenarios.paths import F64, MIN_NS, ScenarioPaths
from basisbt.data.schemas import TIMEFRAMES_NS, TS, TS_DTYPE

SYMBOL = "ETH/USDT"


def minutes_per_bar(timeframe: str) -> int:
    """1m bars per bar of `timeframe`; unknown timeframes are a ValueError listing the supported ones."""
    if timeframe not in TIMEFRAMES_NS:
        raise ValueError(f"unsupported timeframe {timeframe!r}; scenarios support: {', '.join(TIMEFRAMES_NS)}")
    return TIMEFRAMES_NS[timeframe] // MIN_NS


def aggregate(bars: dict[str, F64], m: int) -> dict[str, F64]:
    """OHLC(V) of m consecutive 1m bars: first open, max high, min low, last close, summed volume."""
    if m == 1:
        return bars
    out = {"open": bars["open"][::m].copy(), "high": bars["high"].reshape(-1, m).max(axis=1),
           "low": bars["low"].reshape(-1, m).min(axis=1), "close": bars["close"][m - 1::m].copy()}
    if "volume" in bars:
        out["volume"] = bars["volume"].reshape(-1, m).sum(axis=1)
    return out


def bar_frame(start: pd.Timestamp, bars: dict[str, F64], m: int) -> pd.DataFrame:
    """A canonical bar frame (ts = bar OPEN time, datetime64[ns, UTC]) from 1m arrays aggregated by m."""
    agg = aggregate(bars, m)
    n = agg["open"].size
    ns = start.value + np.arange(n, dtype=np.int64) * (m * MIN_NS)
    ts = pd.Series(ns.view("datetime64[ns]")).dt.tz_localize("UTC").astype(TS_DTYPE)
    return pd.DataFrame({TS: ts, **{k: np.asarray(v, dtype=np.float64) for k, v in agg.items()}})


def to_dataset(name: str, market: ScenarioPaths, timeframe: str, notes: tuple[str, ...],
               symbol: str = SYMBOL) -> Dataset:
    """Assemble the canonical Dataset of a simulated market at `timeframe` (1m bars aggregated exactly)."""
    m = minutes_per_bar(timeframe)
    venues = sorted(market.perp)
    return Dataset(
        name=f"scenario:{name}", symbol=symbol, timeframe=timeframe,
        spot={v: bar_frame(market.start, market.spot[v], m) for v in venues},
        perp={v: bar_frame(market.start, market.perp[v], m) for v in venues},
        mark={v: bar_frame(market.start, market.mark[v], m) for v in venues},
        funding={v: market.funding[v].copy() for v in venues},
        lending={p: f.copy() for p, f in sorted(market.lending.items())},
        flows=market.flows.copy(), notes=notes)
