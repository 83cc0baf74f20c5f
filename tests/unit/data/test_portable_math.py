"""Portable exp/log (data/scenarios/portable_math.py) against libm, and the edge values."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from basisbt.data.scenarios import portable_math as pm


def _ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a - b) / np.spacing(np.abs(b))


def test_exp_within_one_ulp_of_libm() -> None:
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(-30, 30, 20000), rng.uniform(-700, 700, 5000), rng.normal(0, 1e-6, 5000)])
    ref = np.array([math.exp(v) for v in x])
    assert _ulps(pm.exp(x), ref).max() <= 1.0


def test_log_within_two_ulp_of_libm() -> None:
    rng = np.random.default_rng(8)
    x = np.concatenate([10.0 ** rng.uniform(-300, 300, 20000), 1.0 + rng.normal(0, 1e-9, 2000),
                        rng.uniform(0.5, 2.0, 5000)])
    ref = np.array([math.log(v) for v in x])
    assert _ulps(pm.log(x), ref).max() <= 2.0


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=-700, max_value=700))
def test_log_inverts_exp(x: float) -> None:
    assert math.isclose(float(pm.log(pm.exp(x))), x, rel_tol=1e-15, abs_tol=1e-15)


def test_edges_follow_ieee() -> None:
    e = pm.exp([np.inf, -np.inf, np.nan, 0.0, 710.0, -746.0])
    assert e[0] == np.inf and e[1] == 0.0 and np.isnan(e[2]) and e[3] == 1.0 and e[4] == np.inf and e[5] == 0.0
    lg = pm.log([0.0, -1.0, np.inf, np.nan, 1.0])
    assert lg[0] == -np.inf and np.isnan(lg[1]) and lg[2] == np.inf and np.isnan(lg[3]) and lg[4] == 0.0
    assert math.isclose(pm.half_life_factor(24.0) ** 24, 0.5, rel_tol=1e-14)
