"""venue-default: one of three venues halts withdrawals, then defaults and returns 60 % (FTX-like, Nov 2022).

Window 2022-11-06 00:00 to 2022-11-13 00:00 UTC (7 days, short on purpose). What it stresses: a venue
failure (issue 15 item 5; the seed's "a systemic collapse could freeze withdrawals and break hedging
mechanisms across venues"). The hedge on the failing venue cannot be moved out once withdrawals stop,
and at the default the whole balance there (cash, spot, the short's PnL) is written off; 60 % comes back
two days later on another venue.

Parameters (shaped like FTX, 6-11 Nov 2022: withdrawals halted on Nov 8, bankruptcy on Nov 11; ETH
1,600 -> 1,100 on Nov 9, ~1,250 after):
- price: 1,600 until Nov 7 12:00, 1,550 on Nov 8 00:00, 1,100 on Nov 9 18:00, 1,270 Nov 10, 1,250 end.
- venue events (`VENUE_EVENTS`), on bybit (the venue that fails here; any of the three could):
  halt of withdrawals (trading continues, as on FTX until the end) 2022-11-08 12:00 .. 2022-11-10 00:00,
  then a default at 2022-11-10 00:00: positions closed at 1,250, recovery 0.6, delay 48 h; the 60 %
  arrives on binance (the first other venue) on 2022-11-12 00:00.
- funding: premium -0.02 % before, -0.06 % in the sell-off, 8h, caps from data/venues; lending Aave 3 %, Morpho 3.5 %;
  flows: mint 10 M/day, redeem 10 M/day.
"""
from __future__ import annotations

import numpy as np

from basisbt.data.scenarios.info import ScenarioInfo
from basisbt.data.scenarios.paths import MarketSpec, ScenarioVenue, knots, step_at, utc, venue_rule
from basisbt.data.venue_events import VenueEvent

NAME = "venue-default"
DEFAULT_SEED = 20221108
START = "2022-11-06"
DAYS = 7
VENUE = "bybit"
HALT_START, DEFAULT_TIME = "2022-11-08 12:00", "2022-11-10 00:00"
CLOSE_PRICE, RECOVERY, DELAY_H = 1250.0, 0.6, 48.0

PRICE_ANCHORS = [("2022-11-06", 1600.0), ("2022-11-07 12:00", 1600.0), ("2022-11-08 00:00", 1550.0),
                 ("2022-11-09 18:00", 1100.0), ("2022-11-10 00:00", 1250.0), ("2022-11-10 12:00", 1270.0),
                 ("2022-11-13", 1250.0)]

PARAMS: dict = {
    "start": "2022-11-06T00:00Z", "days": DAYS, "default_seed": DEFAULT_SEED,
    "price_before": 1600.0, "low": 1100.0, "vol_annual": 0.70,
    "halt": {"venue": VENUE, "start": "2022-11-08T12:00Z", "end": "2022-11-10T00:00Z", "stop_trading": False,
             "stop_withdrawals": True},
    "default": {"venue": VENUE, "time": "2022-11-10T00:00Z", "price": CLOSE_PRICE, "recovery": RECOVERY,
                "delay_h": DELAY_H, "recovery_to": "binance"},
    "premium_before": -0.0002, "premium_selloff": -0.0006, "funding_interval_h": "from data/venues", "funding_cap": "from data/venues (per venue and symbol)",
    "lending_base": {"aave": 0.03, "morpho": 0.035}, "mint_per_day": 10e6, "redeem_per_day": 10e6,
}

INFO = ScenarioInfo(
    name=NAME,
    summary="FTX-like: bybit halts withdrawals on Nov 8, defaults on Nov 10 (book closed at 1,250) and returns "
            "60 % two days later; ETH -31 %",
    stresses="a venue failure: trapped collateral, the write-off, the hedge lost on one venue, recovery elsewhere",
    params=PARAMS,
    shows="--set venue=bybit: the whole book is written off at the default, 60 % arrives on binance 48 h later;"
          " --strategy synthetic_dollar: loses 40 % of bybit's third",
)

NOTES = ("synthetic, seeded; shaped like FTX 6-11 Nov 2022 (withdrawals halted, then bankruptcy)",
         "bybit stands in for the failing venue: halt of withdrawals 11-08 12:00, default 11-10 00:00, 60 % back "
         "after 48 h on binance")

VENUE_EVENTS = (
    VenueEvent("halt", VENUE, utc(HALT_START), end=utc(DEFAULT_TIME), stop_trading=False, stop_withdrawals=True),
    VenueEvent("default", VENUE, utc(DEFAULT_TIME), price=CLOSE_PRICE, recovery=RECOVERY, delay_h=DELAY_H),
)


def spec() -> MarketSpec:
    """The MarketSpec of the venue failure (see the module docstring)."""
    start = utc(START)
    n_h = DAYS * 24
    vol_t = knots(start, [(START, 1.0), ("2022-11-08 00:00", 1.0), ("2022-11-08 12:00", 2.0),
                          ("2022-11-10 06:00", 2.0), ("2022-11-11 00:00", 1.2), ("2022-11-13", 1.0)], n_h)
    prem = knots(start, [(START, -0.0002), ("2022-11-08 00:00", -0.0002), ("2022-11-09 18:00", -0.0006),
                         ("2022-11-11 00:00", -0.0003), ("2022-11-13", -0.0002)], n_h)
    sd = np.full(n_h + 1, 0.00006)
    rule = {v: venue_rule(v, start, DAYS) for v in ("binance", "bybit", "okx")}
    venues = {
        "binance": ScenarioVenue(prem, sd, rule["binance"], perp_volume_per_min=1400.0),
        "bybit": ScenarioVenue(prem * 1.2, sd, rule["bybit"], perp_volume_per_min=700.0, spot_volume_per_min=60.0),
        "okx": ScenarioVenue(prem * 0.9, sd, rule["okx"], perp_volume_per_min=500.0, spot_volume_per_min=50.0),
    }
    lend = {"aave": knots(start, [(START, 0.03), ("2022-11-13", 0.03)], n_h),
            "morpho": knots(start, [(START, 0.035), ("2022-11-13", 0.035)], n_h)}
    anchors = tuple((step_at(start, t), p) for t, p in PRICE_ANCHORS)
    return MarketSpec(
        start=start, days=DAYS, anchors=anchors, vol=0.70, vol_template=vol_t, venues=venues,
        lending_mean=lend, lending_sd=0.002, mint_per_day=np.full(n_h + 1, 10e6),
        redeem_per_day=np.full(n_h + 1, 10e6), jumps_per_day=0.2, jump_sd=0.01, premium_half_life_h=8.0)
