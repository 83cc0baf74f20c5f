"""Turn a run's venues (data/venues.py, checked by data/venue_schema.py) into the kernels' per-slot config and tiers.

Every venue-field column of the cfg array is filled from the schema (`kernel_values`: the field's own value or
what derives from it, after the run's `venue_overrides`), the run's columns (slippage, slot layout, the
strategy's margin set-up) here.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from basisbt.data.venue_schema import SlotContext, kernel_values
from basisbt.data.venues import Venue, VenueSet, VenueSpec, venue_set
from basisbt.engine.config import ConfigError
from basisbt.engine.kernels.arrays import VenueTables
from basisbt.engine.kernels.codes import C_HOME_OFF, C_ISOLATED, C_SLIP, C_SLIP_IMPACT, C_SPOT_COLL, CFG_COLUMNS, N_CFG

_COL = {name: k for k, name in enumerate(CFG_COLUMNS)}


def _bases(venues: list[str], base: str | list[str]) -> list[str]:
    return [base] * len(venues) if isinstance(base, str) else list(base)


def run_venues(venues: list[str], overrides: dict[str, dict[str, Any]],
               source: VenueSet | None = None) -> dict[str, Venue]:
    """Each venue of a run from its VenueSet, with the run's `venue_overrides` applied (checked by the schema:
    a key the venue would not use, e.g. liquidation_fee on a venue that liquidates at bankruptcy, is refused)."""
    names = list(dict.fromkeys(venues))
    for v in overrides:
        if v not in names:
            raise ConfigError(f"venue_overrides: {v!r} is not in the data; valid: {', '.join(names)}")
    source = source or venue_set()
    return {v: source.get(v).with_overrides(overrides.get(v, {})) for v in names}


def venue_arrays(venues: list[str], base: str | list[str], at: pd.Timestamp, slippage: float, slippage_impact: float,
                 overrides: dict[str, dict[str, Any]], min_tiers: int = 0, *, source: VenueSet | None = None,
                 collateral_asset: str = "", resolved: dict[str, Venue] | None = None
                 ) -> tuple[VenueTables, list[VenueSpec]]:
    """(VenueTables: cfg (S, N_CFG) and tiers (S, K), specs) for slots on `venues` trading `base` (one asset,
    or one per slot: a venue named twice in a row holds two assets, cross-margined on its first slot),
    specs in force at `at`. `resolved` (run_venues) skips looking the venues up again.

    K is at least `min_tiers`, so tables of several spec blocks can share one shape (see venue_schedule)."""
    bases = _bases(venues, base)
    resolved = resolved or run_venues(venues, overrides, source)
    specs = [resolved[v].at(at) for v in venues]
    vcfg = np.zeros((len(venues), N_CFG))
    tables = [s.tier_table(b) for s, b in zip(specs, bases, strict=True)]
    k = max([t.floor.shape[0] for t in tables] + [min_tiers])
    floor = np.full((len(venues), k), np.inf)
    rate = np.zeros((len(venues), k))
    amount = np.zeros((len(venues), k))
    max_lev = np.ones((len(venues), k))
    for j, (s, t) in enumerate(zip(specs, tables, strict=True)):
        for col, x in kernel_values(s, SlotContext(bases[j], collateral_asset)).items():
            vcfg[j, _COL[col]] = x
        vcfg[j, C_HOME_OFF] = j - venues.index(venues[j])   # a venue's cash is on its first slot
        vcfg[j, C_SPOT_COLL], vcfg[j, C_ISOLATED] = 0.0, 0.0  # the strategy's set-up (Context.configure)
        vcfg[j, C_SLIP], vcfg[j, C_SLIP_IMPACT] = slippage, slippage_impact
        m = t.floor.shape[0]
        floor[j, :m], rate[j, :m], amount[j, :m], max_lev[j, :m] = t.floor, t.rate, t.amount, t.max_leverage
        rate[j, m:], amount[j, m:], max_lev[j, m:] = t.rate[-1], t.amount[-1], t.max_leverage[-1]
    return VenueTables(vcfg, floor, rate, amount, max_lev), specs


def venue_schedule(venues: list[str], base: str | list[str], open_ns: np.ndarray, slippage: float, slippage_impact: float,
                   overrides: dict[str, dict[str, Any]], *, source: VenueSet | None = None, collateral_asset: str = "",
                   resolved: dict[str, Venue] | None = None) -> list[tuple[int, VenueTables, list[VenueSpec]]]:
    """The venue tables in force over a run: (first bar, tables, specs) at the start and at every bar where
    some venue's spec block changes (tiers, fees), all with one tier count so they can replace each other."""
    resolved = resolved or run_venues(venues, overrides, source)
    t0, t1 = int(open_ns[0]), int(open_ns[-1])
    bars = {0}
    for v in dict.fromkeys(venues):
        for spec in resolved[v].blocks:
            t = int(spec.effective_from.value)
            if t0 < t <= t1:
                bars.add(int(np.searchsorted(open_ns, t, side="left")))
    at = [pd.Timestamp(int(open_ns[b]), unit="ns", tz="UTC") for b in sorted(bars)]
    bases = _bases(venues, base)
    k = max(resolved[v].at(a).tier_table(b).floor.shape[0] for v, b in zip(venues, bases, strict=True) for a in at)
    return [(b, *venue_arrays(venues, base, a, slippage, slippage_impact, overrides, min_tiers=k,
                              collateral_asset=collateral_asset, resolved=resolved))
            for b, a in zip(sorted(bars), at, strict=True)]
