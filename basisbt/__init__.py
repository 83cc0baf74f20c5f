"""basisbt: event-driven backtests of crypto basis and funding strategies.

    import basisbt as bb
    res = bb.run("perp_short", "scenario:feb-2025-crash", params={"leverage": 3})
    res.metrics()["apy"]; res.plot(); res.to_frame(); res.save("runs/mine")
    vip = bb.venue("binance").replace(taker_fee=0.0004)      # a venue edited in code, checked by its schema
    bb.run("perp_short", "scenario:feb-2025-crash", venues=[vip])

Subpackages: `basisbt.engine` (simulator and numba kernels), `basisbt.data` (datasets, importers,
scenarios), `basisbt.strategies` (templates and built-ins), `basisbt.reports` (metrics, HTML).
"""
from __future__ import annotations

from basisbt.api import load, run, scenarios, strategies, venue, venues
from basisbt.data.dataset import Dataset
from basisbt.data.venues import Venue, VenueSet
from basisbt.engine.config import RunConfig
from basisbt.engine.results import Results
from basisbt.strategies.base import Strategy, param

__all__ = ["Dataset", "Results", "RunConfig", "Strategy", "Venue", "VenueSet", "load", "param", "run", "scenarios",
           "strategies", "venue", "venues"]
__version__ = "0.1.0"
