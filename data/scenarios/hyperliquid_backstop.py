"""hyperliquid-backstop: a short squeeze on the perps that Hyperliquid's liquidator vault ends (the backstop case).

Window 2025-10-10 00:00 to 2025-10-12 00:00 UTC (2 days), ETH on binance and hyperliquid, 1m bars by default. What
it stresses: the same hedged book (long spot, short perp, quote margin: Hyperliquid takes no spot as margin) on a
venue that liquidates at a price with a clearance fee (Binance) and on one that sells into its book in 20 % orders
30 s apart and hands an account below 2/3 of maintenance to its liquidator vault (Hyperliquid,
data/venues/hyperliquid.toml).

Parameters (STYLIZED: a designed case, not a replay):
- spot: ETH about 4,000 (flat anchors), vol 40 % annualized, no jumps: spot barely moves in the squeeze;
- perps: both venues' perp premium jumps by +15 % at 2025-10-10 12:00 (a squeeze of the perps, not of spot) and
  decays with a 20-minute time constant; marks follow over 5 minutes (paths.py: the mark is the 5-minute average
  basis), so the mark gains ~3 % a minute at first: at 1m bars a Hyperliquid account breached by it falls below
  2/3 of maintenance within the 30 s before its second order may go, while at 1h bars (30 s = 1/120 of the walk)
  its book keeps up;
- funding from the venues' own rules and formulas (venue_rule: Binance 8h capped, Hyperliquid hourly capped at
  4 %), premium otherwise 0.01 % (funding at the interest rate);
- no lending, no flows.
"""
from __future__ import annotations

import numpy as np

from basisbt.data.scenarios.info import ScenarioInfo
from basisbt.data.scenarios.paths import STEPS_PER_MIN, MarketSpec, ScenarioVenue, step_at, utc, venue_rule

NAME = "hyperliquid-backstop"
DEFAULT_SEED = 20251010
START = "2025-10-10"
DAYS = 2
TIMEFRAME = "1m"
SQUEEZE_AT = "2025-10-10 12:00"
SQUEEZE = 0.20                   # the perps' premium jump over spot
SQUEEZE_TAU_MIN = 20.0           # its decay time constant (minutes)
VENUES = ("binance", "hyperliquid")

PARAMS: dict = {
    "start": "2025-10-10T00:00Z", "days": DAYS, "default_seed": DEFAULT_SEED, "timeframe": TIMEFRAME,
    "spot": 4000.0, "vol_annual": 0.40, "squeeze_at": SQUEEZE_AT + "Z", "squeeze_premium": SQUEEZE,
    "squeeze_tau_min": SQUEEZE_TAU_MIN, "premium_base": 0.0001, "venues": list(VENUES),
    "funding_cap": "from data/venues (per venue and symbol)",
}

INFO = ScenarioInfo(
    name=NAME,
    summary="ETH perps squeeze +15 % over spot at 12:00 on binance and hyperliquid (spot flat), back within an hour",
    stresses="Hyperliquid's liquidation: 20 % orders 30 s apart, and the liquidator vault taking a cross account "
             "below 2/3 of maintenance whole, against Binance's liquidation with a clearance fee",
    params=PARAMS,
    timeframe=TIMEFRAME,
    venues=VENUES,
    shows="--set venue=hyperliquid --set collateral=usdt --set leverage=10: the first 20 % goes into the book, then "
          "the vault takes the rest of the short and the whole cross margin; --set venue=binance (same): the short "
          "is liquidated with the clearance fee and the spot stays; --timeframe 1h: Hyperliquid's book sells the "
          "short in five orders and the trader keeps the rest",
)

NOTES = ("synthetic, seeded; stylized: a +15 % squeeze of the perps over spot at 2025-10-10 12:00, decaying over "
         "~1 h, on binance and hyperliquid",
         "no lending and no flows")


def spec() -> MarketSpec:
    """The MarketSpec of the squeeze (see the module docstring)."""
    start = utc(START)
    n_h = DAYS * 24
    base = np.full(n_h + 1, 0.0001)
    sd = np.full(n_h + 1, 0.00005)
    squeeze = ((step_at(start, SQUEEZE_AT), SQUEEZE, SQUEEZE_TAU_MIN * STEPS_PER_MIN),)
    venues = {v: ScenarioVenue(base, sd, venue_rule(v, start, DAYS), flashes=squeeze) for v in VENUES}
    anchors = ((0, 4000.0), (step_at(start, SQUEEZE_AT), 4000.0), (n_h * 60 * STEPS_PER_MIN, 4000.0))
    zero = np.zeros(n_h + 1)
    return MarketSpec(start=start, days=DAYS, anchors=anchors, vol=0.40, vol_template=np.ones(n_h + 1),
                      venues=venues, lending_mean={}, lending_sd=0.0, mint_per_day=zero, redeem_per_day=zero)
