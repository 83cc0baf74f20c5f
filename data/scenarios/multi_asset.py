"""Several base assets in one synthetic market: correlated prices, each asset with its own basis and funding.

`generate(assets=("ETH", "BTC", "SOL"), days=365, timeframe="1h", seed=0)` returns one combined Dataset
(`Dataset.combine`: the first asset is the primary and carries the lending and flow frames) for the
benchmark and for tests; `build` is what a multi-asset scenario module (btc_eth_rotation.py) calls.

Price model: one volatility regime for the whole market (crypto volatility regimes are shared), and
per asset a log random walk whose Gaussian increments are sqrt(rho) x a common shock + sqrt(1 - rho)
x the asset's own, so log returns of any two assets correlate at about `rho` (jumps, if any, at
common times with sizes correlated the same way). Each walk is bridged through its asset's anchor
prices as in `paths.anchored_log_price`. Spot, perp, mark, funding and volumes then come from
`paths.simulate` per asset with that price, so every asset's funding is each venue's formula on its
own premium, capped by its own cap per venue (`paths.venue_rule(venue, start, days, base)`).
Same assets, days, timeframe and seed give bit-identical frames.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from basisbt.data.dataset import Dataset
from basisbt.data.scenarios import portable_math as pm
from basisbt.data.scenarios.assemble import minutes_per_bar, to_dataset
from basisbt.data.scenarios.paths import (
    F64,
    STEP_S,
    STEPS_PER_HOUR,
    VENUES,
    YEAR_S,
    MarketSpec,
    ScenarioVenue,
    simulate,
    utc,
    venue_rule,
    vol_multiplier,
)

QUOTE = "USDT"
RHO = 0.8                # BTC/ETH hourly log-return correlation, 2023-2025: about 0.8 (a stylized target)


@dataclass(frozen=True)
class AssetProfile:
    """Rough levels of one base asset for `generate`: start price, annualized vol, Binance 1m volumes (base units).

    Orders of magnitude for plausible bars, not a calibration: ETH's volumes are the ones the ETH
    scenarios use (Binance 2024), BTC's and SOL's scale them by price and relative turnover.
    """

    price: float
    vol: float
    perp_volume_per_min: float
    spot_volume_per_min: float


PROFILES: dict[str, AssetProfile] = {
    "ETH": AssetProfile(price=3000.0, vol=0.60, perp_volume_per_min=1400.0, spot_volume_per_min=200.0),
    "BTC": AssetProfile(price=60000.0, vol=0.45, perp_volume_per_min=110.0, spot_volume_per_min=15.0),
    "SOL": AssetProfile(price=150.0, vol=0.80, perp_volume_per_min=12000.0, spot_volume_per_min=2000.0),
}
# each venue's share of Binance's volume (the ETH scenarios' ratios: perp 1400/700/500, spot 200/60/50)
PERP_SHARE = {"binance": 1.0, "bybit": 0.5, "okx": 0.36}
SPOT_SHARE = {"binance": 1.0, "bybit": 0.3, "okx": 0.25}


def asset_seed(seed: int, i: int) -> int:
    """The seed of asset number i (0 = primary) in a market seeded with `seed`: independent streams per asset."""
    return int(np.random.SeedSequence([int(seed), i + 1]).generate_state(1)[0])


def _bridge(inc: F64, anchors: tuple[tuple[int, float], ...]) -> F64:
    """Log price on the fine clock: the walk of `inc` minus its interpolation at the anchors, plus the anchor trend."""
    walk = np.concatenate([[0.0], np.cumsum(inc)])
    t = np.arange(walk.size, dtype=np.float64)
    idx = np.array([a for a, _ in anchors], dtype=np.int64)
    trend = np.interp(t, idx.astype(np.float64), pm.log(np.array([p for _, p in anchors], dtype=np.float64)))
    return trend + walk - np.interp(t, idx.astype(np.float64), walk[idx])


def correlated_prices(specs: dict[str, MarketSpec], seed: int, rho: float = RHO) -> tuple[F64, dict[str, F64]]:
    """(shared volatility multiplier (n_steps), efficient price per asset (n_steps + 1)) with return correlation rho.

    The first spec sets the market's clock, volatility template, vol-of-vol and jump rate; each spec
    its own anchors, vol and jump size. All specs must share start and days.
    """
    if not specs:
        raise ValueError("correlated_prices needs at least one asset")
    if not 0.0 <= rho <= 1.0:
        raise ValueError(f"rho {rho} outside [0, 1]")
    first = next(iter(specs.values()))
    for base, s in specs.items():
        if s.start != first.start or s.days != first.days:
            raise ValueError(f"asset {base}: span {s.start} + {s.days} d differs from {first.start} + {first.days} d")
    n = first.n_steps
    names = ["vol", "common", "jumps"] + [f"own:{b}" for b in specs]
    streams = dict(zip(names, (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(names))), strict=True))
    vm = vol_multiplier(streams["vol"], first.vol_template, n, first.vol_of_vol)
    common = streams["common"].standard_normal(n)
    jumps = first.jumps_per_day > 0.0
    if jumps:
        hit = streams["jumps"].random(n) < first.jumps_per_day * STEP_S / 86400.0
        common_jump = streams["jumps"].standard_normal(n)
    a, b = np.sqrt(rho), np.sqrt(1.0 - rho)
    out: dict[str, F64] = {}
    for base, s in specs.items():
        rng = streams[f"own:{base}"]
        jump_var = first.jumps_per_day * 365.0 * s.jump_sd**2
        diff_vol = np.sqrt(max(s.vol**2 - jump_var, 0.05 * s.vol**2))
        inc = (a * common + b * rng.standard_normal(n)) * (diff_vol * np.sqrt(STEP_S / YEAR_S)) * vm
        if jumps:
            inc += np.where(hit, (a * common_jump + b * rng.standard_normal(n)) * s.jump_sd, 0.0)
        out[base] = pm.exp(_bridge(inc, s.anchors))
    return vm, out


def build(name: str, specs: dict[str, MarketSpec], seed: int, timeframe: str, notes: tuple[str, ...],
          rho: float = RHO) -> Dataset:
    """The combined Dataset `scenario:NAME` of several assets (first = primary) on correlated prices.

    Each asset is simulated with its own seed (`asset_seed`) and assembled at `timeframe` before the
    next one, so only one asset's 1m arrays are held at a time. The primary keeps its lending and
    flows (the run's); the others keep spot, perp, mark and funding, as `Dataset.extra_assets` are read.
    """
    minutes_per_bar(timeframe)
    vm, eff = correlated_prices(specs, seed, rho)
    parts = []
    for i, (base, spec) in enumerate(specs.items()):
        market = simulate(spec, asset_seed(seed, i), price=(vm, eff.pop(base)))
        ds = to_dataset(name if i == 0 else f"{name}:{base}", market, timeframe, notes if i == 0 else (),
                        symbol=f"{base}/{QUOTE}")
        del market
        parts.append(ds if i == 0 else replace(ds, lending={}, flows=None))
    return Dataset.combine(parts, name=f"scenario:{name}")


def spec_gaps(base: str, venues: tuple[str, ...], start: str) -> list[str]:
    """What data/venues/*.toml lack for `base` at `start` (a funding cap of its own, margin tiers), one note each."""
    from basisbt.data.venues import load_venue
    notes = []
    for v in venues:
        blk = load_venue(v, at=utc(start))
        if base not in blk.funding_cap and "*" not in blk.funding_cap:
            notes.append(f"{base}: data/venues/{v}.toml has no {base} funding cap; its funding is capped at the "
                         f"widest cap of the block in force ({blk.cap_for(base):.4%} at {start}; VenueSpec.cap_for)")
        if base not in blk.tiers:
            notes.append(f"{base}: data/venues/{v}.toml has no {base} margin tiers (at {start})")
    return notes


def market_spec(base: str, start: str, days: int, venues: tuple[str, ...] = VENUES) -> MarketSpec:
    """A plain carry market for one asset: price bridged from its profile level back to it, funding and
    lending like bull-carry (premium mean 0.012 %, sd 0.045 %, skew 0.4; Aave 4.5 %, Morpho 5.5 %)."""
    prof = PROFILES[base]
    t0 = utc(start)
    n_h = days * 24
    mean, sd = np.full(n_h + 1, 0.00012), np.full(n_h + 1, 0.00045)
    vs = {v: ScenarioVenue(mean, sd, venue_rule(v, t0, days, base=base),
                           perp_volume_per_min=prof.perp_volume_per_min * PERP_SHARE.get(v, 0.5),
                           spot_volume_per_min=prof.spot_volume_per_min * SPOT_SHARE.get(v, 0.3)) for v in venues}
    n_steps = n_h * STEPS_PER_HOUR
    return MarketSpec(
        start=t0, days=days, anchors=((0, prof.price), (n_steps, prof.price)), vol=prof.vol,
        vol_template=np.ones(n_h + 1), venues=vs,
        lending_mean={"aave": np.full(n_h + 1, 0.045), "morpho": np.full(n_h + 1, 0.055)}, lending_sd=0.004,
        mint_per_day=np.full(n_h + 1, 25e6), redeem_per_day=np.full(n_h + 1, 10e6),
        jumps_per_day=0.3, jump_sd=0.012, premium_skew=0.4, premium_half_life_h=8.0)


def generate(assets: tuple[str, ...] = ("ETH", "BTC", "SOL"), days: int = 365, timeframe: str = "1h", seed: int = 0,
             *, start: str = "2024-01-01", venues: tuple[str, ...] = VENUES, rho: float = RHO) -> Dataset:
    """A combined synthetic Dataset of several assets on `venues` over `days` (for benchmarks and tests).

    The first asset is the primary. Assets must be in PROFILES (ETH, BTC, SOL); every price starts
    and ends at its profile level with correlation `rho` between assets' returns. Funding caps and
    intervals come from data/venues per asset; where a venue file has no entry for an asset
    (SOL: none of binance, bybit, okx), the Dataset's notes say so.
    """
    assets = tuple(assets)
    unknown = [a for a in assets if a not in PROFILES]
    if not assets or unknown:
        raise ValueError(f"generate: unknown asset(s) {', '.join(unknown) or '(none given)'}; known: "
                         f"{', '.join(PROFILES)}")
    if len(set(assets)) != len(assets):
        raise ValueError(f"generate: an asset is given twice in {', '.join(assets)}")
    if int(days) != days or days < 1:
        raise ValueError(f"generate: days must be a whole number >= 1, got {days!r}")
    minutes_per_bar(timeframe)
    specs = {a: market_spec(a, start, int(days), tuple(venues)) for a in assets}
    notes = (f"synthetic, seeded (seed={seed}): {', '.join(assets)} on {', '.join(venues)}, {days} days from {start}, "
             f"return correlation ~{rho}; levels {', '.join(f'{a} {PROFILES[a].price:g}' for a in assets)}",
             *[n for a in assets for n in spec_gaps(a, tuple(venues), start)])
    name = f"multi-asset-{'-'.join(a.lower() for a in assets)}-{days}d"
    ds = build(name, specs, seed, timeframe, notes, rho)
    return replace(ds, name=f"synthetic:{name}")        # not a registered scenario: no `scenario:` name
