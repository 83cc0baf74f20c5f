"""squeeze: a +40 % ETH rally in about two days with funding spiking to the cap (the short-squeeze case).

Window 2025-04-25 00:00 to 2025-05-25 00:00 UTC (30 days). What it stresses: a hedged book whose
short perp is USDT-margined with the spot held elsewhere: a 5x short (20 % initial margin) is
liquidated near +19 % on the mark, long before the spot gain can be moved across; and a
funding cost spike with Binance's interval switch (8h -> 1h after a capped print).

Parameters and what they are calibrated to:
- price: the real rally of May 2025 (Binance ETH/USDT hourly closes, measured): 1,796 on
  May 7 19:00 -> 2,583 on May 10 23:00 (+43.8 % in 76 h); synthetic anchors 1,800 (May 7 18:00)
  -> 2,200 (May 9 00:00) -> 2,530 (May 9 18:00) -> 2,600 (May 10 22:00) -> 2,500-2,550 to
  May 25; 1,780-1,840 before (real 3-day closes 1,791-1,834 from Apr 25).
- vol: 60 % base, x2.2 during the rally, vol-of-vol 0.35, jumps 0.2/day sd 1.2 %.
- funding: STYLIZED beyond the real event (real Binance prints stayed <= 0.01 %/8h on May 7-14):
  the perp premium rises to 1.1 % on Binance (0.6 % Bybit/OKX) over the rally, so the Binance
  8h print is capped at Binance's ETHUSDT cap of 0.3 % (data/venues/binance.toml, the 2025 block;
  0.75 % before the caps were per venue), Binance then settles every 1h (the May-2025 rule:
  1h after a capped print; F = (P + clamp(0.01 % - P, +-0.05 %)) x 1/8 ~ 0.13 %/h) and reverts to
  8h at the first 00/08/16 UTC settlement 72 h after its last capped print; Bybit/OKX stay 8h
  and print ~0.5 %/8h (Bybit capped at its 0.375 %, OKX under its 0.75 %). Before and after:
  premium mean 0.01 %, sd 0.02 % (funding ~0.01 %/8h).
- lending (USDT supply APY): Aave 4.5 %, Morpho 5.2 %, rising to 7 % / 8 % during the rally
  (borrow demand for leverage), sd 0.3 %.
- flows (USDe-like, ~2 B supply): mint 20 M/day rising to 60 M/day in the rally, redeem 8 M/day.
"""
from __future__ import annotations

import numpy as np

from basisbt.data.scenarios.info import ScenarioInfo
from basisbt.data.scenarios.paths import MarketSpec, ScenarioVenue, knots, step_at, utc, venue_rule

NAME = "squeeze"
DEFAULT_SEED = 20250508
START = "2025-04-25"
DAYS = 30

PRICE_ANCHORS = [("2025-04-25", 1780.0), ("2025-04-29", 1820.0), ("2025-05-02", 1840.0),
                 ("2025-05-05", 1800.0), ("2025-05-07 18:00", 1800.0), ("2025-05-09 00:00", 2200.0),
                 ("2025-05-09 18:00", 2530.0), ("2025-05-10 22:00", 2600.0), ("2025-05-13", 2550.0),
                 ("2025-05-18", 2500.0), ("2025-05-25", 2550.0)]

PARAMS: dict = {
    "start": "2025-04-25T00:00Z", "days": DAYS, "default_seed": DEFAULT_SEED,
    "rally_from": 1800.0, "rally_to": 2600.0, "rally_hours": 52, "vol_annual": 0.60, "rally_vol_multiplier": 2.2,
    "premium_peak": {"binance": 0.011, "bybit": 0.006, "okx": 0.006}, "premium_base": 0.0001,
    "funding_cap": "from data/venues (per venue and symbol)", "binance_switch_to_h": 1, "revert_after_h": 72,
    "lending_base": {"aave": 0.045, "morpho": 0.052}, "lending_peak": {"aave": 0.07, "morpho": 0.08},
    "supply_usd": 2.0e9, "mint_per_day": 20e6, "mint_per_day_rally": 60e6, "redeem_per_day": 8e6,
}

INFO = ScenarioInfo(
    name=NAME,
    summary="ETH +40 % in ~2 days (May 2025 path) with funding at the cap and Binance switching to 1h settlements",
    stresses="liquidation of a USDT-margined 5x short, funding-cost spike, funding interval change 8h -> 1h",
    params=PARAMS,
    shows="--set collateral=usdt --set leverage=5: the short is liquidated in the rally; collateral=spot (the "
          "default): it survives",
)

NOTES = ("synthetic, seeded; price path shaped like the 7-10 May 2025 rally (+44 % in 76 h)",
         "funding stylized beyond the real event: capped at the venue caps (Binance 0.3 %/8h) then 1h settlements",
         "flows: USDe-like product, ~2 B supply")


def spec() -> MarketSpec:
    """The calibrated MarketSpec of the short squeeze (see the module docstring)."""
    start = utc(START)
    n_h = DAYS * 24
    vol_t = knots(start, [(START, 1.0), ("2025-05-07 16:00", 1.0), ("2025-05-08 00:00", 2.2),
                          ("2025-05-10 12:00", 2.2), ("2025-05-12 00:00", 1.3), ("2025-05-25", 1.0)], n_h)

    def premium(peak: float) -> np.ndarray:
        return knots(start, [(START, 0.0001), ("2025-05-07 18:00", 0.0001), ("2025-05-08 06:00", peak),
                             ("2025-05-10 06:00", peak), ("2025-05-11 06:00", 0.0015),
                             ("2025-05-13 00:00", 0.0001), ("2025-05-25", 0.0001)], n_h)

    sd = np.full(n_h + 1, 0.0002)
    binance_rule = venue_rule("binance", start, DAYS, switch_to_h=1, revert_after_h=72)
    rule = {v: venue_rule(v, start, DAYS) for v in ("bybit", "okx")}
    venues = {
        "binance": ScenarioVenue(premium(0.011), sd, binance_rule, perp_volume_per_min=1400.0),
        "bybit": ScenarioVenue(premium(0.006), sd, rule["bybit"], perp_volume_per_min=700.0, spot_volume_per_min=60.0),
        "okx": ScenarioVenue(premium(0.006), sd, rule["okx"], perp_volume_per_min=500.0, spot_volume_per_min=50.0),
    }
    lend = {
        "aave": knots(start, [(START, 0.045), ("2025-05-07 18:00", 0.045), ("2025-05-09 12:00", 0.07),
                              ("2025-05-13", 0.05), ("2025-05-25", 0.045)], n_h),
        "morpho": knots(start, [(START, 0.052), ("2025-05-07 18:00", 0.052), ("2025-05-09 12:00", 0.08),
                                ("2025-05-13", 0.056), ("2025-05-25", 0.052)], n_h),
    }
    mint = knots(start, [(START, 20e6), ("2025-05-07 18:00", 20e6), ("2025-05-09", 60e6),
                         ("2025-05-12", 20e6), ("2025-05-25", 20e6)], n_h)
    anchors = tuple((step_at(start, t), p) for t, p in PRICE_ANCHORS)
    return MarketSpec(
        start=start, days=DAYS, anchors=anchors, vol=0.60, vol_template=vol_t, venues=venues,
        lending_mean=lend, lending_sd=0.003, mint_per_day=mint, redeem_per_day=np.full(n_h + 1, 8e6),
        jumps_per_day=0.2, jump_sd=0.012, premium_half_life_h=8.0)
