"""Shared pieces of every importer: the Imported record, symbol spelling and time parsing."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from basisbt.data.cache import Key, key_for
from basisbt.data.errors import DataError
from basisbt.data.schemas import TS, TS_DTYPE
from basisbt.data.validate import repair, snap_funding_times

log = logging.getLogger("basisbt.ingest")

QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "TUSD", "USD", "DAI", "BTC", "ETH", "BNB", "EUR")


@dataclass
class Imported:
    """One canonical frame ready for the cache, with the file it came from (for error messages)."""

    key: Key
    frame: pd.DataFrame
    source: str


def normalize_symbol(raw: str, *, perp: bool) -> str:
    """'ETHUSDT', 'ETH-USDT', 'ETH_USDT', 'ETH/USDT' -> 'ETH/USDT' (spot) or 'ETH/USDT:USDT' (perp)."""
    s = raw.strip().upper()
    if ":" in s:
        return s if perp else s.split(":")[0]
    s = re.sub(r"-SWAP$|-PERP$|PERP$", "", s)
    parts = [p for p in re.split(r"[/_\-]", s) if p]
    if len(parts) >= 2:
        base, quote = parts[0], parts[1]
    else:
        for q in QUOTES:
            if s.endswith(q) and len(s) > len(q):
                base, quote = s[: -len(q)], q
                break
        else:
            raise DataError("cannot split symbol into base/quote", detail=f"{raw!r}; give --symbol BASE/QUOTE")
    return f"{base}/{quote}:{quote}" if perp else f"{base}/{quote}"


def epoch_to_utc(values, *, file: str | None = None, unit: str | None = None) -> pd.Series:
    """Epoch numbers to UTC timestamps; without a unit each value's magnitude decides s / ms / µs / ns."""
    arr = pd.to_numeric(pd.Series(values), errors="coerce")
    bad = np.flatnonzero(arr.isna().to_numpy())
    if bad.size:
        raise DataError("time is not an epoch number", file=file, row=int(bad[0]) + 1,
                        detail=repr(pd.Series(values).iloc[bad[0]])[:40])
    x = arr.to_numpy(dtype=np.float64)
    if unit is None:
        mult = np.where(x >= 1e17, 1, np.where(x >= 1e14, 10**3, np.where(x >= 1e11, 10**6, 10**9)))
    else:
        try:
            mult = np.full(x.shape, {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[unit])
        except KeyError:
            raise DataError("unknown time unit", file=file, detail=f"{unit!r}; use s, ms, us, ns or iso") from None
    ns = np.round(x * mult).astype(np.int64) if unit in (None, "s") else arr.to_numpy(np.int64) * mult
    return pd.Series(pd.to_datetime(ns, utc=True)).astype(TS_DTYPE)


def text_to_utc(values, *, file: str | None = None, fmt: str | None = None, assume_utc: bool = False) -> pd.Series:
    """Date strings to UTC; a string without a zone is an error unless assume_utc (explicit flag)."""
    s = pd.Series(values).astype("string")
    try:
        parsed = pd.to_datetime(s, format=fmt, utc=False, errors="raise")
    except (ValueError, TypeError):
        try:
            parsed = pd.to_datetime(s, format=fmt, utc=True, errors="coerce")
        except (ValueError, TypeError) as e:
            raise DataError("unparseable time", file=file, detail=str(e)[:80]) from None
        bad = np.flatnonzero(parsed.isna().to_numpy())
        if bad.size:
            raise DataError("unparseable time", file=file, row=int(bad[0]) + 1, detail=repr(s.iloc[bad[0]]))
        return parsed.astype(TS_DTYPE)
    if not isinstance(parsed.dtype, pd.DatetimeTZDtype):
        if not assume_utc:
            raise DataError("naive timestamp (no time zone); add a zone or pass --assume-utc", file=file, row=1,
                            detail=repr(s.iloc[0]) if len(s) else "")
        parsed = parsed.dt.tz_localize("UTC")
    return parsed.dt.tz_convert("UTC").astype(TS_DTYPE)


def finish_funding(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Snap settlement-time jitter onto the hour grid (issue #3: always, logged)."""
    if TS in frame.columns and isinstance(frame[TS].dtype, pd.DatetimeTZDtype):
        frame, line = snap_funding_times(frame)
        if line:
            log.info("%s: %s", source, line)
    return frame


def apply_repair(items: list[Imported], *, max_fill: int = 0) -> list[str]:
    """Run the --repair fixes over imported frames in place; returns the log lines."""
    lines: list[str] = []
    for it in items:
        tf = None if it.key.timeframe in ("settle", "rate") else it.key.timeframe
        it.frame, got = repair(it.frame, it.key.stream, timeframe=tf, max_fill=max_fill, file=it.source)
        lines += got
    return lines


def make(stream: str, venue: str, symbol: str, timeframe: str | None, frame: pd.DataFrame, source: str) -> Imported:
    """An Imported record with the cache key filled in."""
    if stream == "funding":
        frame = finish_funding(frame, source)
    return Imported(key_for(stream, venue, symbol, timeframe), frame, source)
