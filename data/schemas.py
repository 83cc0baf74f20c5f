"""Canonical frames (docs/architecture.md §2): the column names and dtypes every loader produces.

Every frame has a `ts` column of dtype datetime64[ns, UTC]. For bars `ts` is the bar's
OPEN time; the bar becomes known at ts + timeframe. Rates are fractions (never percent).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

TS = "ts"
TS_DTYPE = pd.DatetimeTZDtype(unit="ns", tz="UTC")

BAR_COLUMNS = ("open", "high", "low", "close", "volume")
MARK_COLUMNS = ("open", "high", "low", "close")
FUNDING_COLUMNS = ("rate",)            # fraction per settlement interval; optional: mark_price
LENDING_COLUMNS = ("supply_apy",)      # fraction per year; optional: borrow_apy, utilization
FLOW_COLUMNS = ("mint", "redeem")      # quote units

STREAMS = ("spot", "perp", "mark", "index", "oracle", "funding", "lending", "flows")

TIMEFRAMES_NS: dict[str, int] = {
    "1m": 60 * 10**9, "3m": 180 * 10**9, "5m": 300 * 10**9, "15m": 900 * 10**9,
    "30m": 1800 * 10**9, "1h": 3600 * 10**9, "2h": 7200 * 10**9, "4h": 14400 * 10**9,
    "8h": 28800 * 10**9, "1d": 86400 * 10**9,
}


def timeframe_ns(timeframe: str) -> int:
    """Nanoseconds in a timeframe string such as '1h'; unknown timeframes are a ValueError."""
    try:
        return TIMEFRAMES_NS[timeframe]
    except KeyError:
        raise ValueError(f"unknown timeframe {timeframe!r}; known: {', '.join(TIMEFRAMES_NS)}") from None


def ts_ns(frame: pd.DataFrame) -> np.ndarray:
    """The `ts` column as int64 nanoseconds since the epoch (what kernels use)."""
    return frame[TS].to_numpy(dtype="datetime64[ns]").view(np.int64)
