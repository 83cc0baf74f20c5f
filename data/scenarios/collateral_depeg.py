"""collateral-depeg: the rebound of 10 October 2025 with USDe collateral at 0.65 for 40 minutes on Binance.

Window 2025-10-10 21:00 to 2025-10-11 21:00 UTC (1 day), 15m bars by default. What it stresses: a margin asset
other than the quote (USDe, held as Multi-Assets collateral) that loses a third of its value on one venue's own
book for 40 minutes (21:36-22:16 UTC, about 0.65) while ETH rebounds from its crash low: a short opened in the
crash and margined with USDe loses margin twice (the rebound and the depeg) and is liquidated where the same
short margined with USDT or with its spot survives. Inside a bar every price walks from its open to its adverse
extreme together (docs/architecture.md §4): the mark to its high, USDe to its low.

Why the window opens at 21:00, at 15m (issue 23 item 10): the scenario used to start at 00:00 (ETH 4,370), so the
default run (`basisbt run --data scenario:collateral-depeg --set collateral=usde --set leverage=10`) shorted at
4,370 and was ~130k in unrealized profit when USDe depegged; unrealized profit counts as margin on Binance
(Multi-Assets mode), so no venue would have liquidated that book, and the run showed nothing: the model was right,
the window was not. The effect needs a short opened in the crash: at 10x the margin is 10 % of the notional, the
depeg takes 3.5 % of it, so the rebound must cost 6-9.5 % (more and USDT margin dies too). The window now starts
at 21:00 and its bars are 15m by default (`TIMEFRAME`; `--timeframe` overrides), so the hedge opens at the 21:15
bar open (~3,525, five minutes before the 3,440 bottom) and faces the whole rebound and depeg; with 1h bars it
would open at 22:00, after most of them. Every other bar size still loads (`--timeframe 5m`, `1h`, ...).

Parameters and what they are calibrated to (docs/venue-facts.md, events):
- price anchors (UTC): 3,780 at 21:00 (the crash path of the earlier version of this scenario, 3,950 at 20:50 to
  the bottom; the recorded Binance 1h bar opened at 3,871), bottom 3,440 at 21:20 (real Binance 21:00 bar: spot
  low 3,435.00, mark low 3,425.34, perp low 3,400.00), 3,600 at 21:36, 3,760 at 22:10, 3,800 at 23:00, 3,780 on
  Oct 11 06:00, 3,695 at the end (Binance's 1h open at Oct 11 21:00, 3,695.16). Only the lows and the last
  anchor are recorded; the rebound anchors are approximate and LOWER than the recorded 1h closes (3,950 at 22:00):
  the real rebound would have liquidated a 10x short opened at the bottom on any margin.
- vol: 60 % base, x3 to 23:00, x1.5 to Oct 11 06:00.
- perp flash at the bottom: Binance -1.0 % (perp low ~3,405 vs spot ~3,440), Bybit/OKX -0.5 %.
- premium and funding: premium mean 0.01 %, 8h settlements, caps from data/venues (as the other scenarios).
- collateral (USDe, dataset.collateral): 1.0 with 0.02 % noise on every venue; on Binance from
  21:36 to 22:16 UTC it trades at 0.65 (1m lows 0.65, closes 0.65-0.68), back to 0.998 at 22:16
  and to 1.0 by 22:30. Bybit and OKX keep USDe within 0.3 % (stylized: no recorded prints).
- lending: Aave 4.5 %, Morpho 5.0 %, flat with noise; flows: USDe-like mint/redeem 15 M/day, with
  300 M redeemed in the 24 h after the depeg (stylized; the window holds the first 23 h of it).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from basisbt.data.scenarios.assemble import bar_frame
from basisbt.data.scenarios.info import ScenarioInfo
from basisbt.data.scenarios.paths import (
    MIN_NS,
    STEPS_PER_MIN,
    MarketSpec,
    ScenarioVenue,
    hours_between,
    knots,
    step_at,
    utc,
    venue_rule,
)

NAME = "collateral-depeg"
DEFAULT_SEED = 20251010
START = "2025-10-10 21:00"
DAYS = 1
TIMEFRAME = "15m"        # the default bar size: the hedge opens at 21:15, near the bottom (module docstring)
COLLATERAL_ASSET = "USDe"
DEPEG_VENUE = "binance"
DEPEG_FROM, DEPEG_TO = "2025-10-10 21:36", "2025-10-10 22:16"
DEPEG_PRICE = 0.65

PRICE_ANCHORS = [("2025-10-10 21:00", 3780.0), ("2025-10-10 21:20", 3440.0), ("2025-10-10 21:36", 3600.0),
                 ("2025-10-10 22:10", 3760.0), ("2025-10-10 23:00", 3800.0), ("2025-10-11 06:00", 3780.0),
                 ("2025-10-11 21:00", 3695.0)]

PARAMS: dict = {
    "start": "2025-10-10T21:00Z", "days": DAYS, "default_seed": DEFAULT_SEED, "timeframe": TIMEFRAME,
    "price_start": 3780.0, "crash_bottom": 3440.0, "vol_annual": 0.60, "crash_vol_multiplier": 3.0,
    "collateral_asset": COLLATERAL_ASSET, "depeg_venue": DEPEG_VENUE, "depeg_price": DEPEG_PRICE,
    "depeg_from": "2025-10-10T21:36Z", "depeg_to": "2025-10-10T22:16Z",
    "funding_interval_h": "from data/venues", "funding_cap": "from data/venues (per venue and symbol)",
}

INFO = ScenarioInfo(
    name=NAME,
    summary="ETH's crash bottom (3,440 at 21:20 UTC) and rebound on 10 Oct 2025; USDe collateral at 0.65 on Binance "
            "for 40 minutes (21:36-22:16 UTC)",
    stresses="a non-quote collateral asset depegging on one venue during a crash rebound (Multi-Assets margin)",
    params=PARAMS,
    timeframe=TIMEFRAME,
    shows="--set collateral=usde --set leverage=10: the short (opened at 21:15) is liquidated in the 22:15 bar; "
          "collateral=usdt or spot (the default): it survives",
)

NOTES = ("synthetic, seeded; ETH lows as recorded on Binance 2025-10-10, other anchors approximate; 15m bars by "
         "default",
         "collateral: USDe bars per venue; Binance USDe at 0.65 from 21:36 to 22:16 UTC",
         "flows: USDe-like product; 300 M redeemed in the 24 h after the depeg (stylized)")


def spec() -> MarketSpec:
    """The MarketSpec of the 10 October 2025 evening (see the module docstring)."""
    start = utc(START)
    n_h = DAYS * 24
    vol_t = knots(start, [(START, 3.0), ("2025-10-10 23:00", 3.0), ("2025-10-11 06:00", 1.5),
                          ("2025-10-11 21:00", 1.0)], n_h)
    prem = knots(start, [(START, 0.0001), ("2025-10-11 21:00", 0.0001)], n_h)
    bottom = step_at(start, "2025-10-10 21:20")
    tau = 2.5 * STEPS_PER_MIN
    rule = {v: venue_rule(v, start, DAYS) for v in ("binance", "bybit", "okx")}
    sd = np.full(n_h + 1, 0.0001)
    venues = {
        "binance": ScenarioVenue(prem, sd, rule["binance"], flashes=((bottom, -0.010, tau),),
                                 perp_volume_per_min=1400.0),
        "bybit": ScenarioVenue(prem * 0.9, sd, rule["bybit"], flashes=((bottom, -0.005, tau),),
                               perp_volume_per_min=700.0,
                               spot_volume_per_min=60.0),
        "okx": ScenarioVenue(prem * 0.9, sd, rule["okx"], flashes=((bottom, -0.005, tau),), perp_volume_per_min=500.0,
                             spot_volume_per_min=50.0),
    }
    lend = {"aave": np.full(n_h + 1, 0.045), "morpho": np.full(n_h + 1, 0.050)}
    h = np.arange(n_h + 1, dtype=np.float64)
    dt = h - hours_between(start, "2025-10-10 22:00")
    profile = np.where((dt >= 0) & (dt < 24), np.exp(-np.clip(dt, 0, None) / 6.0), 0.0)
    anchors = tuple((step_at(start, t), p) for t, p in PRICE_ANCHORS)
    return MarketSpec(
        start=start, days=DAYS, anchors=anchors, vol=0.60, vol_template=vol_t, venues=venues,
        lending_mean=lend, lending_sd=0.002, mint_per_day=np.full(n_h + 1, 15e6),
        redeem_per_day=np.full(n_h + 1, 15e6), extra_redeem=300e6 * profile / profile.sum(),
        jumps_per_day=0.0, jump_sd=0.0, premium_half_life_h=8.0)


def collateral_frames(minutes_per_bar: int, seed: int) -> dict[str, pd.DataFrame]:
    """USDe bars per venue (open, high, low, close in USDT) at `minutes_per_bar`, exact aggregations of 1m bars."""
    start = utc(START)
    n = DAYS * 1440
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xC011]))     # its own stream: prices untouched
    t = start.value + np.arange(n, dtype=np.int64) * MIN_NS
    lo_i = int((utc(DEPEG_FROM).value - start.value) // MIN_NS)
    hi_i = int((utc(DEPEG_TO).value - start.value) // MIN_NS)
    out = {}
    for v in ("binance", "bybit", "okx"):
        close = 1.0 + rng.normal(0.0, 0.0002, n)
        dip = np.abs(rng.normal(0.0, 0.0003, n))
        if v == DEPEG_VENUE:
            close[lo_i:hi_i] = DEPEG_PRICE + rng.uniform(0.0, 0.03, hi_i - lo_i)
            ramp = np.linspace(0.998, 1.0, 14)                       # 22:16-22:30: back to par
            close[hi_i:hi_i + 14] = ramp + rng.normal(0.0, 0.0002, 14)
        else:
            window = (t >= utc("2025-10-10 21:20").value) & (t < utc("2025-10-10 22:30").value)
            dip[window] += rng.uniform(0.0, 0.003, int(window.sum()))
        open_ = np.r_[1.0, close[:-1]]
        low = np.minimum(open_, close) - dip
        if v == DEPEG_VENUE:
            low[lo_i:hi_i] = DEPEG_PRICE                             # every depeg minute trades down to 0.65
        high = np.maximum(open_, close) + np.abs(rng.normal(0.0, 0.0002, n))
        bars = {"open": open_, "high": high, "low": low, "close": close}
        out[v] = bar_frame(start, bars, minutes_per_bar)
    return out
