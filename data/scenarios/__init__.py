"""Embedded, seeded market scenarios: `load_scenario("feb-2025-crash")` returns a full Dataset offline.

Each scenario is one module (a calibrated MarketSpec plus its ScenarioInfo); `paths.py` holds
the shared generators and `assemble.py` turns 1m arrays into canonical frames at any timeframe.
Same name, timeframe and seed give bit-identical frames.
"""
from __future__ import annotations

from types import ModuleType

from data.dataset import Dataset
from data.scenarios import bull_carry, death_spiral, feb_2025_crash, squeeze
from data.scenarios.assemble import minutes_per_bar, to_dataset
from data.scenarios.info import ScenarioInfo
from data.scenarios.paths import simulate

__all__ = ["DEFAULT_SCENARIO", "ScenarioInfo", "list_scenarios", "load_scenario"]

DEFAULT_SCENARIO = feb_2025_crash.NAME

_MODULES: dict[str, ModuleType] = {m.NAME: m for m in (feb_2025_crash, bull_carry, death_spiral, squeeze)}


def list_scenarios() -> list[ScenarioInfo]:
    """Every embedded scenario (default first), for `basisbt scenarios` and docs."""
    return [m.INFO for m in _MODULES.values()]


def load_scenario(name: str, timeframe: str = "1h", seed: int | None = None) -> Dataset:
    """Generate a scenario's Dataset (spot/perp/mark bars on binance, bybit, okx; funding; lending; flows).

    `timeframe` is any key of data.schemas.TIMEFRAMES_NS (bars are exact aggregations of 1m
    bars); `seed=None` uses the scenario's fixed default seed. Unknown names are a ValueError.
    """
    module = _MODULES.get(name)
    if module is None:
        raise ValueError(f"unknown scenario {name!r}; valid scenarios: {', '.join(_MODULES)}")
    minutes_per_bar(timeframe)  # reject an unknown timeframe before simulating
    used = module.DEFAULT_SEED if seed is None else int(seed)
    market = simulate(module.spec(), used)
    return to_dataset(name, market, timeframe, module.NOTES + (f"seed={used}",))
