"""death-spiral: 150 quiet days of persistently negative funding while lending yields sink (the slow bleed).

Window 2026-01-01 00:00 to 2026-05-31 00:00 UTC. What it stresses: a long-spot/short-perp book
that pays funding on every venue for months, with the lending fallback drying up too (the
seed's "income dries up" risk): rotation rules, reserve-fund drawdown, backing ratio.

Parameters and what they are calibrated to (Binance ETHUSDT, ../shared/data, pandas):
- funding: 8h on all venues, each venue's formula (okx: its premium, paths.py). Real 2026 to May: mean -0.0001 %/8h, 46 % negative
  prints, sd 0.0064 %, min -0.037 %, never above 0.01 % (docs/architecture.md §10; measured -0.00014 %, 46.2 %).
  The scenario is made CLEARLY negative on purpose: premium mean -0.055 % (sd 0.007 %, half-life
  8h), so funding = premium + 0.05 % averages about -0.005 %/8h with most prints negative on
  every venue (Bybit/OKX a little less negative, -0.054 %). Real 2025-26 hourly perp/spot - 1
  was -0.043 % / -0.050 % mean (sd 0.013 % / 0.010 %), the same persistent discount.
- price: 3,050 (Jan 1) -> 2,700 (Jan 25) -> 2,150 (Feb 10) -> 1,950 (Mar 1) -> 2,100 (Apr 5)
  -> 2,300 (May 1) -> 2,200 (May 31); real 2026 10-day closes 3,087 -> 1,949 -> 2,371 -> 2,179.
- vol: 40 % annualized (the brief's 35-45 %; real 2026 was 62 %), jumps 0.1/day sd 1 %,
  vol-of-vol 0.25.
- lending (USDT supply APY, hourly): Aave 6.0 % -> 1.5 %, Morpho 6.5 % -> 1.8 %, falling
  exponentially (time constant 50 days) with AR(1) noise sd 0.25 %, floor 0.2 %.
- flows (USDe-like, ~3 B supply shrinking): mint 5 M/day, redeem 20 M/day with lognormal noise.
"""
from __future__ import annotations

import numpy as np

from basisbt.data.scenarios import portable_math as pm
from basisbt.data.scenarios.info import ScenarioInfo
from basisbt.data.scenarios.paths import MarketSpec, ScenarioVenue, step_at, utc, venue_rule

NAME = "death-spiral"
DEFAULT_SEED = 2026
START = "2026-01-01"
DAYS = 150

PRICE_ANCHORS = [("2026-01-01", 3050.0), ("2026-01-25", 2700.0), ("2026-02-10", 2150.0),
                 ("2026-03-01", 1950.0), ("2026-04-05", 2100.0), ("2026-05-01", 2300.0),
                 ("2026-05-31", 2200.0)]

PARAMS: dict = {
    "start": "2026-01-01T00:00Z", "days": DAYS, "default_seed": DEFAULT_SEED,
    "price_start": 3050.0, "price_end": 2200.0, "vol_annual": 0.40, "jumps_per_day": 0.1, "jump_sd": 0.01,
    "premium_mean": {"binance": -0.00055, "bybit": -0.00054, "okx": -0.00054}, "premium_sd": 0.00007,
    "target_funding_mean_8h": -0.00005, "real_2026_funding_mean_8h": -0.000001, "real_2026_negative_share": 0.46,
    "funding_interval_h": "from data/venues", "funding_cap": "from data/venues (per venue and symbol)",
    "lending_start": {"aave": 0.060, "morpho": 0.065}, "lending_end": {"aave": 0.015, "morpho": 0.018},
    "lending_decay_days": 50.0, "lending_sd": 0.0025,
    "supply_usd": 3.0e9, "mint_per_day": 5e6, "redeem_per_day": 20e6,
}

INFO = ScenarioInfo(
    name=NAME,
    summary="150 quiet days (vol 40 %) of negative funding on all venues (mean ~-0.005 %/8h), lending 6 % -> 1.5 %",
    stresses="persistent negative carry, lending rotation as yields sink, reserve fund and redemptions",
    params=PARAMS,
    shows="--strategy lending_rebalance: ends above perp_short (which bleeds funding) by rotating to lending; "
          "--strategy synthetic_dollar --set reference_supply=3e9: the reserve fund runs out",
)

NOTES = ("synthetic, seeded; funding made clearly negative (mean ~-0.005 %/8h) vs real 2026 H1 (-0.0001 %, 46 % negative)",
         "flows: USDe-like product, ~3 B supply, net redemptions")


def spec() -> MarketSpec:
    """The calibrated MarketSpec of the slow negative-funding bleed (see the module docstring)."""
    start = utc(START)
    n_h = DAYS * 24
    rule = {v: venue_rule(v, start, DAYS) for v in ("binance", "bybit", "okx")}
    sd = np.full(n_h + 1, 0.00007)
    venues = {
        "binance": ScenarioVenue(np.full(n_h + 1, -0.00055), sd, rule["binance"], perp_volume_per_min=900.0,
                             spot_volume_per_min=150.0),
        "bybit": ScenarioVenue(np.full(n_h + 1, -0.00054), sd, rule["bybit"], perp_volume_per_min=450.0,
                           spot_volume_per_min=45.0),
        "okx": ScenarioVenue(np.full(n_h + 1, -0.00054), sd, rule["okx"], perp_volume_per_min=350.0,
                         spot_volume_per_min=40.0),
    }
    decay = pm.exp(-np.arange(n_h + 1, dtype=np.float64) / (50.0 * 24))
    lend = {"aave": 0.015 + (0.060 - 0.015) * decay, "morpho": 0.018 + (0.065 - 0.018) * decay}
    anchors = tuple((step_at(start, t), p) for t, p in PRICE_ANCHORS)
    return MarketSpec(
        start=start, days=DAYS, anchors=anchors, vol=0.40, vol_template=np.ones(n_h + 1), venues=venues,
        lending_mean=lend, lending_sd=0.0025,
        mint_per_day=np.full(n_h + 1, 5e6), redeem_per_day=np.full(n_h + 1, 20e6),
        jumps_per_day=0.1, jump_sd=0.01, premium_half_life_h=8.0, vol_of_vol=0.25, fast_basis_sd=0.0002)
