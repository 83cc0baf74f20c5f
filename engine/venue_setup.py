"""Turn venue specs (data/venues/*.toml) into the kernels' per-venue config and tier arrays."""
from __future__ import annotations

import numpy as np
import pandas as pd

from basisbt.data.venues import VenueSpec, all_blocks, load_venue
from basisbt.engine.config import ConfigError, check_venue_override
from basisbt.engine.kernels.arrays import VenueTables
from basisbt.engine.kernels.codes import (C_BANKRUPTCY, C_CLOSE_FEE, C_COLL_RATIO, C_FUND_SIZE, C_HAIRCUT,
                                          C_HOME_OFF, C_LIQ_FEE, C_LIQ_TICK, C_MAKER, C_MM_THRESHOLD, C_PARTIAL,
                                          C_PARTIAL_FROM, C_PARTIAL_TIERS, C_SLIP, C_SLIP_IMPACT, C_SPOT_COLL,
                                          C_SPOT_MAKER, C_SPOT_TAKER, C_TAKER, C_TIER_BASE, C_TRIGGER_FEE, N_CFG)

OVERRIDABLE = {"taker_fee": C_TAKER, "maker_fee": C_MAKER, "spot_taker_fee": C_SPOT_TAKER,
               "spot_maker_fee": C_SPOT_MAKER, "liquidation_fee": C_LIQ_FEE, "haircut": C_HAIRCUT,
               "maker_rebate": C_MAKER, "spot_maker_rebate": C_SPOT_MAKER, "collateral_ratio": C_COLL_RATIO,
               "liquidation_threshold": C_MM_THRESHOLD, "insurance_fund": C_FUND_SIZE}
# margin_mode = "portfolio": Binance Portfolio Margin (docs/venue-facts.md): liquidated at
# uniMMR <= 1.05, collateral rates BTC/ETH 0.95 (haircut 0.05), USDT/USDC 0.9999 (used for the collateral
# asset: no recorded rate for USDe). Keys given next to it win.
PORTFOLIO = {"liquidation_threshold": 1.05, "haircut": 0.05, "collateral_ratio": 0.9999}
REBATES = ("maker_rebate", "spot_maker_rebate")    # declared rebates: the venue pays, so the fee is -value


def _bases(venues: list[str], base: str | list[str]) -> list[str]:
    return [base] * len(venues) if isinstance(base, str) else list(base)


def venue_arrays(venues: list[str], base: str | list[str], at: pd.Timestamp, slippage: float, slippage_impact: float,
                 overrides: dict[str, dict[str, float]], min_tiers: int = 0) -> tuple[VenueTables, list[VenueSpec]]:
    """(VenueTables: cfg (S, N_CFG) and tiers (S, K), specs) for slots on `venues` trading `base` (one asset,
    or one per slot: a venue named twice in a row holds two assets, cross-margined on its first slot),
    specs in force at `at`.

    K is at least `min_tiers`, so tables of several spec blocks can share one shape (see venue_schedule)."""
    bases = _bases(venues, base)
    specs = [load_venue(v, at=at) for v in venues]
    vcfg = np.zeros((len(venues), N_CFG))
    tables = [s.tier_table(b) for s, b in zip(specs, bases)]
    k = max([t.floor.shape[0] for t in tables] + [min_tiers])
    floor = np.full((len(venues), k), np.inf)
    rate = np.zeros((len(venues), k))
    amount = np.zeros((len(venues), k))
    max_lev = np.ones((len(venues), k))
    for j, (s, t) in enumerate(zip(specs, tables)):
        vcfg[j, C_TAKER], vcfg[j, C_MAKER] = s.taker_fee, s.maker_fee
        vcfg[j, C_SPOT_TAKER], vcfg[j, C_SPOT_MAKER] = s.spot_taker_fee, s.spot_maker_fee
        vcfg[j, C_LIQ_FEE] = s.liquidation_fee
        vcfg[j, C_HAIRCUT] = s.haircuts.get(bases[j], 0.0)
        vcfg[j, C_HOME_OFF] = j - venues.index(venues[j])   # a venue's cash is on its first slot
        vcfg[j, C_SPOT_COLL] = 0.0
        # the liquidation model (whole-position maintenance needs no column: its amounts are 0 in the table)
        vcfg[j, C_PARTIAL] = 1.0 if s.partial == "step" else 0.0
        vcfg[j, C_PARTIAL_FROM], vcfg[j, C_PARTIAL_TIERS] = s.partial_from_tier, s.partial_tiers
        vcfg[j, C_TRIGGER_FEE] = s.trigger_fee
        vcfg[j, C_CLOSE_FEE] = s.taker_fee if s.close_fee_in_maintenance else 0.0
        vcfg[j, C_BANKRUPTCY] = 1.0 if s.liquidation_price == "bankruptcy" else 0.0
        vcfg[j, C_TIER_BASE] = 1.0 if s.tier_unit == "base" else 0.0
        vcfg[j, C_SLIP], vcfg[j, C_SLIP_IMPACT] = slippage, slippage_impact
        vcfg[j, C_COLL_RATIO], vcfg[j, C_MM_THRESHOLD] = 1.0, 1.0    # standard margin: counted in full, 1.00 x MM
        vcfg[j, C_LIQ_TICK] = s.tick_for(bases[j])                  # the reported liquidation price's tick (OKX)
        vcfg[j, C_FUND_SIZE] = s.fund_for(bases[j])                 # the symbol's insurance fund at this block
        m = t.floor.shape[0]
        floor[j, :m], rate[j, :m], amount[j, :m], max_lev[j, :m] = t.floor, t.rate, t.amount, t.max_leverage
        rate[j, m:], amount[j, m:], max_lev[j, m:] = t.rate[-1], t.amount[-1], t.max_leverage[-1]
    for venue, kv in overrides.items():
        if venue not in venues:
            raise ConfigError(f"venue_overrides: {venue!r} is not in the data; valid: "
                              f"{', '.join(dict.fromkeys(venues))}")
        if kv.get("margin_mode") == "portfolio":
            kv = {**PORTFOLIO, **{k: x for k, x in kv.items() if k != "margin_mode"}}
        kv = {k: x for k, x in kv.items() if k != "margin_mode"}        # "standard": the spec as it is
        for key, value in kv.items():
            if key not in OVERRIDABLE:
                raise ConfigError(f"venue_overrides.{venue}: unknown key {key!r}; valid: {', '.join(OVERRIDABLE)}")
            check_venue_override(venue, {key: value})
            rows = [j for j, v in enumerate(venues) if v == venue]     # every asset on the venue
            vcfg[rows, OVERRIDABLE[key]] = -float(value) if key in REBATES else float(value)
    return VenueTables(vcfg, floor, rate, amount, max_lev), specs


def venue_schedule(venues: list[str], base: str | list[str], open_ns: np.ndarray, slippage: float, slippage_impact: float,
                   overrides: dict[str, dict[str, float]]) -> list[tuple[int, VenueTables, list[VenueSpec]]]:
    """The venue tables in force over a run: (first bar, tables, specs) at the start and at every bar where
    some venue's spec block changes (tiers, fees), all with one tier count so they can replace each other."""
    t0, t1 = int(open_ns[0]), int(open_ns[-1])
    bars = {0}
    for v in dict.fromkeys(venues):
        for spec in all_blocks(v):
            t = int(spec.effective_from.value)
            if t0 < t <= t1:
                bars.add(int(np.searchsorted(open_ns, t, side="left")))
    at = [pd.Timestamp(int(open_ns[b]), unit="ns", tz="UTC") for b in sorted(bars)]
    bases = _bases(venues, base)
    k = max(load_venue(v, at=a).tier_table(b).floor.shape[0] for v, b in zip(venues, bases) for a in at)
    return [(b, *venue_arrays(venues, base, a, slippage, slippage_impact, overrides, min_tiers=k))
            for b, a in zip(sorted(bars), at)]
