"""What a stress run's table says: outcome probabilities with Wilson 95 % intervals (which narrow as
1/sqrt(paths)), the APY distribution, the fan charts' quantiles by day, and how many paths failed to run.
Pure functions of the paths table (basisbt/batch/stress.py writes one row per path)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

OUTCOMES = ("liquidated", "reserve_out", "backing_below_1", "negative_yield")
Z95 = 1.959963984540054


def wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson score 95 % interval of a proportion k/n (honest at 0 and n, unlike the normal interval)."""
    if n == 0:
        return math.nan, math.nan
    p = k / n
    d = 1.0 + Z95 ** 2 / n
    mid = (p + Z95 ** 2 / (2 * n)) / d
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95 ** 2 / (4 * n * n)) / d
    return (0.0 if k == 0 else max(0.0, mid - half)), (1.0 if k == n else min(1.0, mid + half))


def summarize(table: pd.DataFrame) -> dict[str, Any]:
    """Probabilities with Wilson intervals, the APY distribution, and how many paths failed to run."""
    ok = table[table["error"] == ""] if "error" in table else table
    n = len(ok)
    out: dict[str, Any] = {"paths": int(len(table)), "paths_failed": int(len(table) - n)}
    for k in OUTCOMES:
        hits = int(ok[k].sum()) if k in ok else 0
        lo, hi = wilson(hits, n)
        out[k] = {"p": hits / n if n else math.nan, "ci95": [lo, hi], "paths": hits}
    apy = ok["apy"].dropna().to_numpy() if "apy" in ok else np.empty(0)
    if apy.size:
        q = np.percentile(apy, [5, 25, 50, 75, 95])
        sd = float(apy.std(ddof=1)) if apy.size > 1 else math.nan
        out["apy"] = {"mean": float(apy.mean()), "mean_ci95": [float(apy.mean() - Z95 * sd / math.sqrt(apy.size)),
                                                                float(apy.mean() + Z95 * sd / math.sqrt(apy.size))],
                      "p5": q[0], "p25": q[1], "median": q[2], "p75": q[3], "p95": q[4]}
    return out


def fan(series: list[list[float]], quantiles: tuple[float, ...] = (5, 25, 50, 75, 95)) -> np.ndarray:
    """(len(quantiles), days) quantiles across paths of daily series (paths cut to the shortest)."""
    series = [s for s in series if len(s)]
    if not series:
        return np.empty((len(quantiles), 0))
    n = min(len(s) for s in series)
    return np.percentile(np.array([s[:n] for s in series]), quantiles, axis=0)
