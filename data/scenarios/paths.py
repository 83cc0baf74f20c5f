"""Seeded path generators shared by the embedded scenarios (prices, basis, funding, lending, flows).

Everything is simulated on one fine clock of STEPS_PER_MIN sub-steps per minute (15 s), so
1m bars get real intrabar wicks and every coarser timeframe is an exact aggregation of the
1m bars (a 1h load equals the 1m load resampled). Slow state (volatility regime, funding
premium, lending APY) is simulated hourly and interpolated onto the fine clock.

Price model, per scenario:
- efficient price E: a log random walk (diffusion x a volatility multiplier + Poisson jumps)
  pinned to the scenario's anchor prices by Brownian-bridge detrending, so the calibrated
  moves (a -25 % crash, a +40 % rally) hold for every seed while the noise between anchors
  is random;
- spot on each venue = E x (1 + trade noise);
- perp on each venue = spot x (1 + basis), basis = slow premium + fast noise + flash dips;
- mark on each venue = E x (1 + 5-minute moving average of the basis): no trade wicks,
  as Binance's mark (index + moving-average basis) behaves;
- funding from the interval-average premium P with each venue's own formula (its spec's `funding_formula`,
  data/funding_formula.py): Binance and Bybit F = P + clamp(0.01 % - P, +-0.05 %), OKX F = P; a settlement
  pays F x interval_h / 8, capped per venue and symbol. The built-in venue files are read (not a run's venue
  search path), so `scenario:NAME` is the same data whatever venues a run uses.
- a venue's premium template (`ScenarioVenue.premium_mean`) is written as calibrated, for the interest + clamp
  formula (each scenario states the funding it targets); a venue with another formula trades at the premium that
  prints the same funding under its own (`funding_formula.equivalent_premium`: OKX's premium is that funding),
  while the noise around it is the scenario's: OKX prints follow their premium, never pinned at 0.01 %.

All randomness comes from numpy.random.default_rng streams spawned from one seed, one
stream per component, so the same seed gives bit-identical arrays.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from basisbt.data.funding_formula import FundingFormula, equivalent_premium
from basisbt.data.scenarios import portable_math as pm
from basisbt.data.schemas import TS, TS_DTYPE

F64 = NDArray[np.float64]

STEPS_PER_MIN = 4
STEP_NS = 60 * 10**9 // STEPS_PER_MIN
MIN_NS = 60 * 10**9
HOUR_NS = 3600 * 10**9
STEPS_PER_HOUR = 60 * STEPS_PER_MIN
YEAR_S = 365.0 * 86400.0
STEP_S = STEP_NS / 1e9
VENUES = ("binance", "bybit", "okx")
PROTOCOLS = ("aave", "morpho")


# ----------------------------------------------------------------- small building blocks

def utc(t: str | pd.Timestamp) -> pd.Timestamp:
    """A UTC timestamp from a string (read as UTC) or a tz-aware Timestamp."""
    ts = pd.Timestamp(t)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def hours_between(start: pd.Timestamp, t: str | pd.Timestamp) -> float:
    """Hours from the scenario start to a UTC time, for placing template knots."""
    return (utc(t).value - start.value) / HOUR_NS


def knots(start: pd.Timestamp, points: list[tuple[str, float]], n_hours: int) -> F64:
    """A piecewise-linear hourly template (n_hours + 1 values) through (UTC time, value) knots."""
    xs = np.array([hours_between(start, t) for t, _ in points])
    ys = np.array([v for _, v in points], dtype=np.float64)
    return np.interp(np.arange(n_hours + 1, dtype=np.float64), xs, ys)


def ar1(rng: np.random.Generator, n: int, half_life: float) -> F64:
    """A stationary unit-variance AR(1) series of n points whose autocorrelation halves every half_life points."""
    phi = pm.half_life_factor(max(half_life, 1e-9))
    eps = rng.standard_normal(n)
    out = np.empty(n)
    x = eps[0]
    scale = np.sqrt(1.0 - phi * phi)
    for i in range(n):  # hourly resolution only: a few thousand iterations at most
        x = phi * x + scale * eps[i] if i else x
        out[i] = x
    return out


def standardize(x: F64) -> F64:
    """Moment-match a series to sample mean 0 and sd 1, so calibrated means hold for every seed."""
    sd = x.std()
    return (x - x.mean()) / (sd if sd > 0 else 1.0)


def skewed(z: F64, skew: float) -> F64:
    """A positively skewed transform of a standard series (exp(skew*z)), re-standardized; skew=0 is z."""
    if skew == 0.0:
        return z
    return standardize(pm.exp(skew * z))


def hourly_to_steps(x: F64, n_steps: int) -> F64:
    """Linear interpolation of an hourly series (n_hours + 1 knots) onto the fine clock (n_steps + 1 points)."""
    t = np.arange(n_steps + 1, dtype=np.float64) / STEPS_PER_HOUR
    return np.interp(t, np.arange(x.size, dtype=np.float64), x)


def moving_average(x: F64, window: int) -> F64:
    """Trailing moving average over `window` points (shorter at the start), via cumulative sums."""
    c = np.cumsum(np.concatenate([[0.0], x]))
    i = np.arange(1, x.size + 1)
    lo = np.maximum(i - window, 0)
    return (c[i] - c[lo]) / (i - lo)


def flash(n_steps: int, step: int, depth: float, tau_steps: float) -> F64:
    """A flash dislocation: jumps to `depth` at `step` and decays with time constant tau_steps (fine clock)."""
    out = np.zeros(n_steps + 1)
    k = np.arange(n_steps + 1 - step, dtype=np.float64)
    out[step:] = depth * pm.exp(-k / tau_steps)
    return out


# ----------------------------------------------------------------- prices

def anchored_log_price(rng: np.random.Generator, n_steps: int, anchor_steps: F64, anchor_px: F64,
                       vol: float, vol_mult: F64, jumps_per_day: float = 0.0, jump_sd: float = 0.0) -> F64:
    """Log efficient price on the fine clock: GBM + jumps, bridged through the anchor prices.

    `vol` is the target annualized realized volatility including jumps; `vol_mult` (n_steps)
    scales it through time (mean square ~1 keeps the target). Anchors must include step 0
    and step n_steps; between anchors the path is the random walk minus its linear interpolation.
    """
    jump_var = jumps_per_day * 365.0 * jump_sd**2
    diff_vol = np.sqrt(max(vol**2 - jump_var, 0.05 * vol**2))
    inc = rng.standard_normal(n_steps) * (diff_vol * np.sqrt(STEP_S / YEAR_S)) * vol_mult
    if jumps_per_day > 0.0:
        hit = rng.random(n_steps) < jumps_per_day * STEP_S / 86400.0
        inc += np.where(hit, rng.standard_normal(n_steps) * jump_sd, 0.0)
    walk = np.concatenate([[0.0], np.cumsum(inc)])
    t = np.arange(n_steps + 1, dtype=np.float64)
    idx = np.asarray(anchor_steps, dtype=np.int64)
    trend = np.interp(t, idx.astype(np.float64), pm.log(np.asarray(anchor_px, dtype=np.float64)))
    return trend + walk - np.interp(t, idx.astype(np.float64), walk[idx])


def vol_multiplier(rng: np.random.Generator, template: F64, n_steps: int, vol_of_vol: float = 0.35,
                   half_life_h: float = 24.0) -> F64:
    """Per-step volatility multiplier: a template (hourly) x a lognormal regime, normalized to mean square 1."""
    regime = pm.exp(vol_of_vol * ar1(rng, template.size, half_life_h))
    regime /= np.sqrt(np.mean(regime**2))
    return hourly_to_steps(template * regime, n_steps)[1:]


def ohlc_from_path(px: F64) -> tuple[F64, F64, F64, F64]:
    """1m open, high, low, close from a fine-clock path (n_min * STEPS_PER_MIN + 1 points); wicks from sub-steps."""
    k = STEPS_PER_MIN
    body = px[:-1].reshape(-1, k)
    o = body[:, 0].copy()
    c = px[k::k].copy()
    h = np.maximum(body.max(axis=1), c)
    lo = np.minimum(body.min(axis=1), c)
    return o, h, lo, c


def volume_1m(rng: np.random.Generator, px: F64, base_per_min: float, vol_mult: F64) -> F64:
    """Per-minute traded volume in base units: lognormal noise, louder in fast markets and big moves."""
    k = STEPS_PER_MIN
    ret = np.abs(np.diff(pm.log(px[::k])))
    vm = vol_mult.reshape(-1, k).mean(axis=1)
    noise = pm.exp(0.6 * rng.standard_normal(ret.size) - 0.18)
    return base_per_min * noise * vm * (1.0 + 400.0 * ret)


# ----------------------------------------------------------------- funding

@dataclass(frozen=True)
class FundingRule:
    """How one venue settles funding: base interval, formula, cap per interval, and an optional switch after a
    capped print."""

    interval_h: int = 8
    cap: float = 0.0075
    switch_to_h: int | None = None     # e.g. 1: Binance moves a symbol to 1h after a capped print (since May 2025)
    revert_after_h: int = 72           # back to interval_h at the first base-grid time this long after the last cap
    cap_changes: tuple[tuple[int, float], ...] = ()   # (hours since epoch, cap from then): a venue's dated caps
    formula: FundingFormula = field(default_factory=FundingFormula)   # the venue's, data/funding_formula.py
    formula_changes: tuple[tuple[int, FundingFormula], ...] = ()    # (hours since epoch, formula from then)

    def cap_at(self, abs_h: int) -> float:
        """The cap in force at hour `abs_h` since the epoch."""
        cap = self.cap
        for h, c in self.cap_changes:
            cap = c if abs_h >= h else cap
        return cap

    def caps_at(self, abs_h: np.ndarray) -> np.ndarray:
        """cap_at over an array of hours since the epoch."""
        cap = np.full(np.shape(abs_h), self.cap)
        for h, c in self.cap_changes:
            cap[abs_h >= h] = c
        return cap

    def formula_at(self, abs_h: int) -> FundingFormula:
        """The funding formula in force at hour `abs_h` since the epoch."""
        formula = self.formula
        for h, f in self.formula_changes:
            formula = f if abs_h >= h else formula
        return formula


def venue_rule(venue: str, start: pd.Timestamp, days: int, base: str = "ETH", **switch: int) -> FundingRule:
    """The FundingRule of `venue`'s built-in spec file over [start, start + days]: its interval, its funding
    formula and its dated cap for `base`.

    Scenarios take caps, intervals and formulas from data/venues/*.toml, so a corrected spec corrects the scenarios.
    """
    from basisbt.data.venues import builtin_venue
    v = builtin_venue(venue)
    first = v.at(start)
    end = start + pd.Timedelta(days=days)
    later = [b for b in v.blocks if start < b.effective_from <= end]
    changes = tuple((int(b.effective_from.value // HOUR_NS), b.cap_for(base)) for b in later
                    if b.cap_for(base) != first.cap_for(base))
    formulas = tuple((int(b.effective_from.value // HOUR_NS), b.funding) for b in later if b.funding != first.funding)
    return FundingRule(interval_h=int(first.funding_interval_h), cap=first.cap_for(base), cap_changes=changes,
                       formula=first.funding, formula_changes=formulas, **switch)


def funding_frame(premium: F64, mark: F64, start: pd.Timestamp, rule: FundingRule) -> pd.DataFrame:
    """Settlements in (start, end) on the UTC grid (00/08/16 for 8h), each from the mean premium of its interval.

    premium and mark are on the fine clock. Columns: ts, rate (fraction per interval),
    interval_h, mark_price (the mark at the settlement instant).
    """
    n_steps = premium.size - 1
    cum = np.concatenate([[0.0], np.cumsum(premium[1:])])  # cum[j] = sum of premium over steps 1..j
    start_h = start.value // HOUR_NS
    total_h = n_steps // STEPS_PER_HOUR
    rows_t, rows_r, rows_i, rows_m = [], [], [], []
    h = 1
    cur = rule.interval_h
    last_cap_h = None
    last_settle_h = 0
    while h < total_h:
        abs_h = start_h + h
        if abs_h % cur == 0 and h - last_settle_h >= 1:
            span = min(cur, h - last_settle_h) if rows_t else cur
            j1 = h * STEPS_PER_HOUR
            j0 = max(j1 - span * STEPS_PER_HOUR, 0)
            p = (cum[j1] - cum[j0]) / max(j1 - j0, 1)
            cap = rule.cap_at(abs_h)
            r = rule.formula_at(abs_h).rate(p, cur, cap)
            rows_t.append((start_h + h) * HOUR_NS)
            rows_r.append(r)
            rows_i.append(float(cur))
            rows_m.append(mark[j1])
            last_settle_h = h
            if rule.switch_to_h is not None:
                if abs(r) >= cap * (1 - 1e-12):
                    last_cap_h = h
                    cur = rule.switch_to_h
                elif (cur != rule.interval_h and last_cap_h is not None and h - last_cap_h >= rule.revert_after_h
                      and abs_h % rule.interval_h == 0):
                    cur = rule.interval_h
        h += 1
    return pd.DataFrame({
        TS: pd.Series(np.array(rows_t, dtype=np.int64).view("datetime64[ns]")).dt.tz_localize("UTC").astype(TS_DTYPE),
        "rate": np.array(rows_r, dtype=np.float64),
        "interval_h": np.array(rows_i, dtype=np.float64),
        "mark_price": np.array(rows_m, dtype=np.float64),
    })


# ----------------------------------------------------------------- lending and flows

def lending_frame(rng: np.random.Generator, start: pd.Timestamp, mean_apy: F64, sd: float, half_life_h: float,
                  floor: float = 0.002) -> pd.DataFrame:
    """Hourly USDT supply APY: a mean template (hourly) + mean-reverting AR(1) noise, floored; borrow from utilization.

    utilization = clip(0.75 + 2 x (supply - 4 %), 0.4, 0.95); borrow = supply / (utilization x 0.9)
    (a 10 % reserve factor), so borrow > supply and both move together.
    """
    n = mean_apy.size - 1
    supply = np.maximum(mean_apy[:n] + sd * ar1(rng, n, half_life_h), floor)
    util = np.clip(0.75 + 2.0 * (supply - 0.04), 0.4, 0.95)
    borrow = supply / (util * 0.9)
    return pd.DataFrame({TS: hourly_ts(start, n), "supply_apy": supply, "borrow_apy": borrow, "utilization": util})


def flows_frame(rng: np.random.Generator, start: pd.Timestamp, mint_per_day: F64, redeem_per_day: F64,
                extra_redeem: F64 | None = None) -> pd.DataFrame:
    """Hourly mint/redeem of a USDe-like product in USD: daily-rate templates x lognormal noise (+ a stress profile)."""
    n = mint_per_day.size - 1
    m = mint_per_day[:n] / 24.0 * pm.exp(0.8 * rng.standard_normal(n) - 0.32)
    r = redeem_per_day[:n] / 24.0 * pm.exp(0.8 * rng.standard_normal(n) - 0.32)
    if extra_redeem is not None:
        r = r + extra_redeem[:n]
    return pd.DataFrame({TS: hourly_ts(start, n), "mint": np.round(m, 2), "redeem": np.round(r, 2)})


def hourly_ts(start: pd.Timestamp, n: int) -> pd.Series:
    """n hourly UTC timestamps from start, dtype datetime64[ns, UTC]."""
    ns = start.value + np.arange(n, dtype=np.int64) * HOUR_NS
    return pd.Series(ns.view("datetime64[ns]")).dt.tz_localize("UTC").astype(TS_DTYPE)


# ----------------------------------------------------------------- one market, all venues

@dataclass(frozen=True)
class ScenarioVenue:
    """One venue's basis and funding set-up; premium templates are hourly fractions (n_hours + 1)."""

    premium_mean: F64                    # calibrated for the interest + clamp formula (see the module docstring)
    premium_sd: F64
    funding: FundingRule = field(default_factory=FundingRule)
    flashes: tuple[tuple[int, float, float], ...] = ()   # (fine-clock step, depth, tau in steps)
    perp_volume_per_min: float = 1400.0                   # base units (Binance ETHUSDT 2024: ~83k ETH/h)
    spot_volume_per_min: float = 200.0                    # base units (Binance ETH/USDT 2024: ~11.8k ETH/h)


@dataclass(frozen=True)
class MarketSpec:
    """Everything a scenario calibrates; `simulate` turns it into 1m arrays and event frames."""

    start: pd.Timestamp
    days: int
    anchors: tuple[tuple[int, float], ...]              # (fine-clock step, price), first 0 and last n_steps
    vol: float                                          # annualized realized vol target
    vol_template: F64                                   # hourly multiplier template (n_hours + 1)
    venues: dict[str, ScenarioVenue]
    lending_mean: dict[str, F64]                        # protocol -> hourly supply APY template
    lending_sd: float
    mint_per_day: F64
    redeem_per_day: F64
    extra_redeem: F64 | None = None                     # USD per hour on top of the noisy baseline
    jumps_per_day: float = 0.0
    jump_sd: float = 0.0
    premium_skew: float = 0.0
    premium_half_life_h: float = 8.0
    premium_venue_corr: float = 0.7                     # Binance vs Bybit ETH funding, 2023: 0.72
    fast_basis_sd: float = 0.0003
    spot_noise_sd: float = 0.0002
    vol_of_vol: float = 0.35

    @property
    def n_hours(self) -> int:
        return self.days * 24

    @property
    def n_steps(self) -> int:
        return self.n_hours * STEPS_PER_HOUR


@dataclass(frozen=True)
class ScenarioPaths:
    """Simulated 1m bars per venue (dicts of arrays) plus funding, lending and flow frames."""

    start: pd.Timestamp
    spot: dict[str, dict[str, F64]]
    perp: dict[str, dict[str, F64]]
    mark: dict[str, dict[str, F64]]
    funding: dict[str, pd.DataFrame]
    lending: dict[str, pd.DataFrame]
    flows: pd.DataFrame
    premium: dict[str, F64] = field(default_factory=dict)   # per venue on the fine clock: perp / efficient - 1


def step_at(start: pd.Timestamp, t: str) -> int:
    """Fine-clock step index of a UTC time string."""
    return int((utc(t).value - start.value) // STEP_NS)


def simulate(spec: MarketSpec, seed: int, price: tuple[F64, F64] | None = None) -> ScenarioPaths:
    """Run every generator of a MarketSpec with one seed; same spec and seed give identical arrays.

    `price` = (volatility multiplier (n_steps), efficient price (n_steps + 1)) drawn elsewhere, for
    assets whose prices move together (multi_asset.py); None draws both here from the spec's anchors.
    Either way the other components use their own streams, so their draws do not depend on it.
    """
    names = ["vol", "price", "premium_common", "lending", "flows"] + [f"venue:{v}" for v in spec.venues]
    streams = dict(zip(names, (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(names))), strict=True))
    n = spec.n_steps
    if price is None:
        vm = vol_multiplier(streams["vol"], spec.vol_template, n, spec.vol_of_vol)
        a_steps = np.array([a for a, _ in spec.anchors], dtype=np.int64)
        a_px = np.array([p for _, p in spec.anchors], dtype=np.float64)
        log_e = anchored_log_price(streams["price"], n, a_steps, a_px, spec.vol, vm, spec.jumps_per_day, spec.jump_sd)
        eff = pm.exp(log_e)
    else:
        vm, eff = price
        if vm.shape != (n,) or eff.shape != (n + 1,):
            raise ValueError(f"simulate: price arrays of shape {vm.shape}, {eff.shape}; need ({n},), ({n + 1},)")
    vm_full = np.concatenate([vm[:1], vm])
    common = skewed(standardize(ar1(streams["premium_common"], spec.n_hours + 1, spec.premium_half_life_h)),
                    spec.premium_skew)
    rho = spec.premium_venue_corr
    spot, perp, mark, funding, premiums = {}, {}, {}, {}, {}
    for v, vs in spec.venues.items():
        rng = streams[f"venue:{v}"]
        own = skewed(standardize(ar1(rng, spec.n_hours + 1, spec.premium_half_life_h)), spec.premium_skew)
        mean = equivalent_premium(vs.premium_mean, vs.funding.formula)
        slow = mean + vs.premium_sd * (np.sqrt(rho) * common + np.sqrt(1 - rho) * own)
        fast = moving_average(rng.standard_normal(n + 1), 8) * (spec.fast_basis_sd * np.sqrt(8.0))
        basis = hourly_to_steps(slow, n) + fast * np.sqrt(vm_full)
        for step, depth, tau in vs.flashes:
            basis += flash(n, step, depth, tau)
        s_px = eff * (1.0 + spec.spot_noise_sd * rng.standard_normal(n + 1))
        p_px = s_px * (1.0 + basis)
        m_px = eff * (1.0 + moving_average(basis, 5 * STEPS_PER_MIN))
        premium = p_px / eff - 1.0
        so, sh, sl, sc = ohlc_from_path(s_px)
        po, ph, pl, pc = ohlc_from_path(p_px)
        mo, mh, ml, mc = ohlc_from_path(m_px)
        spot[v] = {"open": so, "high": sh, "low": sl, "close": sc,
                   "volume": volume_1m(rng, s_px, vs.spot_volume_per_min, vm)}
        perp[v] = {"open": po, "high": ph, "low": pl, "close": pc,
                   "volume": volume_1m(rng, p_px, vs.perp_volume_per_min, vm)}
        mark[v] = {"open": mo, "high": mh, "low": ml, "close": mc}
        funding[v] = funding_frame(premium, m_px, spec.start, vs.funding)
        premiums[v] = premium
    lend_rng = streams["lending"]
    lending = {p: lending_frame(lend_rng, spec.start, mean, spec.lending_sd, 24.0)
               for p, mean in spec.lending_mean.items()}
    flows = flows_frame(streams["flows"], spec.start, spec.mint_per_day, spec.redeem_per_day, spec.extra_redeem)
    return ScenarioPaths(spec.start, spot, perp, mark, funding, lending, flows, premiums)
