"""feb-2025-crash: three weeks around the ETH liquidation cascade of 2-3 February 2025 (the default scenario).

Window 2025-01-27 00:00 to 2025-02-17 00:00 UTC (21 days). What it stresses: a -25 % spot move
in under a day, a perp that wicks far below its mark (liquidations must use the mark, docs/architecture.md
§10), a venue-specific perp discount (Binance 5.8 %, Bybit/OKX ~1 %), funding flipping negative
for a few days, lending yields spiking, and 50 M USD of redemptions in 24 h.

Parameters and what they are calibrated to (real numbers are Binance ETHUSDT hourly bars from
../shared/data, measured with pandas; only summary numbers are kept here):
- price anchors (efficient/index price, UTC instants): 3,180 on Jan 27, 3,380 on Jan 31,
  3,300 on Feb 2 05:00, 2,880 at 22:00, 2,823 at Feb 3 01:00, 2,492 at 02:00, bottom 2,208 at
  02:20, 2,487 at 03:00, 2,452 at 05:00, 2,880 on Feb 4 00:00, then 2,600-2,750 to Feb 17.
  Real: spot closes 3,317 (Feb 1 00:00), 2,823 (Feb 3 00:00 bar), 2,492 (01:00 bar close),
  min hourly close 2,452.65 (04:00 bar), 2,880 (Feb 3 23:00), 2,600-2,750 to Feb 20. The 3,300
  anchor is placed at Feb 2 05:00 (real: ~3,150) so the -25 % move fits inside 24 h as docs/architecture.md §10
  states it; the hourly-close drawdown is 3,300 -> 2,452 = -25.7 %.
- bottom: the Binance perp trade low is ~2,080 (real 2,080.19, 02:00 bar) and the Binance mark low
  ~2,158 (real 2,157.66): the 5.8 % Binance discount (seed article) is a flash dislocation of
  depth -5.75 % decaying with a 2.5-minute time constant on top of the slow premium, so
  perp low = 2,208 x (1 - 5.8 %) ~ 2,080, while the mark = index x (1 + 5-minute average basis)
  bottoms near 2,160. Bybit and OKX get the same flash at -0.95 % (~1 % discount). The synthetic
  spot low (~2,208) is above the real Binance spot low (2,125.01): the whole dislocation is put
  in the perp so the seed's 5.8 % perp/spot discount is reproduced at the wick (real hourly
  bars show perp low / spot low = -2.1 % on that bar).
- vol: 65 % annualized base (2025 hourly realized 72.5 %, Jan 2025 calmer), x3 on the crash
  night (Feb 2 16:00 - Feb 3 08:00), x1.6 decaying to x1 by Feb 8; vol-of-vol 0.35.
- premium (perp vs index, 8h average drives funding): mean -0.042 % before the crash (real 2025
  hourly perp/spot - 1: mean -0.043 %, sd 0.013 %), so funding prints 0.004-0.01 %/8h as the
  real Jan 28 - Feb 2 prints (0.0023-0.0100 %); it falls to -0.075 % on Feb 3 (funding about
  -0.025 %, the Feb 3 08:00 print -0.03..-0.04 % because it also averages the flash;
  real prints -0.0167 % at 08:00, -0.0251 % at 16:00, -0.0107 % Feb 4 00:00), back to -0.045 %
  by Feb 6 and -0.035 % by Feb 9 (real: mixed -0.008..+0.01 % Feb 4-12, positive after).
  Premium sd 0.006 %, half-life 8h, venue correlation 0.7 (Binance vs Bybit ETH funding 2023: 0.72).
- funding: 8h on all venues (00/08/16 UTC), each venue's formula (binance, bybit: Binance's; okx: its premium,
  at the premium that gives the same funding, data/scenarios/paths.py), caps from data/venues.
- lending (USDT supply APY, hourly): Aave 5.0 %, Morpho 5.5 % before; peak templates 7.3 % and
  8.6 % on Feb 3 12:00 (+ AR(1) noise sd 0.2 %, half-life 24h) so the maximum is ~8.5-8.9 %, the
  seed's "up to 8.75 % APY"; back to base by Feb 7.
- flows (USD per hour, USDe-like supply ~2.5 B): mint 15 M/day, redeem 12 M/day baseline with
  lognormal noise; a front-loaded extra 38 M of redemptions from Feb 3 01:00 over 24 h, so ~50 M
  is redeemed in the 24 h after the crash (seed: 50 M redemptions, 350 M secondary volume).
"""
from __future__ import annotations

import numpy as np

from basisbt.data.scenarios import portable_math as pm
from basisbt.data.scenarios.info import ScenarioInfo
from basisbt.data.scenarios.paths import (
    STEPS_PER_MIN,
    MarketSpec,
    ScenarioVenue,
    hours_between,
    knots,
    step_at,
    utc,
    venue_rule,
)

NAME = "feb-2025-crash"
DEFAULT_SEED = 20250203
START = "2025-01-27"
DAYS = 21

PRICE_ANCHORS = [
    ("2025-01-27 00:00", 3180.0), ("2025-01-29 00:00", 3120.0), ("2025-01-31 12:00", 3380.0),
    ("2025-02-01 12:00", 3260.0), ("2025-02-02 05:00", 3300.0), ("2025-02-02 16:00", 3060.0),
    ("2025-02-02 22:00", 2880.0), ("2025-02-03 01:00", 2823.0), ("2025-02-03 02:00", 2492.0),
    ("2025-02-03 02:20", 2208.0), ("2025-02-03 02:26", 2218.0), ("2025-02-03 02:32", 2250.0), ("2025-02-03 03:00", 2487.0),
    ("2025-02-03 05:00", 2452.0), ("2025-02-03 08:00", 2620.0), ("2025-02-03 13:00", 2580.0),
    ("2025-02-04 00:00", 2880.0), ("2025-02-04 12:00", 2740.0), ("2025-02-05 12:00", 2790.0),
    ("2025-02-07 12:00", 2700.0), ("2025-02-08 00:00", 2620.0), ("2025-02-10 00:00", 2650.0),
    ("2025-02-12 00:00", 2610.0), ("2025-02-14 00:00", 2700.0), ("2025-02-17 00:00", 2740.0),
]
CRASH_BOTTOM = "2025-02-03 02:20"

PARAMS: dict = {
    "start": "2025-01-27T00:00Z", "days": DAYS, "default_seed": DEFAULT_SEED,
    "price_start": 3180.0, "price_peak_before_crash": 3300.0, "hourly_close_low": 2452.0,
    "crash_bottom_index": 2208.0, "binance_perp_low": 2080.0, "binance_mark_low": 2158.0,
    "binance_flash_discount": 0.058, "bybit_okx_flash_discount": 0.0095, "flash_tau_min": 2.5,
    "vol_annual": 0.65, "crash_vol_multiplier": 3.0,
    "premium_mean_before": -0.00042, "premium_mean_crash": -0.00075, "premium_sd": 0.00006,
    "funding_interval_h": "from data/venues", "funding_cap": "from data/venues (per venue and symbol)",
    "funding_before": "0.004-0.01 %/8h", "funding_trough": "-0.025 to -0.04 %/8h",
    "lending_base": {"aave": 0.050, "morpho": 0.055}, "lending_peak": {"aave": 0.073, "morpho": 0.086},
    "supply_usd": 2.5e9, "mint_per_day": 15e6, "redeem_per_day": 12e6, "crash_redemptions_24h": 50e6,
}

INFO = ScenarioInfo(
    name=NAME,
    summary="ETH -25 % in under a day on 2-3 Feb 2025: perp wicks to 2,080 vs mark 2,158, Binance 5.8 % discount",
    stresses="mark vs trade-wick liquidation, venue basis divergence, funding flip negative, lending spike, redemptions",
    params=PARAMS,
    shows="the default (perp_short): no liquidation (the perp wicks to ~2,080, the mark only to ~2,158), "
          "funding turns negative after Feb 3; --strategy synthetic_dollar: backing stays >= 1 while the "
          "reserve pays",
)


def spec() -> MarketSpec:
    """The calibrated MarketSpec of the February 2025 crash (see the module docstring for each number)."""
    start = utc(START)
    n_h = DAYS * 24
    vol_t = knots(start, [(START, 1.0), ("2025-02-02 12:00", 1.0), ("2025-02-02 16:00", 3.0),
                          ("2025-02-03 08:00", 3.0), ("2025-02-03 12:00", 1.6), ("2025-02-05 00:00", 1.4),
                          ("2025-02-08 00:00", 1.0), ("2025-02-17 00:00", 1.0)], n_h)
    prem = [(START, -0.00042), ("2025-02-03 02:00", -0.00042), ("2025-02-03 10:00", -0.00070),
            ("2025-02-03 18:00", -0.00075), ("2025-02-04 06:00", -0.00060), ("2025-02-06 00:00", -0.00045),
            ("2025-02-09 00:00", -0.00035), ("2025-02-17 00:00", -0.00035)]
    bottom = step_at(start, CRASH_BOTTOM)
    tau = 2.5 * STEPS_PER_MIN
    rule = {v: venue_rule(v, start, DAYS) for v in ("binance", "bybit", "okx")}
    venues = {
        "binance": ScenarioVenue(knots(start, prem, n_h), np.full(n_h + 1, 0.00006), rule["binance"],
                             flashes=((bottom, -0.0575, tau),), perp_volume_per_min=1400.0),
        "bybit": ScenarioVenue(knots(start, prem, n_h) * 0.9, np.full(n_h + 1, 0.00006), rule["bybit"],
                           flashes=((bottom, -0.0095, tau),), perp_volume_per_min=700.0,
                           spot_volume_per_min=60.0),
        "okx": ScenarioVenue(knots(start, prem, n_h) * 0.9, np.full(n_h + 1, 0.00006), rule["okx"],
                         flashes=((bottom, -0.0095, tau),), perp_volume_per_min=500.0,
                         spot_volume_per_min=50.0),
    }
    lend = {
        "aave": knots(start, [(START, 0.050), ("2025-02-02 22:00", 0.050), ("2025-02-03 12:00", 0.073),
                              ("2025-02-04 12:00", 0.066), ("2025-02-07 00:00", 0.050), ("2025-02-17", 0.048)], n_h),
        "morpho": knots(start, [(START, 0.055), ("2025-02-02 22:00", 0.055), ("2025-02-03 12:00", 0.086),
                                ("2025-02-04 12:00", 0.072), ("2025-02-07 00:00", 0.056), ("2025-02-17", 0.053)], n_h),
    }
    h = np.arange(n_h + 1, dtype=np.float64)
    t0 = hours_between(start, "2025-02-03 01:00")
    dt = h - t0
    profile = np.where((dt >= 0) & (dt < 24), pm.exp(-np.clip(dt, 0, None) / 6.0), 0.0)
    extra = 38e6 * profile / profile.sum()
    anchors = tuple((step_at(start, t), p) for t, p in PRICE_ANCHORS)
    return MarketSpec(
        start=start, days=DAYS, anchors=anchors, vol=0.65, vol_template=vol_t, venues=venues,
        lending_mean=lend, lending_sd=0.002,
        mint_per_day=np.full(n_h + 1, 15e6), redeem_per_day=np.full(n_h + 1, 12e6), extra_redeem=extra,
        jumps_per_day=0.2, jump_sd=0.01, premium_half_life_h=8.0, fast_basis_sd=0.0003)


NOTES = (
    "synthetic, seeded; calibrated to Binance ETHUSDT 2-3 Feb 2025 summary numbers and the seed article",
    "the 3,300 anchor sits at Feb 2 05:00 (real ~3,150) so the -25 % move fits in 24 h",
    "perp/spot discount is a flash on the perp: Binance 5.8 %, Bybit/OKX ~1 %; mark = index x (1 + 5-min mean basis)",
    "flows: USDe-like product, ~2.5 B supply; ~50 M redeemed in the 24 h after the crash",
)

