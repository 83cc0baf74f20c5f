"""Import any CSV/parquet with a column mapping given by flags or a small TOML.

Mapping TOML (every key optional except stream and time):
    stream = "funding"            # spot | perp | mark | index | funding | lending
    time = "timestamp_utc"        # the time column
    time_unit = "iso"             # iso | s | ms | us | ns (iso strings must carry a zone unless assume_utc)
    venue = "binance"             # or venue_column = "exchange" to split one file into many venues
    symbol = "ETH/USDT"           # or symbol_column = "symbol"
    timeframe = "1h"              # bars only
    rate_unit = "fraction"        # fraction | percent
    rate_basis = "interval"       # interval | annualized (APR; converted with the row's interval)
    [columns]                     # canonical = source
    rate = "funding_rate"
    interval_h = "interval_hours"
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from basisbt.data.errors import DataError
from basisbt.data.ingest.common import Imported, epoch_to_utc, log, make, normalize_symbol, text_to_utc
from basisbt.data.schemas import TS
from basisbt.data.validate import funding_intervals_h

STREAM_COLS = {
    "spot": ("open", "high", "low", "close", "volume"), "perp": ("open", "high", "low", "close", "volume"),
    "mark": ("open", "high", "low", "close"), "index": ("open", "high", "low", "close"),
    "funding": ("rate", "interval_h", "mark_price"), "lending": ("supply_apy", "borrow_apy", "utilization"),
}
HOURS_PER_YEAR = 24 * 365


@dataclass
class CsvMapping:
    """How the columns of a foreign table map onto a canonical stream (see module doc)."""

    stream: str
    time: str = "ts"
    time_unit: str = "iso"
    time_format: str | None = None
    assume_utc: bool = False
    venue: str | None = None
    venue_column: str | None = None
    symbol: str | None = None
    symbol_column: str | None = None
    timeframe: str | None = None
    rate_unit: str = "fraction"
    rate_basis: str = "interval"
    columns: dict[str, str] = field(default_factory=dict)


def load_mapping(path: str | Path, **overrides) -> CsvMapping:
    """Read a mapping TOML; unknown keys are an error; non-None overrides (CLI flags) win."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise DataError("unreadable mapping toml", file=str(p), detail=str(e)[:100]) from None
    known = {f.name for f in fields(CsvMapping)}
    bad = sorted(set(raw) - known)
    if bad:
        raise DataError(f"unknown mapping key {bad[0]!r}", file=str(p), detail=f"known: {', '.join(sorted(known))}")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    if "stream" not in raw:
        raise DataError("mapping needs a stream", file=str(p))
    return CsvMapping(**raw)


def read_table(path: Path, rule: str = "unreadable table") -> pd.DataFrame:
    """A parquet, feather, JSON or CSV file (CSV cells as text), or DataError(rule) naming the file."""
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        if path.suffix == ".feather":
            return pd.read_feather(path)
        if path.suffix == ".json":
            return pd.read_json(path)
        return pd.read_csv(path, dtype=str, skipinitialspace=True)
    except (OSError, ValueError, pa.ArrowException, pd.errors.ParserError) as e:
        raise DataError(rule, file=str(path), detail=str(e).splitlines()[0][:100]) from None


def _times(col: pd.Series, m: CsvMapping, file: str) -> pd.Series:
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        return col.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(col.dtype):
        if not m.assume_utc:
            raise DataError("naive timestamp (no time zone); add a zone or pass --assume-utc", file=file, row=1)
        return col.dt.tz_localize("UTC")
    if m.time_unit == "iso":
        return text_to_utc(col, file=file, fmt=m.time_format, assume_utc=m.assume_utc)
    return epoch_to_utc(col, file=file, unit=m.time_unit)


def convert(df: pd.DataFrame, m: CsvMapping, file: str) -> pd.DataFrame:
    """Apply a mapping to one venue/symbol's rows: canonical columns, fraction units, UTC times."""
    if m.stream not in STREAM_COLS:
        raise DataError("unknown stream", file=file, detail=f"{m.stream!r}; known: {', '.join(STREAM_COLS)}")
    if m.time not in df.columns:
        raise DataError(f"missing time column {m.time!r}", file=file, detail=f"columns: {', '.join(map(str, df.columns))}")
    out = pd.DataFrame({TS: _times(df[m.time], m, file).to_numpy()})
    for canon in STREAM_COLS[m.stream]:
        src = m.columns.get(canon, canon)
        if src in df.columns:
            out[canon] = pd.to_numeric(df[src], errors="coerce").to_numpy()
        elif canon in m.columns:
            raise DataError(f"missing column {src!r} (mapped to {canon})", file=file,
                            detail=f"columns: {', '.join(map(str, df.columns))}")
    if m.stream == "funding" and "rate" in out.columns:
        if m.rate_unit not in ("fraction", "percent"):
            raise DataError("rate_unit must be fraction or percent", file=file, detail=repr(m.rate_unit))
        if m.rate_unit == "percent":
            out["rate"] = out["rate"] / 100.0
        if m.rate_basis == "annualized":
            ns = out[TS].to_numpy(dtype="datetime64[ns]").view(np.int64)
            hours = out["interval_h"].to_numpy() if "interval_h" in out else funding_intervals_h(np.sort(ns))
            out["rate"] = out["rate"] * hours / HOURS_PER_YEAR
            log.info("%s: annualized funding converted to per-interval rates (rate x interval_h / 8760)", file)
        elif m.rate_basis != "interval":
            raise DataError("rate_basis must be interval or annualized", file=file, detail=repr(m.rate_basis))
    if m.stream == "lending" and m.rate_unit == "percent":
        for c in ("supply_apy", "borrow_apy"):
            if c in out:
                out[c] = out[c] / 100.0
    return out


def import_csv(path: str | Path, mapping: CsvMapping) -> list[Imported]:
    """Read a CSV/parquet through a mapping; a venue/symbol column splits it into one dataset each."""
    p = Path(path)
    if not p.is_file():
        raise DataError("no such file", file=str(p))
    df = read_table(p)
    m = mapping
    if m.stream in ("spot", "perp", "mark", "index") and not m.timeframe:
        raise DataError("bars need a timeframe (--timeframe or timeframe = ...)", file=str(p))
    for col in (m.venue_column, m.symbol_column):
        if col and col not in df.columns:
            raise DataError(f"missing column {col!r}", file=str(p), detail=f"columns: {', '.join(map(str, df.columns))}")
    if not m.venue and not m.venue_column:
        raise DataError("no venue: pass --venue or venue_column", file=str(p))
    if not m.symbol and not m.symbol_column:
        raise DataError("no symbol: pass --symbol or symbol_column", file=str(p))
    by = [c for c in (m.venue_column, m.symbol_column) if c]
    groups = df.groupby(by, sort=True, dropna=False) if by else [((), df)]
    perp = m.stream not in ("spot", "lending")
    out = []
    for gkey, part in groups:
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        vals = dict(zip(by, gkey))
        venue = str(vals.get(m.venue_column, m.venue)).lower()
        raw_sym = str(vals.get(m.symbol_column, m.symbol))
        symbol = raw_sym.upper() if m.stream == "lending" else normalize_symbol(raw_sym, perp=perp)
        label = str(p) if not by else f"{p}[{'/'.join(map(str, gkey))}]"
        frame = convert(part.reset_index(drop=True), m, label)
        if by and not frame[TS].is_monotonic_increasing:
            frame = frame.sort_values(TS, kind="stable").reset_index(drop=True)
        out.append(make(m.stream, venue, symbol, m.timeframe, frame, label))
    return out
