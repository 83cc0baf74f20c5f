"""basisbt: event-driven backtests of crypto basis and funding strategies.

    import basisbt as bb
    res = bb.run("perp_short", "scenario:feb-2025-crash", params={"leverage": 3})
    res.metrics()["apy"]; res.plot(); res.to_frame(); res.save("runs/mine")
    vip = bb.venue("binance").replace(taker_fee=0.0004)      # a venue edited in code, checked by its schema
    bb.run("perp_short", "scenario:feb-2025-crash", venues=[vip])

What is public (docs/api.md, "What is public"): the names in `__all__` below, their members, the `basisbt`
command line and the files it reads and writes. A strategy author and a notebook user need nothing else:
`from basisbt import Strategy, param, Context, BarEvent, ConfigError, open_hedge`. Everything reached through a
subpackage (`basisbt.engine.*`, `basisbt.data.*`, `basisbt.strategies.*`, `basisbt.reports.*`, `basisbt.batch.*`,
`basisbt.cli.*`, `basisbt.regress.*`) is internal: it may change in any release without notice.
tests/unit/test_public_api.py lists the public names, so adding or removing one is a visible decision.

`import basisbt` itself is cheap: the names below are imported on first use (PEP 562), so a command that
only lists scenarios never loads numba, pandas or matplotlib, and `bb.run` pays for them once.
"""
from __future__ import annotations

import sys
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from basisbt.api import load, run, scenarios, venue, venues
    from basisbt.data.dataset import Dataset
    from basisbt.data.errors import ConfigError, DataError
    from basisbt.data.scenarios import ScenarioInfo
    from basisbt.data.venues import Venue, VenueSet
    from basisbt.engine.config import RunConfig
    from basisbt.engine.context import Context, MarginInfo, OpenOrder, VenueCosts
    from basisbt.engine.events import (
        AdlEvent,
        BarEvent,
        EndEvent,
        FillEvent,
        FundingEvent,
        LendingRateEvent,
        LiquidationEvent,
        RejectEvent,
        StartEvent,
        VenueDefaultEvent,
        VenueHaltEvent,
    )
    from basisbt.engine.results import FramesNotKept
    from basisbt.engine.runner import StrategyError
    from basisbt.reports.runfiles import RunDirError
    from basisbt.results import Results
    from basisbt.strategies.base import Strategy, param, require_venue
    from basisbt.strategies.hedge import (
        close_hedge,
        hedge_value,
        open_hedge,
        rehedge,
        restore_after_adl,
        steer,
        tradable,
    )

__version__ = "0.1.0"

# public name -> the module it lives in (imported on first use)
_WHERE = {
    **dict.fromkeys(("run", "load", "scenarios", "venue", "venues"), "basisbt.api"),
    "Results": "basisbt.results", "RunConfig": "basisbt.engine.config", "Dataset": "basisbt.data.dataset",
    "ScenarioInfo": "basisbt.data.scenarios", "Venue": "basisbt.data.venues", "VenueSet": "basisbt.data.venues",
    **dict.fromkeys(("Strategy", "param", "require_venue"), "basisbt.strategies.base"),
    **dict.fromkeys(("Context", "MarginInfo", "OpenOrder", "VenueCosts"), "basisbt.engine.context"),
    **dict.fromkeys(("StartEvent", "BarEvent", "FundingEvent", "LendingRateEvent", "FillEvent", "RejectEvent",
                     "LiquidationEvent", "AdlEvent", "VenueHaltEvent", "VenueDefaultEvent", "EndEvent"),
                    "basisbt.engine.events"),
    **dict.fromkeys(("tradable", "hedge_value", "open_hedge", "close_hedge", "rehedge", "restore_after_adl",
                     "steer"), "basisbt.strategies.hedge"),
    "ConfigError": "basisbt.data.errors", "DataError": "basisbt.data.errors",
    "StrategyError": "basisbt.engine.runner", "FramesNotKept": "basisbt.engine.results",
    "RunDirError": "basisbt.reports.runfiles",
}
__all__ = [
    "AdlEvent", "BarEvent", "ConfigError", "Context", "DataError", "Dataset", "EndEvent", "FillEvent", "FramesNotKept",
    "FundingEvent", "LendingRateEvent", "LiquidationEvent", "MarginInfo", "OpenOrder", "RejectEvent", "Results",
    "RunConfig", "RunDirError", "ScenarioInfo", "StartEvent", "Strategy", "StrategyError", "Venue", "VenueCosts",
    "VenueDefaultEvent", "VenueHaltEvent", "VenueSet", "close_hedge", "hedge_value", "load", "open_hedge", "param",
    "rehedge", "require_venue", "restore_after_adl", "run", "scenarios", "steer", "strategies", "tradable", "venue",
    "venues",
]


def strategies() -> dict[str, type[Strategy]]:
    """The built-in strategies by name (basisbt.api.strategies; `cls.param_table()` lists each one's
    parameters)."""
    from basisbt.api import strategies as builtin
    return builtin()


class _Package(ModuleType):
    """The module type of `basisbt`: `bb.strategies` stays the function above. Importing the subpackage
    `basisbt.strategies` makes the import system set this attribute to the subpackage (the eager imports
    used to bind the function after that); the subpackage stays in sys.modules."""

    @property
    def strategies(self) -> Any:
        return strategies

    @strategies.setter
    def strategies(self, value: Any) -> None:
        pass


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    """Import a public name on first use and keep it in the module (later lookups cost nothing)."""
    if name not in _WHERE:
        raise AttributeError(f"module 'basisbt' has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
