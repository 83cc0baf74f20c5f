"""Declared parameter ranges: out-of-range, NaN and inf values are ConfigErrors naming the valid range."""
import dataclasses
import math

import pytest

from basisbt.engine.config import ConfigError, RunConfig, build_dataclass
from basisbt.strategies.base import Strategy, param
from basisbt.strategies.registry import builtin_strategies


@pytest.mark.parametrize("kv, needle", [
    ({"leverage": -5}, "0 < leverage <= 125"),
    ({"leverage": "nan"}, "0 < leverage <= 125"),
    ({"leverage": "inf"}, "0 < leverage <= 125"),
    ({"leverage": 1e9}, "0 < leverage <= 125"),
    ({"leverage": 0}, "0 < leverage <= 125"),
    ({"hedge_ratio": -3}, "0 <= hedge_ratio <= 2"),
    ({"cash_buffer": 1.0}, "cash_buffer < 1"),
])
def test_perp_short_ranges(kv, needle):
    cls = builtin_strategies()["perp_short"]
    with pytest.raises(ConfigError, match="out of range") as ei:
        cls(**kv)
    assert needle in str(ei.value) and "perp_short" in str(ei.value)


def test_did_you_mean_kept():
    with pytest.raises(ConfigError, match="did you mean 'leverage'"):
        builtin_strategies()["perp_short"](leverge=5)


def test_every_builtin_float_param_is_bounded_and_defaults_are_inside():
    for name, cls in builtin_strategies().items():
        cls()                                           # defaults pass their own bounds
        for f in dataclasses.fields(cls.Params):
            if f.type in ("float", float):
                assert f.metadata.get("bounds"), f"{name}.{f.name} has no declared range"
                with pytest.raises(ConfigError):
                    cls(**{f.name: math.nan})


def test_user_strategy_bounds_and_one_sided_rule():
    class S(Strategy):
        @dataclasses.dataclass(frozen=True, kw_only=True)
        class Params:
            k: int = param(3, "k", ge=1, lt=10)
    assert S(k=9).p.k == 9
    for bad in (0, 10):
        with pytest.raises(ConfigError, match="1 <= k < 10"):
            S(k=bad)
    with pytest.raises(TypeError):
        param(1.0, "x", ge=0, gt=0)


@pytest.mark.parametrize("doc, needle", [
    ({"venue_overrides": {"binance": {"taker_fee": -0.01}}}, "venue_overrides.binance: taker_fee = -0.01 is out of "
                                                             "range; valid: 0 <= taker_fee < 0.01"),
    ({"venue_overrides": {"binance": {"maker_fee": -0.0001}}}, "maker_fee"),
    ({"venue_overrides": {"binance": {"maker_rebate": 0.5}}}, "maker_rebate <= 0.001"),
    ({"venue_overrides": {"binance": {"taker_fe": 0.001}}}, "did you mean 'taker_fee'"),
    ({"venue_overrides": {"binance": {"liquidation_fee": "x"}}}, "expected float"),
    ({"venue_overrides": {"binance": {"collateral": {"ETH": 1.5}}}}, "collateral.ETH = 1.5 is out of range"),
    ({"venue_overrides": {"binance": {"haircut": 0.1}}}, "'haircut' is no longer read; use collateral"),
    ({"venue_overrides": {"../x": {"taker_fee": 0.001}}}, "only [A-Za-z0-9._-]"),
    ({"initial_capital": "nan"}, "initial_capital"),
    ({"slippage": -0.1}, "0 <= slippage < 1"),
])
def test_run_config_and_venue_override_ranges(doc, needle):
    with pytest.raises(ConfigError) as ei:
        build_dataclass(RunConfig, doc, "run config key")
    assert needle in str(ei.value)


def test_declared_maker_rebate_is_negative_fee():
    import pandas as pd

    from basisbt.engine.kernels.codes import C_MAKER
    from basisbt.engine.venue_setup import venue_arrays
    vt, _ = venue_arrays(["binance"], "ETH", pd.Timestamp("2025-01-01", tz="UTC"), 0.0, 0.0,
                         {"binance": {"maker_rebate": 0.0001}})
    assert vt.cfg[0, C_MAKER] == -0.0001
