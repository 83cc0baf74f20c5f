"""btc-eth-rotation: ETH funding turns negative for ten days while BTC's stays positive (the asset-rotation case).

Window 2025-06-01 00:00 to 2025-07-01 00:00 UTC (30 days), assets ETH (primary) and BTC on binance,
bybit and okx. What it stresses: an allocator across assets. ETH pays the better carry before and
after the spell; from 2025-06-11 to 2025-06-21 ETH shorts pay funding on every venue while BTC shorts
still earn, so a book should move its short from ETH to BTC and back (and pay the fees to do so).

Parameters (STYLIZED: a designed case, not a replay of a measured event):
- prices: ETH 2,500 -> 2,600 (Jun 10) -> 2,350 (Jun 20, weak while its funding is negative) -> 2,500;
  BTC 65,000 -> 67,000 -> 64,000 -> 66,000; vol 60 % (ETH) and 45 % (BTC) annualized with one shared
  volatility regime; log returns correlated at 0.8 (data/scenarios/multi_asset.py: a common shock
  weighted sqrt(0.8)); jumps 0.2/day at common times, sd 1.2 % (ETH), 0.9 % (BTC).
- funding (binance and bybit: F = P + clamp(0.01 % - P, +-0.05 %) per 8h from the 8h-average premium P; okx
  prints its premium, set to give the same funding, paths.py):
  ETH premium 0.07 % (F ~ +0.02 %/8h) outside the spell, -0.08 % (F ~ -0.03 %/8h) inside, ramping
  over 6 h at each end; BTC premium 0.05 % throughout (F ~ +0.01 %/8h, the interest rate). Premium
  sd 0.015 %, half-life 8h, venue correlation 0.7. Caps and intervals per venue and per asset from
  data/venues/*.toml (`venue_rule(..., base=...)`): binance 0.3 % for both, bybit 0.375 % for both,
  okx 0.75 % for ETH and 0.375 % for BTC.
- lending (USDT supply APY): Aave 4.5 %, Morpho 5.2 %, sd 0.3 % (the squeeze scenario's base levels).
- flows (USDe-like): mint 20 M/day, redeem 10 M/day with lognormal noise.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from basisbt.data.dataset import Dataset
from basisbt.data.scenarios.info import ScenarioInfo
from basisbt.data.scenarios.multi_asset import PERP_SHARE, SPOT_SHARE, build
from basisbt.data.scenarios.paths import VENUES, MarketSpec, ScenarioVenue, knots, step_at, utc, venue_rule

NAME = "btc-eth-rotation"
DEFAULT_SEED = 20250611
START = "2025-06-01"
DAYS = 30
ASSETS = ("ETH", "BTC")
RHO = 0.8
SPELL = ("2025-06-11", "2025-06-21")     # [start, end): ETH's premium is at its negative level

PRICE_ANCHORS = {
    "ETH": [("2025-06-01", 2500.0), ("2025-06-10", 2600.0), ("2025-06-20", 2350.0), ("2025-07-01", 2500.0)],
    "BTC": [("2025-06-01", 65000.0), ("2025-06-10", 67000.0), ("2025-06-20", 64000.0), ("2025-07-01", 66000.0)],
}
VOL = {"ETH": 0.60, "BTC": 0.45}
JUMP_SD = {"ETH": 0.012, "BTC": 0.009}
VOLUME_PER_MIN = {"ETH": (1400.0, 200.0), "BTC": (110.0, 15.0)}    # Binance perp, spot (base units); multi_asset
PREMIUM = {"ETH": (0.0007, -0.0008), "BTC": (0.0005, 0.0005)}     # (outside, inside the spell)
PREMIUM_SD = 0.00015

PARAMS: dict = {
    "start": "2025-06-01T00:00Z", "days": DAYS, "default_seed": DEFAULT_SEED, "assets": list(ASSETS),
    "return_correlation": RHO, "spell": list(SPELL), "vol_annual": VOL,
    "premium_outside_spell": {a: p[0] for a, p in PREMIUM.items()},
    "premium_in_spell": {a: p[1] for a, p in PREMIUM.items()}, "premium_sd": PREMIUM_SD,
    "funding_cap": "from data/venues (per venue and base asset)",
    "lending_mean": {"aave": 0.045, "morpho": 0.052}, "mint_per_day": 20e6, "redeem_per_day": 10e6,
}

INFO = ScenarioInfo(
    name=NAME,
    summary="ETH and BTC (returns correlated 0.8) for 30 days; ETH funding ~ -0.03 %/8h from Jun 11 to Jun 21 "
            "while BTC's stays ~ +0.01 %/8h, ETH ~ +0.02 %/8h before and after",
    stresses="choosing the asset to carry: rotate the short ETH -> BTC -> ETH across three venues, and the fees of it",
    params=PARAMS,
    assets=ASSETS,
    shows="--strategy funding_allocator: the book rotates ETH -> BTC during the ETH spell and back, and beats "
          "the same allocator on ETH alone",
)

NOTES = ("synthetic, seeded; stylized: ETH funding negative on every venue from 2025-06-11 to 2025-06-21, "
         "BTC funding positive throughout; returns correlated 0.8",
         "flows: USDe-like product; lending and flows belong to the primary asset (ETH)")


def specs() -> dict[str, MarketSpec]:
    """The MarketSpec of each asset, ETH (primary) first (see the module docstring)."""
    start = utc(START)
    end = start + pd.Timedelta(days=DAYS)
    n_h = DAYS * 24
    s0, s1 = utc(SPELL[0]), utc(SPELL[1])
    ramp = pd.Timedelta(hours=6)
    out = {}
    for base in ASSETS:
        hi, lo = PREMIUM[base]
        mean = knots(start, [(start, hi), (s0 - ramp, hi), (s0, lo), (s1, lo), (s1 + ramp, hi), (end, hi)], n_h)
        sd = np.full(n_h + 1, PREMIUM_SD)
        perp, spot = VOLUME_PER_MIN[base]
        venues = {v: ScenarioVenue(mean, sd, venue_rule(v, start, DAYS, base=base),
                                   perp_volume_per_min=perp * PERP_SHARE[v], spot_volume_per_min=spot * SPOT_SHARE[v])
                  for v in VENUES}
        out[base] = MarketSpec(
            start=start, days=DAYS, anchors=tuple((step_at(start, t), p) for t, p in PRICE_ANCHORS[base]),
            vol=VOL[base], vol_template=np.ones(n_h + 1), venues=venues,
            lending_mean={"aave": np.full(n_h + 1, 0.045), "morpho": np.full(n_h + 1, 0.052)}, lending_sd=0.003,
            mint_per_day=np.full(n_h + 1, 20e6), redeem_per_day=np.full(n_h + 1, 10e6),
            jumps_per_day=0.2, jump_sd=JUMP_SD[base], premium_half_life_h=8.0)
    return out


def load(timeframe: str, seed: int) -> Dataset:
    """The combined ETH + BTC Dataset at `timeframe` for `seed` (load_scenario calls this)."""
    return build(NAME, specs(), seed, timeframe, NOTES + (f"seed={seed}",), RHO)
