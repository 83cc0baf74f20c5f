"""Tiny hand-made datasets for worked cases (flat prices, chosen wicks, chosen funding prints)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from basisbt.data.dataset import Dataset

T0 = pd.Timestamp("2025-01-01", tz="UTC")


def bars(close, high=None, low=None, open_=None, start=T0, freq="1h", volume=1e6) -> pd.DataFrame:
    """Bar frame from arrays; open defaults to the previous close (first: own close)."""
    close = np.asarray(close, float)
    open_ = np.r_[close[0], close[:-1]] if open_ is None else np.asarray(open_, float)
    high = np.maximum(open_, close) if high is None else np.asarray(high, float)
    low = np.minimum(open_, close) if low is None else np.asarray(low, float)
    ts = pd.date_range(start, periods=len(close), freq=freq, tz="UTC").astype("datetime64[ns, UTC]")
    return pd.DataFrame({"ts": ts, "open": open_, "high": high, "low": low, "close": close,
                         "volume": np.full(len(close), volume)})


def funding(times, rates) -> pd.DataFrame:
    ts = pd.DatetimeIndex(times).astype("datetime64[ns, UTC]")
    return pd.DataFrame({"ts": ts, "rate": np.asarray(rates, float)})


def dataset(spot, perp=None, mark=None, fund=None, venues=("binance",), lending=None, flows=None,
            name="hand") -> Dataset:
    """Same frames on every venue unless dicts are given."""
    def per(x):
        if isinstance(x, dict):
            return x
        return {} if x is None else {v: x for v in venues}
    return Dataset(name, "ETH/USDT", "1h", per(spot), per(perp if perp is not None else spot), per(mark),
                   per(fund), lending or {}, flows)
