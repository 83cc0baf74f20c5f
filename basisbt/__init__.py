"""basisbt: event-driven backtests of crypto basis and funding strategies.

    import basisbt as bb
    res = bb.run("perp_short", "scenario:feb-2025-crash", params={"leverage": 3})
    res.metrics()["apy"]; res.plot(); res.to_frame(); res.save("runs/mine")
    vip = bb.venue("binance").replace(taker_fee=0.0004)      # a venue edited in code, checked by its schema
    bb.run("perp_short", "scenario:feb-2025-crash", venues=[vip])

Subpackages: `basisbt.engine` (simulator and numba kernels), `basisbt.data` (datasets, importers,
scenarios), `basisbt.strategies` (templates and built-ins), `basisbt.reports` (metrics, HTML).

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
    from basisbt.data.venues import Venue, VenueSet
    from basisbt.engine.config import RunConfig
    from basisbt.engine.results import Results
    from basisbt.strategies.base import Strategy, param

__all__ = ["Dataset", "Results", "RunConfig", "Strategy", "Venue", "VenueSet", "load", "param", "run", "scenarios",
           "strategies", "venue", "venues"]
__version__ = "0.1.0"

_WHERE = {"load": "basisbt.api", "run": "basisbt.api", "scenarios": "basisbt.api", "venue": "basisbt.api",
          "venues": "basisbt.api", "Venue": "basisbt.data.venues", "VenueSet": "basisbt.data.venues",
          "Dataset": "basisbt.data.dataset", "RunConfig": "basisbt.engine.config",
          "Results": "basisbt.engine.results", "Strategy": "basisbt.strategies.base",
          "param": "basisbt.strategies.base"}


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
