"""Embedded, seeded market scenarios: `load_scenario("feb-2025-crash")` returns a full Dataset offline.

Each synthetic scenario is one module (a calibrated MarketSpec plus its ScenarioInfo); `paths.py`
holds the shared generators and `assemble.py` turns 1m arrays into canonical frames at any
timeframe. Same name, timeframe and seed give bit-identical frames. `real/` holds small windows of
real Binance data (1h only, no lending or flows), loaded through the freqtrade importer.
Multi-asset scenarios (several base assets, `Dataset.extra_assets`; a module with `load(timeframe, seed)`)
are listed only with `list_scenarios(multi_asset=True)`; `multi_asset.generate` builds any mix for benchmarks.
"""
from __future__ import annotations

from dataclasses import replace
from types import ModuleType

from basisbt.data.dataset import Dataset
from basisbt.data.scenarios import (
    adl_crash,
    btc_eth_rotation,
    bull_carry,
    collateral_depeg,
    death_spiral,
    feb_2025_crash,
    hyperliquid_backstop,
    real,
    squeeze,
    venue_default,
)
from basisbt.data.scenarios.assemble import minutes_per_bar, to_dataset
from basisbt.data.scenarios.info import ScenarioInfo
from basisbt.data.scenarios.paths import simulate

__all__ = ["DEFAULT_SCENARIO", "ScenarioInfo", "list_scenarios", "load_scenario"]

DEFAULT_SCENARIO = feb_2025_crash.NAME

_MODULES: dict[str, ModuleType] = {m.NAME: m for m in (feb_2025_crash, bull_carry, death_spiral, squeeze, adl_crash,
                                                       venue_default, collateral_depeg, btc_eth_rotation,
                                                       hyperliquid_backstop)}


def list_scenarios(*, real_data: bool = False, multi_asset: bool = False,
                   other_venues: bool = False) -> list[ScenarioInfo]:
    """The synthetic scenarios (default first), then the real windows when `real_data`; scenarios of
    several base assets (ScenarioInfo.multi_asset) only when `multi_asset`; scenarios on other venues than
    binance, bybit and okx (hyperliquid-backstop) only when `other_venues`.

    Real windows, multi-asset scenarios and other venues are opt-in so callers that iterate "every scenario"
    (golden cases, the three-venue invariant tests, engines that trade one asset) keep meaning the generated
    single-asset ones on the three venues; `basisbt scenarios` lists them all.
    """
    infos = [m.INFO for m in _MODULES.values()]
    if real_data:
        infos += [real.info(w) for w in real.ALL_WINDOWS]
    return [i for i in infos if (multi_asset or not i.multi_asset) and (other_venues or not i.other_venues)]


def load_scenario(name: str, timeframe: str | None = None, seed: int | None = None) -> Dataset:
    """Generate a scenario's Dataset (spot/perp/mark bars on binance, bybit, okx; funding; lending; flows;
    for a multi-asset scenario, one Dataset per further asset in `extra_assets`).

    `timeframe` is any key of data.schemas.TIMEFRAMES_NS (bars are exact aggregations of 1m
    bars); None is the scenario's own default (`ScenarioInfo.timeframe`: 1h, 15m for collateral-depeg);
    `seed=None` uses the scenario's fixed default seed. A real window loads its shipped
    Binance files (1h only: another timeframe, or a seed, is a ValueError). Unknown names are a ValueError.
    """
    if name in real.BY_NAME:
        if seed is not None:
            raise ValueError(f"scenario {name} is real data and takes no seed")
        return real.load_window(name, timeframe or "1h")
    module = _MODULES.get(name)
    if module is None:
        raise ValueError(f"unknown scenario {name!r}; valid scenarios: {', '.join([*_MODULES, *real.BY_NAME])}")
    timeframe = timeframe or module.INFO.timeframe
    minutes_per_bar(timeframe)  # reject an unknown timeframe before simulating
    used = module.DEFAULT_SEED if seed is None else int(seed)
    if hasattr(module, "load"):                     # several assets: the module assembles its own Dataset
        return module.load(timeframe, used)
    market = simulate(module.spec(), used)
    ds = to_dataset(name, market, timeframe, module.NOTES + (f"seed={used}",))
    events = getattr(module, "VENUE_EVENTS", ())       # scheduled ADL / halts / defaults (data/venue_events.py)
    if events:
        ds = replace(ds, venue_events=tuple(events))
    if hasattr(module, "collateral_frames"):        # a collateral asset with its own bars (collateral-depeg)
        ds = replace(ds, collateral=module.collateral_frames(minutes_per_bar(timeframe), used),
                     collateral_asset=module.COLLATERAL_ASSET)
    return ds
