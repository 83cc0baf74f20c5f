"""Import lending-rate history: plain CSV (time, apy), DefiLlama yield charts, Aave reserve rows.

- plain: columns time/timestamp/date and apy (or supply_apy), optional borrow_apy, in `unit`
  (fraction | percent | ray); `apr=True` when the source gives APRs (converted to APY);
- DefiLlama chart export: timestamp, tvlUsd, apy, apyBase, apyReward with APY in PERCENT;
  supply_apy = apy (base + rewards) unless base_only, then apyBase;
- Aave (aavescan or the Aave subgraph): currentLiquidityRate / liquidityRate (and the variable
  borrow rate) are APRs, in ray (1e27 = 100 %) in the subgraph and as fractions in some exports.
  Without an explicit unit the magnitude decides between those two and anything else is refused
  (never a silent /1e27 of a fraction). APY = (1 + APR / s)^s - 1, s = seconds a year (per-second
  compounding, as Aave).

Rows keep their file line numbers, so `finalize` names the line of a bad rate.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from basisbt.data.errors import DataError
from basisbt.data.ingest.common import LINE, Imported, column_to_utc, log, make, relabel
from basisbt.data.ingest.csv_import import apply_where, read_table
from basisbt.data.ingest.units import RAY, SECONDS_PER_YEAR, apr_to_apy, lending_apy, place_unit  # noqa: F401
from basisbt.data.safe_io import file_problem
from basisbt.data.schemas import TS

TIME_COLS = ("timestamp", "time", "date", "ts", "datetime")
AAVE_SUPPLY = ("currentLiquidityRate", "liquidityRate")
AAVE_BORROW = ("currentVariableBorrowRate", "variableBorrowRate")


def ray_apr_to_apy(ray) -> np.ndarray:
    """Aave ray APR (1e27 = 100 %) to APY as a fraction, compounding every second."""
    return apr_to_apy(np.asarray(ray, dtype=np.float64) / RAY)


def _time(df: pd.DataFrame, file: str, assume_utc: bool, tz: str | None = None) -> pd.Series:
    col = next((c for c in df.columns if str(c).lower() in TIME_COLS), None)
    if col is None:
        raise DataError("no time column", file=file, detail=f"expected one of {', '.join(TIME_COLS)}")
    s = df[col]
    num = pd.to_numeric(s, errors="coerce") if not pd.api.types.is_datetime64_any_dtype(s.dtype) else None
    if num is not None and num.notna().all():
        return column_to_utc(num, file=file, unit=None)          # epoch numbers: the unit by magnitude
    return column_to_utc(s, file=file, assume_utc=assume_utc, tz=tz)


def detect_format(df: pd.DataFrame) -> str:
    """'aave', 'defillama' or 'plain' from the column names."""
    cols = {str(c) for c in df.columns}
    if cols & set(AAVE_SUPPLY):
        return "aave"
    if {"apy", "apyBase"} <= cols or "tvlUsd" in cols:
        return "defillama"
    return "plain"


def import_lending(path: str | Path, *, protocol: str, asset: str, fmt: str = "auto", unit: str = "auto",
                   apr: bool = False, base_only: bool = False, assume_utc: bool = False,
                   where: dict[str, str] | None = None, tz: str | None = None) -> list[Imported]:
    """Read one lending-rate file into a canonical lending frame (supply_apy, borrow_apy as fractions a year).

    unit: auto (Aave: ray or fraction by magnitude; plain: fraction), fraction, percent or ray.
    apr: the plain file's values are APRs (Aave rates always are; DefiLlama's are APYs).
    """
    p = Path(path)
    why = file_problem(p, "lending-rate file")
    if why:
        raise DataError(why, file=str(p))
    file = str(p)
    df = apply_where(read_table(p, "unreadable lending file"), where or {}, file)
    kind = detect_format(df) if fmt == "auto" else fmt
    try:
        out = _convert(df, kind, file, unit=unit, apr=apr, base_only=base_only, assume_utc=assume_utc, fmt=fmt,
                       tz=tz)
    except DataError as e:
        raise relabel(e, df, file) from None
    if LINE in df.columns:
        out[LINE] = df[LINE].to_numpy()
    return [make("lending", protocol.lower(), asset.upper(), None, out, file)]


def _convert(df: pd.DataFrame, kind: str, file: str, *, unit: str, apr: bool, base_only: bool, assume_utc: bool,
             fmt: str, tz: str | None = None) -> pd.DataFrame:
    out = pd.DataFrame({TS: _time(df, file, assume_utc, tz).to_numpy()})

    def num(col: str) -> np.ndarray:
        v = pd.to_numeric(df[col], errors="coerce")
        bad = np.flatnonzero(v.isna().to_numpy() & df[col].notna().to_numpy())
        if bad.size:
            raise DataError(f"non-numeric value in {col!r}", file=file, row=int(bad[0]) + 1,
                            detail=repr(df[col].iloc[bad[0]])[:40])
        return v.to_numpy(dtype=np.float64, na_value=np.nan)

    if kind == "aave":
        col = next(c for c in AAVE_SUPPLY if c in df.columns)
        bcol = next((c for c in AAVE_BORROW if c in df.columns), None)
        u = unit
        if u == "auto":
            u = place_unit(num(col), file=file, column=col)
            if bcol and place_unit(num(bcol), file=file, column=bcol) != u:
                raise DataError(f"{col} and {bcol} are in different units", file=file, detail="give --rate-unit")
        out["supply_apy"] = lending_apy(num(col), u, apr=True, file=file, column=col)
        if bcol:
            out["borrow_apy"] = lending_apy(num(bcol), u, apr=True, file=file, column=bcol)
        log.info("%s: Aave %s is an APR in %s; converted to APY with per-second compounding", file, col, u)
    elif kind == "defillama":
        src = "apyBase" if base_only else "apy"
        if src not in df.columns:
            raise DataError(f"missing column {src!r}", file=file)
        out["supply_apy"] = num(src) / 100.0
        log.info("%s: DefiLlama %s is in percent; divided by 100 to a fraction per year", file, src)
    elif kind == "plain":
        col = next((c for c in ("apy", "supply_apy", "apr", "supply_apr") if c in df.columns), None)
        if col is None:
            raise DataError("missing column 'apy'", file=file, detail=f"columns: {', '.join(map(str, df.columns))}")
        u = "fraction" if unit == "auto" else unit
        is_apr = apr or col.endswith("apr")
        out["supply_apy"] = lending_apy(num(col), u, apr=is_apr, file=file, column=col)
        bcol = next((c for c in ("borrow_apy", "borrow_apr") if c in df.columns), None)
        if bcol:
            out["borrow_apy"] = lending_apy(num(bcol), u, apr=apr or bcol.endswith("apr"), file=file, column=bcol)
        if u != "fraction" or is_apr:
            log.info("%s: %s in %s%s", file, col, u, " (APR, converted to APY per-second)" if is_apr else "")
    else:
        raise DataError("unknown lending format", file=file, detail=f"{fmt!r}; known: auto, plain, defillama, aave")
    return out
