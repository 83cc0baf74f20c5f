"""Monte Carlo market paths for stress runs: regime-switching funding, jumps, basis shocks, redemption waves.

One path is a Dataset of hourly bars on three venues (binance, bybit, okx), two lending protocols and a
mint/redeem flow, drawn from `StressModel` with a seed. The model, per hour:
- regime: a two-state chain, "carry" and "negative spell". A spell starts with probability
  spells_per_year / 8760 per hour and lasts an exponential time with mean `spell_days`.
- funding premium per venue: a regime mean (`premium_mean_8h` in carry, `spell_premium_8h` in a spell)
  plus a common AR(1) factor and a venue AR(1) factor mixed so that venues correlate by `venue_corr`.
  Each 8h settlement prints the venue's own formula (its spec's `funding_formula`: Binance and Bybit
  P + clamp(0.01 % - P, +-0.05 %), OKX P) of the interval's mean premium, capped at the venue's dated ETH cap
  (data/venues via scenarios.paths.venue_rule). The regime means are written for the interest + clamp formula;
  OKX's mean is the premium that prints the same funding under its own (funding_formula.equivalent_premium).
- price: a random walk with `vol_annual` on four sub-steps per hour (bar high/low from them) plus jumps
  (`jumps_per_year`, size `jump_sd`, a `jump_skew` share of them down).
- basis: perp = mark = spot x (1 + premium + shock); shocks (`basis_shocks_per_year`) open a perp
  discount of `basis_shock` that decays with `basis_half_life_h` (the Feb 2025 5.8 % Binance discount).
- lending: supply APY = `lending_apy` + `lending_beta` x (funding APR - carry APR), floored at 0.5 %:
  lending yields fall when funding does (the seed's rotation target gets worse exactly when needed).
- flows: mint/redeem of a USDe-like supply; redemptions run `redeem_wave` times faster during a spell.
Defaults are calibrated to docs/architecture.md §10 (Binance ETHUSDT 2021-2026: mean funding 0.0001-
0.0343 %/8h, 4-46 % negative prints, ETH vol 46-110 %).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd

from basisbt.data.dataset import Dataset
from basisbt.data.funding_formula import FundingFormula, equivalent_premium
from basisbt.data.stress.bootstrap import FundingHistory
from basisbt.data.scenarios.paths import FundingRule, venue_rule
from basisbt.data.schemas import TS, TS_DTYPE

HOUR_NS = 3_600 * 10**9
SUB = 4                          # price sub-steps per hour (bar high/low)
VENUES = ("binance", "bybit", "okx")
PROTOCOLS = ("aave", "morpho")


@dataclass(frozen=True)
class StressModel:
    """Parameters of the path model (see the module docstring); every field can be set from the CLI."""

    days: int = 365
    start: str = "2025-01-01"
    price0: float = 3000.0
    vol_annual: float = 0.65
    jumps_per_year: float = 8.0
    jump_sd: float = 0.05
    jump_skew: float = 0.7               # share of jumps that go down
    premium_mean_8h: float = 0.0001      # carry regime: ~11 % APR after the interest term
    premium_sd_8h: float = 0.00025
    premium_half_life_h: float = 24.0
    spells_per_year: float = 3.0
    spell_days: float = 14.0
    spell_premium_8h: float = -0.0007    # mean premium in a spell: funding = P + 0.05 % ~ -0.02 %/8h
    venue_corr: float = 0.8
    basis_shocks_per_year: float = 2.0
    basis_shock: float = -0.04
    basis_half_life_h: float = 6.0
    lending_apy: float = 0.045
    lending_beta: float = 0.3
    supply_usd: float = 1.0e9
    mint_per_day: float = 10.0e6
    redeem_per_day: float = 8.0e6
    redeem_wave: float = 4.0
    block_days: float = 14.0             # bootstrap only: length of the resampled blocks of real funding

    def __post_init__(self) -> None:
        checks = {"days": self.days >= 2, "vol_annual": self.vol_annual > 0, "price0": self.price0 > 0,
                  "spell_days": self.spell_days > 0, "jump_skew": 0 <= self.jump_skew <= 1,
                  "venue_corr": 0 <= self.venue_corr <= 1, "spells_per_year": self.spells_per_year >= 0,
                  "jumps_per_year": self.jumps_per_year >= 0, "premium_sd_8h": self.premium_sd_8h >= 0,
                  "basis_half_life_h": self.basis_half_life_h > 0, "redeem_wave": self.redeem_wave >= 0,
                  "premium_half_life_h": self.premium_half_life_h > 0, "block_days": self.block_days > 0}
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"stress model: {bad[0]}={getattr(self, bad[0])!r} is out of range")

    @classmethod
    def with_overrides(cls, overrides: dict[str, str]) -> "StressModel":
        """A model with `name=value` overrides (CLI strings), types from the field defaults; unknown names refused."""
        known = {f.name: type(f.default) for f in fields(cls)}
        kw: dict = {}
        for k, v in overrides.items():
            if k not in known:
                raise ValueError(f"stress model has no parameter {k!r}; known: {', '.join(known)}")
            try:
                kw[k] = known[k](v)
            except ValueError:
                raise ValueError(f"stress model: {k}={v!r} is not a {known[k].__name__}") from None
        return cls(**kw)

    def as_dict(self) -> dict:
        return asdict(self)


def _ar1(rng: np.random.Generator, n: int, half_life_h: float) -> np.ndarray:
    """Unit-variance AR(1) noise with the given half-life in hours."""
    phi = 0.5 ** (1.0 / half_life_h)
    e = rng.standard_normal(n) * np.sqrt(1.0 - phi * phi)
    e[0] = rng.standard_normal()
    return _recurse(phi, e)


def _recurse(phi: float, e: np.ndarray) -> np.ndarray:
    """x[0] = e[0], x[i] = phi * x[i-1] + e[i], vectorized in blocks (a Python loop cost 6 ms a series; numba
    stays in engine/kernels): inside a block x[a+j] = phi^j (phi x[a-1] + sum_k<=j e[a+k] phi^-k), the block
    short enough that phi^-j stays far from overflow."""
    n = e.size
    x = np.empty(n)
    block = int(min(128.0, max(1.0, 250.0 / max(-np.log10(phi), 1e-12)))) if phi > 0.0 else 1
    pw = phi ** np.arange(block, dtype=np.float64)
    prev = 0.0
    for a in range(0, n, block):
        seg = e[a:a + block]
        m = seg.size
        x[a:a + m] = pw[:m] * (phi * prev + np.cumsum(seg / pw[:m]))
        prev = x[a + m - 1]
    return x


def regimes(rng: np.random.Generator, n: int, m: StressModel) -> np.ndarray:
    """Hourly regime flags (True in a negative-funding spell): starts Poisson, lengths exponential."""
    spell = np.zeros(n, bool)
    rate_h = m.spells_per_year / 8760.0
    h = 0
    while rate_h > 0:
        h += int(rng.exponential(1.0 / rate_h)) + 1
        if h >= n:
            break
        length = max(1, int(rng.exponential(m.spell_days * 24.0)))
        spell[h:h + length] = True
        h += length
    return spell


def _price(rng: np.random.Generator, n: int, m: StressModel) -> np.ndarray:
    """Log-price sub-steps (n * SUB + 1) from price0: diffusion plus skewed jumps."""
    k = n * SUB
    dt = 1.0 / (8760.0 * SUB)
    steps = m.vol_annual * np.sqrt(dt) * rng.standard_normal(k) - 0.5 * m.vol_annual ** 2 * dt
    n_jumps = rng.poisson(m.jumps_per_year * n / 8760.0)
    at = rng.integers(0, k, n_jumps)
    sign = np.where(rng.random(n_jumps) < m.jump_skew, -1.0, 1.0)
    np.add.at(steps, at, sign * np.abs(rng.normal(0.0, m.jump_sd, n_jumps)))
    return np.log(m.price0) + np.concatenate([[0.0], np.cumsum(steps)])


def _bars(px_sub: np.ndarray, n: int, volume: float) -> pd.DataFrame:
    """Hourly OHLCV from sub-step prices (n * SUB + 1 values: bar i spans sub-steps i*SUB .. (i+1)*SUB)."""
    idx = np.arange(n)[:, None] * SUB + np.arange(SUB + 1)[None, :]
    win = px_sub[idx]
    return pd.DataFrame({"open": win[:, 0], "high": win.max(axis=1), "low": win.min(axis=1),
                         "close": win[:, -1], "volume": np.full(n, volume)})


def _ts(start: pd.Timestamp, n: int) -> pd.Series:
    ns = start.value + np.arange(n, dtype=np.int64) * HOUR_NS
    return pd.Series(ns.view("datetime64[ns]")).dt.tz_localize("UTC").astype(TS_DTYPE)


def funding_prints(premium: np.ndarray, start: pd.Timestamp, m: StressModel, venue: str) -> pd.DataFrame:
    """8h settlements from an hourly premium: the venue's formula on each interval's mean, its dated cap."""
    rule = venue_rule(venue, start, m.days)
    step = rule.interval_h
    n = premium.size
    first = (-(start.value // HOUR_NS)) % step or step              # first settlement on the UTC grid
    hours = np.arange(first, n, step)
    cum = np.concatenate([[0.0], np.cumsum(premium)])
    p = (cum[hours] - cum[np.maximum(hours - step, 0)]) / np.minimum(hours, step)
    abs_h = start.value // HOUR_NS + hours
    cap = np.array([rule.cap_at(int(h)) for h in abs_h])
    rate = _rates(rule, p, abs_h, step, cap)
    ts = pd.Series((start.value + hours * HOUR_NS).view("datetime64[ns]")).dt.tz_localize("UTC").astype(TS_DTYPE)
    return pd.DataFrame({TS: ts, "rate": rate, "interval_h": np.full(hours.size, float(step))})


def _rates(rule: FundingRule, premium: np.ndarray, abs_h: np.ndarray, step: int, cap: np.ndarray) -> np.ndarray:
    """Each settlement's rate with the formula in force at its hour (one formula over a path: one array op)."""
    if not rule.formula_changes:
        return rule.formula.rates(premium, step, cap)
    return np.array([rule.formula_at(int(h)).rate(float(x), step, float(c)) for x, h, c in zip(premium, abs_h, cap)])


def _model_funding(rng: np.random.Generator, m: StressModel, spell: np.ndarray, start: pd.Timestamp
                   ) -> tuple[dict[str, np.ndarray], dict[str, pd.DataFrame]]:
    """Hourly premium and 8h prints per venue from the regime model (correlated AR(1) around the regime mean)."""
    n = spell.size
    mean = np.where(spell, m.spell_premium_8h, m.premium_mean_8h)
    common = _ar1(rng, n, m.premium_half_life_h)
    rho = np.sqrt(m.venue_corr)
    prem, prints = {}, {}
    for v in VENUES:
        own = _ar1(rng, n, m.premium_half_life_h)
        # the regime means are calibrated for the interest + clamp formula; a premium-only venue (OKX) trades at
        # the premium that prints the same funding (data/funding_formula.equivalent_premium)
        mean_v = equivalent_premium(mean, _formula(v, start, m.days))
        prem[v] = mean_v + m.premium_sd_8h * (rho * common + np.sqrt(1.0 - rho * rho) * own)
        prints[v] = funding_prints(prem[v], start, m, v)
    return prem, prints


def _history_funding(rng: np.random.Generator, m: StressModel, history: FundingHistory, start: pd.Timestamp
                     ) -> tuple[dict[str, np.ndarray], dict[str, pd.DataFrame], np.ndarray]:
    """Hourly premium, 8h prints per venue and the spell flag from a block bootstrap of real funding.

    The sampled 8h rate stands for the premium over the 8 hours it settles (the basis follows funding);
    a spell is an hour whose venues' mean rate is negative (redemption waves come with it)."""
    n = m.days * 24
    first = (-(start.value // HOUR_NS)) % 8 or 8
    hours = np.arange(first, n, 8)
    rates = history.sample(rng, hours.size, m.block_days)
    slot = np.minimum(np.searchsorted(hours, np.arange(n), side="left"), hours.size - 1)  # settlement ending hour h
    ts = pd.Series((start.value + hours * HOUR_NS).view("datetime64[ns]")).dt.tz_localize("UTC").astype(TS_DTYPE)
    prem = {v: rates[slot, j] for j, v in enumerate(history.venues)}
    prints = {v: pd.DataFrame({TS: ts, "rate": rates[:, j], "interval_h": np.full(hours.size, 8.0)})
              for j, v in enumerate(history.venues)}
    return prem, prints, rates.mean(axis=1)[slot] < 0.0


def generate_path(m: StressModel, seed: int, path: int, history: FundingHistory | None = None) -> Dataset:
    """Path number `path` of the stress set with `seed`: the same (seed, path[, history]) gives the same Dataset.

    Funding comes from the regime model, or with `history` from a block bootstrap of real prints (the
    venues are then the history's)."""
    rng = np.random.default_rng([seed, path])
    start = pd.Timestamp(m.start, tz="UTC")
    n = m.days * 24
    if history is None:
        spell = regimes(rng, n, m)
        prem, funding = _model_funding(rng, m, spell, start)
    else:
        prem, funding, spell = _history_funding(rng, m, history, start)
    spot_sub = np.exp(_price(rng, n, m))
    shock = np.zeros(n)                            # basis shocks: a perp discount that opens at once and decays
    for h in np.flatnonzero(rng.random(n) < m.basis_shocks_per_year / 8760.0):
        shock[h:] += m.basis_shock * 0.5 ** (np.arange(n - h) / m.basis_half_life_h)
    ts = _ts(start, n)
    spot, perp, mark = {}, {}, {}
    for v, p in prem.items():
        basis_h = p + shock                        # hourly perp premium over spot
        basis_sub = np.repeat(np.concatenate([basis_h, basis_h[-1:]]), SUB)[: n * SUB + 1]
        spot[v] = pd.concat([ts.rename(TS), _bars(spot_sub, n, 500.0)], axis=1)
        perp[v] = pd.concat([ts.rename(TS), _bars(spot_sub * (1.0 + basis_sub), n, 2000.0)], axis=1)
        mark[v] = perp[v].drop(columns="volume")
    formula = {v: _formula(v, start, m.days) for v in prem}
    funding_apr = np.mean([_apr(p, formula[v]) for v, p in prem.items()], axis=0)
    carry_apr = np.mean([_apr(np.array([m.premium_mean_8h]), formula[v])[0] for v in prem])
    lending = {}
    for j, name in enumerate(PROTOCOLS):
        apy = m.lending_apy + 0.005 * j + m.lending_beta * (funding_apr - carry_apr)
        apy = np.maximum(apy + 0.003 * _ar1(rng, n, 48.0), 0.005)
        lending[name] = pd.DataFrame({TS: ts, "supply_apy": apy})
    mint = m.mint_per_day / 24.0 * rng.lognormal(-0.32, 0.8, n)
    redeem = m.redeem_per_day / 24.0 * rng.lognormal(-0.32, 0.8, n) * np.where(spell, m.redeem_wave, 1.0)
    flows = pd.DataFrame({TS: ts, "mint": np.round(mint, 2), "redeem": np.round(redeem, 2)})
    source = "block bootstrap of real funding" if history is not None else "regime model"
    return Dataset(name=f"stress:{seed}:{path}", symbol="ETH/USDT", timeframe="1h", spot=spot, perp=perp,
                   mark=mark, funding=funding, lending=lending, flows=flows,
                   notes=(f"stress path {path} of seed {seed}", f"synthetic ({source}): data/stress/model.py"))


def _formula(venue: str, start: pd.Timestamp, days: int) -> FundingFormula:
    """The venue's funding formula at `start` (Binance's for a venue without a built-in file, e.g. a bootstrap
    history's own venues)."""
    from basisbt.data.venues import BUILTIN_DIR
    if not (BUILTIN_DIR / f"{venue}.toml").is_file():
        return FundingFormula()
    return venue_rule(venue, start, days).formula


def _apr(premium_8h: np.ndarray, formula: FundingFormula) -> np.ndarray:
    """Funding APR that a venue's formula prints for an 8h premium."""
    return formula.per_base(premium_8h) * 3 * 365
