"""Import lending-rate history: plain CSV (time, apy), DefiLlama yield charts, Aave reserve rows.

- plain: columns time/timestamp/date and apy (fraction unless unit='percent'), optional borrow_apy;
- DefiLlama chart export: timestamp, tvlUsd, apy, apyBase, apyReward with APY in PERCENT;
  supply_apy = apy (base + rewards) unless base_only, then apyBase;
- Aave: currentLiquidityRate (and currentVariableBorrowRate) are APRs in ray (1e27);
  APY = (1 + APR / s)^s - 1 with s = seconds per year (Aave compounds per second).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from basisbt.data.errors import DataError
from basisbt.data.ingest.common import Imported, epoch_to_utc, log, make, text_to_utc
from basisbt.data.ingest.csv_import import read_table
from basisbt.data.schemas import TS

RAY = 1e27
SECONDS_PER_YEAR = 365 * 24 * 3600
TIME_COLS = ("timestamp", "time", "date", "ts", "datetime")


def ray_apr_to_apy(ray) -> np.ndarray:
    """Aave ray APR (1e27 = 100 %) to APY as a fraction, compounding every second."""
    apr = np.asarray(ray, dtype=np.float64) / RAY
    return np.expm1(SECONDS_PER_YEAR * np.log1p(apr / SECONDS_PER_YEAR))


def _time(df: pd.DataFrame, file: str, assume_utc: bool) -> pd.Series:
    col = next((c for c in df.columns if str(c).lower() in TIME_COLS), None)
    if col is None:
        raise DataError("no time column", file=file, detail=f"expected one of {', '.join(TIME_COLS)}")
    s = df[col]
    if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(s.dtype):
        if not isinstance(s.dtype, pd.DatetimeTZDtype):
            if not assume_utc:
                raise DataError("naive timestamp (no time zone); add a zone or pass --assume-utc", file=file, row=1)
            s = s.dt.tz_localize("UTC")
        return s.dt.tz_convert("UTC")
    num = pd.to_numeric(s, errors="coerce")
    if num.notna().all():
        return epoch_to_utc(num, file=file)
    return text_to_utc(s, file=file, assume_utc=assume_utc)


def detect_format(df: pd.DataFrame) -> str:
    """'aave', 'defillama' or 'plain' from the column names."""
    cols = {str(c) for c in df.columns}
    if "currentLiquidityRate" in cols or "liquidityRate" in cols:
        return "aave"
    if {"apy", "apyBase"} <= cols or "tvlUsd" in cols:
        return "defillama"
    return "plain"


def import_lending(path: str | Path, *, protocol: str, asset: str, fmt: str = "auto", unit: str = "fraction",
                   base_only: bool = False, assume_utc: bool = False) -> list[Imported]:
    """Read one lending-rate file into a canonical lending frame (supply_apy, borrow_apy as fractions per year)."""
    p = Path(path)
    if not p.is_file():
        raise DataError("no such file", file=str(p))
    df = read_table(p, "unreadable lending file")
    file = str(p)
    kind = detect_format(df) if fmt == "auto" else fmt
    out = pd.DataFrame({TS: _time(df, file, assume_utc).to_numpy()})

    def num(col: str) -> np.ndarray:
        return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64)

    if kind == "aave":
        col = "currentLiquidityRate" if "currentLiquidityRate" in df.columns else "liquidityRate"
        out["supply_apy"] = ray_apr_to_apy(num(col))
        for bcol in ("currentVariableBorrowRate", "variableBorrowRate"):
            if bcol in df.columns:
                out["borrow_apy"] = ray_apr_to_apy(num(bcol))
                break
        log.info("%s: Aave rates are APR in ray (1e27); converted to APY with per-second compounding", file)
    elif kind == "defillama":
        src = "apyBase" if base_only else "apy"
        if src not in df.columns:
            raise DataError(f"missing column {src!r}", file=file)
        out["supply_apy"] = num(src) / 100.0
        log.info("%s: DefiLlama %s is in percent; divided by 100 to a fraction per year", file, src)
    elif kind == "plain":
        col = next((c for c in ("apy", "supply_apy") if c in df.columns), None)
        if col is None:
            raise DataError("missing column 'apy'", file=file, detail=f"columns: {', '.join(map(str, df.columns))}")
        scale = 100.0 if unit == "percent" else 1.0
        out["supply_apy"] = num(col) / scale
        if "borrow_apy" in df.columns:
            out["borrow_apy"] = num("borrow_apy") / scale
    else:
        raise DataError("unknown lending format", file=file, detail=f"{fmt!r}; known: auto, plain, defillama, aave")
    return [make("lending", protocol.lower(), asset.upper(), None, out, file)]
