"""adl-crash: a -25 % ETH crash in which Binance's insurance fund runs out and profitable shorts are deleveraged.

Window 2025-03-01 00:00 to 2025-03-07 00:00 UTC (6 days, short on purpose: the suite runs every built-in
on it). What it stresses: auto-deleveraging (issue 15 item 4). In a crash the hedge's short perp is in
profit; when bankrupt longs exceed the venue's insurance fund, the venue closes profitable shorts at the
bankrupt longs' price, and the hedge breaks exactly when it is needed: the book is left long the closed
part until the strategy shorts it again.

Parameters:
- price: 2,200 flat with 60 % vol for two days, then 2,200 -> 1,650 (-25 %) between Mar 3 18:00 and
  Mar 4 06:00 (the Feb 2025 crash took ~24 h for the same move), 1,800 by Mar 5, 1,850 at the end.
- ADL (the scenario's venue event, `VENUE_EVENTS`): Binance, 2025-03-04 06:00, half of a profitable perp
  position (`fraction` 0.5) closed at 1,640, the bankrupt longs' price just under the crash low
  (ADL fills at the bankruptcy price of the liquidated side). The insurance fund itself is not modelled:
  the schedule says when it ran out.
- funding: premium -0.03 % before, -0.08 % in the crash (funding ~-0.03 %/8h), 8h, caps from data/venues.
- lending: Aave 5 %, Morpho 5.5 %, 7 % / 8 % at the crash; flows: mint 15 M/day, redeem 12 M/day.
"""
from __future__ import annotations

import numpy as np

from basisbt.data.scenarios.info import ScenarioInfo
from basisbt.data.scenarios.paths import MarketSpec, ScenarioVenue, knots, step_at, utc, venue_rule
from basisbt.data.venue_events import VenueEvent

NAME = "adl-crash"
DEFAULT_SEED = 20250304
START = "2025-03-01"
DAYS = 6
ADL_TIME = "2025-03-04 06:00"
ADL_PRICE = 1640.0
ADL_FRACTION = 0.5

PRICE_ANCHORS = [("2025-03-01", 2200.0), ("2025-03-02 12:00", 2230.0), ("2025-03-03 18:00", 2200.0),
                 ("2025-03-04 00:00", 1950.0), ("2025-03-04 06:00", 1650.0), ("2025-03-04 12:00", 1720.0),
                 ("2025-03-05 00:00", 1800.0), ("2025-03-07", 1850.0)]

PARAMS: dict = {
    "start": "2025-03-01T00:00Z", "days": DAYS, "default_seed": DEFAULT_SEED,
    "price_before": 2200.0, "crash_low": 1650.0, "vol_annual": 0.60, "crash_vol_multiplier": 2.5,
    "adl": {"venue": "binance", "time": "2025-03-04T06:00Z", "fraction": ADL_FRACTION, "price": ADL_PRICE},
    "premium_before": -0.0003, "premium_crash": -0.0008, "funding_interval_h": "from data/venues", "funding_cap": "from data/venues (per venue and symbol)",
    "lending_base": {"aave": 0.05, "morpho": 0.055}, "mint_per_day": 15e6, "redeem_per_day": 12e6,
}

INFO = ScenarioInfo(
    name=NAME,
    summary="ETH -25 % in 12 h; Binance's insurance fund runs out and half of every profitable short is "
            "auto-deleveraged at 1,640",
    stresses="ADL of the hedge's short at the crash low, re-hedging speed, the unhedged gap in between",
    params=PARAMS,
    shows="the default (perp_short): half the short is deleveraged at 1,640 at 03-04 06:00 and shorted again "
          "one bar later (venue_events, ledger kind adl)",
)

NOTES = ("synthetic, seeded; a -25 % crash with one scheduled ADL event on binance (fraction 0.5 at 1,640)",
         "the insurance fund is not modelled: the ADL schedule says when it ran out")

VENUE_EVENTS = (VenueEvent("adl", "binance", utc(ADL_TIME), fraction=ADL_FRACTION, price=ADL_PRICE),)


def spec() -> MarketSpec:
    """The MarketSpec of the crash (see the module docstring)."""
    start = utc(START)
    n_h = DAYS * 24
    vol_t = knots(start, [(START, 1.0), ("2025-03-03 16:00", 1.0), ("2025-03-03 20:00", 2.5),
                          ("2025-03-04 10:00", 2.5), ("2025-03-05 00:00", 1.3), ("2025-03-07", 1.0)], n_h)
    prem = knots(start, [(START, -0.0003), ("2025-03-03 18:00", -0.0003), ("2025-03-04 06:00", -0.0008),
                         ("2025-03-05 06:00", -0.0004), ("2025-03-07", -0.0003)], n_h)
    sd = np.full(n_h + 1, 0.00006)
    rule = {v: venue_rule(v, start, DAYS) for v in ("binance", "bybit", "okx")}
    venues = {
        "binance": ScenarioVenue(prem, sd, rule["binance"], perp_volume_per_min=1400.0),
        "bybit": ScenarioVenue(prem * 0.9, sd, rule["bybit"], perp_volume_per_min=700.0, spot_volume_per_min=60.0),
        "okx": ScenarioVenue(prem * 0.9, sd, rule["okx"], perp_volume_per_min=500.0, spot_volume_per_min=50.0),
    }
    lend = {
        "aave": knots(start, [(START, 0.05), ("2025-03-03 18:00", 0.05), ("2025-03-04 06:00", 0.07),
                              ("2025-03-07", 0.052)], n_h),
        "morpho": knots(start, [(START, 0.055), ("2025-03-03 18:00", 0.055), ("2025-03-04 06:00", 0.08),
                                ("2025-03-07", 0.057)], n_h),
    }
    anchors = tuple((step_at(start, t), p) for t, p in PRICE_ANCHORS)
    return MarketSpec(
        start=start, days=DAYS, anchors=anchors, vol=0.60, vol_template=vol_t, venues=venues,
        lending_mean=lend, lending_sd=0.002, mint_per_day=np.full(n_h + 1, 15e6),
        redeem_per_day=np.full(n_h + 1, 12e6), jumps_per_day=0.2, jump_sd=0.01, premium_half_life_h=8.0)
