"""ScenarioInfo: the one-line description and calibrated numbers of an embedded scenario."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ScenarioInfo:
    """What a scenario is (name, one-line summary), what it stresses, and the numbers it is calibrated to.

    `source` says where real data come from; it is empty for the synthetic (seeded) scenarios.
    `assets` are the base assets of the Dataset, the primary first (several: `Dataset.extra_assets`).
    `timeframe` is the bar size a load gets when it names none; `shows` the settings of `basisbt run --data
    scenario:NAME` that show the scenario's effect, and what they show (`basisbt scenarios` lists it). `venues`:
    the venues of its Dataset (opt-in in `list_scenarios` when one is not binance, bybit or okx).
    """

    name: str
    summary: str
    stresses: str
    params: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    assets: tuple[str, ...] = ("ETH",)
    timeframe: str = "1h"
    shows: str = ""
    venues: tuple[str, ...] = ("binance", "bybit", "okx")   # the venues of its Dataset

    @property
    def real(self) -> bool:
        """True for windows of real exchange data, False for generated ones."""
        return bool(self.source)

    @property
    def other_venues(self) -> bool:
        """True when it has a venue besides binance, bybit and okx (opt-in in `list_scenarios`)."""
        return bool(set(self.venues) - {"binance", "bybit", "okx"})

    @property
    def multi_asset(self) -> bool:
        """True when the Dataset holds several base assets (opt-in in `list_scenarios`)."""
        return len(self.assets) > 1
