"""Rate units at the import edge: funding to a fraction per interval, lending to APY as a fraction a year.

Inside basisbt rates are fractions (docs/architecture.md §2). Sources differ: funding in percent or bps, lending in
percent, as Aave's ray (1e27 = 100 %) or as an APR. Every conversion is explicit (`--rate-unit`), and a
value whose magnitude contradicts the unit is refused with its row instead of being scaled silently
(a fraction divided by 1e27 once gave an APY of 8e-29, issue #12).
"""
from __future__ import annotations

import numpy as np

from basisbt.data.errors import DataError

RAY = 1e27
RAY_FLOOR = 1e15                  # a nonzero ray below this is an APR under 1e-12: not a ray value
SECONDS_PER_YEAR = 365 * 24 * 3600
FUNDING_UNITS = {"fraction": 1.0, "percent": 1e-2, "bps": 1e-4}
LENDING_UNITS = ("fraction", "percent", "ray")


def _first(mask: np.ndarray) -> int | None:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if idx.size else None


def funding_fraction(values, unit: str, *, file: str | None = None) -> np.ndarray:
    """Funding rates in `unit` (fraction | percent | bps) as fractions per interval."""
    if unit not in FUNDING_UNITS:
        raise DataError("unknown funding --rate-unit", file=file, detail=f"{unit!r}; use {', '.join(FUNDING_UNITS)}")
    return np.asarray(values, dtype=np.float64) * FUNDING_UNITS[unit]


def apr_to_apy(apr) -> np.ndarray:
    """APR (fraction a year) to APY compounding every second, as Aave does: (1 + APR/s)^s - 1."""
    apr = np.asarray(apr, dtype=np.float64)
    return np.expm1(SECONDS_PER_YEAR * np.log1p(apr / SECONDS_PER_YEAR))


def place_unit(values, *, file: str | None = None, column: str = "rate") -> str:
    """'ray' or 'fraction' from magnitudes (Aave exports give either); anything else is refused with its row."""
    x = np.asarray(values, dtype=np.float64)
    ax = np.abs(np.nan_to_num(x))
    big = ax >= RAY_FLOOR
    small = (ax > 0) & ~big
    if big.any() and small.any():
        pos = _first(small) if big.sum() >= small.sum() else _first(big)
        raise DataError(f"{column}: ray and fraction magnitudes mixed in one column; give --rate-unit", file=file,
                        row=pos + 1, detail=f"{column}={float(x[pos])!r}")
    if big.any():
        return "ray"
    bad = _first(ax > 1.0)
    if bad is not None:
        raise DataError(f"{column}: cannot place magnitude (not ray, and above 100 % as a fraction: percent? "
                        f"give --rate-unit percent)", file=file, row=bad + 1, detail=f"{column}={float(x[bad])!r}")
    return "fraction"


def lending_apy(values, unit: str, *, apr: bool, file: str | None = None, column: str = "apy") -> np.ndarray:
    """Lending rates in `unit` (fraction | percent | ray) as APY fractions; APR sources are compounded per second.

    A ray value is always an APR (Aave's convention). Values whose size cannot be that unit are refused.
    """
    if unit not in LENDING_UNITS:
        raise DataError("unknown lending --rate-unit", file=file, detail=f"{unit!r}; use {', '.join(LENDING_UNITS)}")
    x = np.asarray(values, dtype=np.float64)
    ax = np.abs(np.nan_to_num(x))
    if unit == "ray":
        bad = _first((ax > 0) & (ax < RAY_FLOOR))
        if bad is not None:
            raise DataError(f"{column}: not a ray value (a fraction or percent given as ray?)", file=file,
                            row=bad + 1, detail=f"{column}={float(x[bad])!r}")
        return apr_to_apy(x / RAY)
    bad = _first(ax >= RAY_FLOOR)
    if bad is not None:
        raise DataError(f"{column}: ray-sized value read as {unit} (give --rate-unit ray)", file=file,
                        row=bad + 1, detail=f"{column}={float(x[bad])!r}")
    frac = x / 100.0 if unit == "percent" else x
    return apr_to_apy(frac) if apr else frac
