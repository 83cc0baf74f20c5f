"""exp and log that give the same bits on every CPU, so a built-in scenario is the same data everywhere.

numpy dispatches `np.exp`/`np.log` to SIMD code chosen by the CPU (AVX512 machines use different
kernels from AVX2 ones) and the last bit of the result differs. The scenario generators feed those
values into cumulative sums, so a golden blessed on one machine was "stale" on the next: the data
fingerprint hashes the generated bars. These versions use only IEEE-754 +, -, *, / and exact
scaling by powers of two (`ldexp`/`frexp`), whose results the standard fixes bit for bit.
Accuracy is within 2 ulp of libm (tests/unit/data/test_portable_math.py), far below any scenario's noise.
"""
from __future__ import annotations

import math

import numpy as np

# ln 2 split Cody-Waite style (fdlibm): LN2_HI has trailing zero bits, so k * LN2_HI is exact for |k| < 2**20
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
INV_LN2 = 1.44269504088896338700e+00
SQRT_HALF = 0.70710678118654752440
EXP_MAX = 709.782712893383973096    # above: inf
EXP_MIN = -745.133219101941108420   # below: 0
_EXP_COEF = tuple(1.0 / math.factorial(n) for n in range(14, -1, -1))    # |r| <= ln2/2: error < 1e-17
_ATANH_COEF = tuple(1.0 / (2 * n + 1) for n in range(13, 0, -1))        # |s| <= 0.172: error < 1e-17


def _horner(x: np.ndarray, coef: tuple[float, ...]) -> np.ndarray:
    acc = np.full_like(x, coef[0])
    for c in coef[1:]:
        acc = acc * x + c
    return acc


def exp(x: np.ndarray | float) -> np.ndarray:
    """e**x elementwise: x = k ln2 + r, e**r by its Taylor series, then scaled by 2**k."""
    x = np.asarray(x, dtype=np.float64)
    finite = np.isfinite(x)
    xc = np.clip(np.where(finite, x, 0.0), EXP_MIN - 1.0, EXP_MAX + 1.0)
    k = np.rint(xc * INV_LN2)
    r = (xc - k * LN2_HI) - k * LN2_LO
    with np.errstate(over="ignore", under="ignore"):
        out = np.ldexp(_horner(r, _EXP_COEF), k.astype(np.int64))
    out = np.where(xc > EXP_MAX, np.inf, np.where(xc < EXP_MIN, 0.0, out))
    return np.where(finite, out, np.where(np.isnan(x), np.nan, np.where(x > 0, np.inf, 0.0)))


def log(x: np.ndarray | float) -> np.ndarray:
    """Natural log elementwise: x = m 2**e with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh((m-1)/(m+1))."""
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x) & (x > 0)
    m, e = np.frexp(np.where(ok, x, 1.0))
    low = m < SQRT_HALF
    m = np.where(low, m * 2.0, m)
    e = (e - low).astype(np.float64)
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    log_m = 2.0 * s + 2.0 * s * z * _horner(z, _ATANH_COEF)
    out = e * LN2_HI + (log_m + e * LN2_LO)
    bad = np.where(x == 0, -np.inf, np.where(x == np.inf, np.inf, np.nan))
    return np.where(ok, out, bad)


def half_life_factor(half_life: float) -> float:
    """0.5 ** (1 / half_life): the per-step decay that halves over half_life steps."""
    return float(exp(-LN2_HI / half_life - LN2_LO / half_life))
