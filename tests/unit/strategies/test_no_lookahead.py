"""No look-ahead, as a property: changing any input after time t leaves every decision before t unchanged.

For every built-in and the example, hypothesis picks a cut time t and a change of the data from
t on (truncation, or scaling prices / funding / lending / flows). Fills stamped before t come
from decisions taken at closes <= t - 1 bar, which saw only rows known by then, so they must be
identical, and so must every series the strategy recorded before t.
"""
from __future__ import annotations

from dataclasses import replace
from functools import cache, lru_cache

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from basisbt.data.dataset import Dataset
from basisbt.data.scenarios import load_scenario
from basisbt.strategies.registry import builtin_strategies, load_strategy_class
from tests.runs import run_backtest

EXAMPLE = "strategies/examples/funding_flip.py:FundingFlip"
NAMES = sorted(builtin_strategies()) + [EXAMPLE]
PRICE_COLS = ("open", "high", "low", "close")


@lru_cache(maxsize=2)
def dataset(kind: str = "clean") -> Dataset:
    """feb-2025-crash, 1h, cut to its first 10 days (crash included) to keep the property fast.

    'gappy' is the same data as real downloads come: bybit lists a day late, okx's data ends a
    day early, binance misses 6 hours of spot and perp bars and its mark file starts 2 days late.
    """
    ds = load_scenario("feb-2025-crash").between(None, pd.Timestamp("2025-02-06", tz="UTC"))
    return ds if kind == "clean" else make_gappy(ds)


def make_gappy(ds: Dataset) -> Dataset:
    t0 = ds.perp["binance"]["ts"].iloc[0]
    late, early = t0 + pd.Timedelta(days=1), ds.perp["okx"]["ts"].iloc[-1] - pd.Timedelta(days=1)
    hole = (t0 + pd.Timedelta(days=3), t0 + pd.Timedelta(days=3, hours=6))

    def keep(f: pd.DataFrame, mask) -> pd.DataFrame:
        return f[mask(f["ts"])].reset_index(drop=True)

    out = {}
    for stream in ("spot", "perp", "mark"):
        d = dict(getattr(ds, stream))
        d["bybit"] = keep(d["bybit"], lambda t: t >= late)
        d["okx"] = keep(d["okx"], lambda t: t <= early)
        if stream == "mark":
            d["binance"] = keep(d["binance"], lambda t: t >= t0 + pd.Timedelta(days=2))
        else:
            d["binance"] = keep(d["binance"], lambda t: (t < hole[0]) | (t >= hole[1]))
        out[stream] = d
    return replace(ds, **out)


def perturb(ds: Dataset, t: pd.Timestamp, k: float) -> Dataset:
    """Same data before t; from t on prices x k, funding x (-k), lending x k, flows x 3k."""
    def scale(f: pd.DataFrame, cols: tuple[str, ...], factor: float) -> pd.DataFrame:
        f = f.copy()
        m = f["ts"] >= t
        for c in cols:
            if c in f.columns:
                f.loc[m, c] = f.loc[m, c] * factor
        return f

    return replace(ds,
                   spot={v: scale(f, PRICE_COLS, k) for v, f in ds.spot.items()},
                   perp={v: scale(f, PRICE_COLS, k) for v, f in ds.perp.items()},
                   mark={v: scale(f, PRICE_COLS, k) for v, f in ds.mark.items()},
                   funding={v: scale(f, ("rate", "mark_price"), -k) for v, f in ds.funding.items()},
                   lending={p: scale(f, ("supply_apy",), k) for p, f in ds.lending.items()},
                   flows=None if ds.flows is None else scale(ds.flows, ("mint", "redeem"), 3 * k))


def before(res, t: pd.Timestamp) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Fills stamped before t and recorded extras stamped before t (a series with no point before t, e.g. one
    recorded at weekly closes only, says nothing about before t and is left out)."""
    fills = res.fills[res.fills["ts"] < t].reset_index(drop=True)
    extras = {k: s[s.index < t] for k, s in res.extras.items() if (s.index < t).any()}
    return fills, extras


@cache
def base_run(name: str, kind: str):
    """The unchanged run, once per strategy and dataset: each example then costs one run (about 0.1 s)."""
    return run_backtest(load_strategy_class(name)(), dataset(kind))


# 30 cut times and changes per strategy and dataset (300 runs in all, ~10 s of CPU): enough to land cuts right before,
# inside and after the crash, on both truncation and scaling, not just a handful of points
@pytest.mark.parametrize("kind", ["clean", "gappy"])
@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frac=st.floats(0.15, 0.9), mode=st.sampled_from(["truncate", "scale"]), k=st.floats(0.6, 1.6))
def test_decisions_before_t_ignore_data_after_t(name: str, kind: str, frac: float, mode: str, k: float) -> None:
    ds = dataset(kind)
    opens = ds.perp["binance"]["ts"]
    t = opens.iloc[int(frac * (len(opens) - 1))]
    cls = load_strategy_class(name)
    base = base_run(name, kind)
    other = ds.between(None, t) if mode == "truncate" else perturb(ds, t, k)
    changed = run_backtest(cls(), other)
    f0, e0 = before(base, t)
    f1, e1 = before(changed, t)
    assert len(f0) > 0, "the strategy should trade before t (opening fills)"
    pd.testing.assert_frame_equal(f0, f1, check_exact=True)
    assert e0.keys() == e1.keys()
    for key in e0:
        pd.testing.assert_series_equal(e0[key], e1[key], check_exact=True)


def test_perturbation_reaches_the_run() -> None:
    """Guard: the perturbation really changes what happens after t (else the property is vacuous)."""
    ds = dataset()
    t = pd.Timestamp("2025-02-01", tz="UTC")
    cls = load_strategy_class("synthetic_dollar")
    a, b = run_backtest(cls(), ds), run_backtest(cls(), perturb(ds, t, 1.3))
    assert not a.extras["supply"].equals(b.extras["supply"])
    assert a.timeline["equity"].iloc[-1] != b.timeline["equity"].iloc[-1]
