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

from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from basisbt.data.dataset import Dataset
from basisbt.data.funding_formula import FundingFormula, equivalent_premium
from basisbt.data.scenarios.paths import FundingRule, venue_rule
from basisbt.data.schemas import TS, TS_DTYPE
from basisbt.data.stress.bootstrap import FundingHistory

HOUR_NS = 3_600 * 10**9
SUB = 4                          # price sub-steps per hour (bar high/low)
VENUES = ("binance", "bybit", "okx")
PROTOCOLS = ("aave", "morpho")


def _param(default: Any, doc: str, **bounds: float) -> Any:
    """A model parameter: default, one-line doc and its range, declared as strategy parameters are
    (strategies/base.param's metadata: `doc`, `bounds`), so the CLI checks `-m key=value` the same way."""
    return field(default=default, metadata={"doc": doc, "choices": None, "bounds": bounds})


@dataclass(frozen=True)
class StressModel:
    """Parameters of the path model (see the module docstring); every field can be set from the CLI
    (`basisbt stress -m key=value`), each within its declared range (NaN and inf never)."""

    days: int = _param(365, "horizon of each path, days of hourly bars", ge=2, le=3650)
    start: str = field(default="2025-01-01", metadata={"doc": "first day of every path, a UTC date (the venues' caps in force then apply)", "choices": None,
                                                        "bounds": {}})
    price0: float = _param(3000.0, "spot price at the start (quote)", gt=0.0, le=1e7)
    vol_annual: float = _param(0.65, "annualized volatility of the spot price (four sub-steps an hour make the bar high/low)", gt=0.0, le=3.0)
    jumps_per_year: float = _param(8.0, "price jumps a year (Poisson)", ge=0.0, le=365.0)
    jump_sd: float = _param(0.05, "size of a jump: sd of its log-return", ge=0.0, le=0.5)
    jump_skew: float = _param(0.7, "share of jumps that go down", ge=0.0, le=1.0)
    premium_mean_8h: float = _param(0.0001, "carry regime: mean perp premium per 8h (~11 % APR after the interest "
                                            "term)", ge=-0.01, le=0.01)
    premium_sd_8h: float = _param(0.00025, "sd of the premium's AR(1) noise per 8h", ge=0.0, le=0.01)
    premium_half_life_h: float = _param(24.0, "half-life of premium shocks, hours", gt=0.0, le=8760.0)
    spells_per_year: float = _param(3.0, "negative-funding spells a year", ge=0.0, le=52.0)
    spell_days: float = _param(14.0, "mean length of a spell, days", gt=0.0, le=365.0)
    spell_premium_8h: float = _param(-0.0007, "mean premium in a spell per 8h (funding = P + 0.05 % ~ -0.02 %/8h)",
                                     ge=-0.01, le=0.01)
    venue_corr: float = _param(0.8, "correlation of the venues' premiums", ge=0.0, le=1.0)
    basis_shocks_per_year: float = _param(2.0, "perp-discount shocks a year", ge=0.0, le=52.0)
    basis_shock: float = _param(-0.04, "size of a basis shock: the perp / spot - 1 it opens (Feb 2025: -5.8 % on Binance)", ge=-0.5, le=0.5)
    basis_half_life_h: float = _param(6.0, "half-life of a basis shock, hours", gt=0.0, le=8760.0)
    lending_apy: float = _param(0.045, "mean supply APY of the lending protocols (fraction a year)", ge=0.0, le=1.0)
    lending_beta: float = _param(0.3, "lending APY = lending_apy + beta x (funding APR - carry APR): it falls when funding does", ge=-5.0, le=5.0)
    supply_usd: float = _param(1.0e9, "synthetic-dollar supply at the start (quote)", gt=0.0, le=1e13)
    mint_per_day: float = _param(10.0e6, "mean mints a day (quote)", ge=0.0, le=1e12)
    redeem_per_day: float = _param(8.0e6, "mean redemptions a day (quote)", ge=0.0, le=1e12)
    redeem_wave: float = _param(4.0, "redemptions run this many times faster during a spell", ge=0.0, le=100.0)
    block_days: float = _param(14.0, "bootstrap only: length of the resampled blocks of real funding, days",
                               gt=0.0, le=365.0)

    def __post_init__(self) -> None:
        from basisbt.data.checks import check_range, coerce
        from basisbt.data.errors import ConfigError
        for f in fields(self):
            value = getattr(self, f.name)
            try:
                coerce(value, f.type, f.name)                      # a str for a number is refused too
                check_range(f.name, value, **f.metadata.get("bounds", {}))
            except ConfigError as e:
                raise ConfigError(f"stress model: {e}") from None
        try:
            pd.Timestamp(self.start, tz="UTC")
        except (ValueError, TypeError):
            raise ConfigError(f"stress model start = {self.start!r} is not a date (use e.g. 2025-01-01)") from None

    @classmethod
    def with_overrides(cls, overrides: dict[str, str], option: str = "--model") -> StressModel:
        """A model with `name=value` overrides (CLI strings) of the declared types and ranges; a ConfigError
        names `option name=value`, the range, or for an unknown name the close match and the valid ones."""
        from basisbt.data.checks import check_range, coerce, did_you_mean
        from basisbt.data.errors import ConfigError
        known = {f.name: f for f in fields(cls)}
        kw: dict = {}
        for k, v in overrides.items():
            if k not in known:
                raise ConfigError(f"{option} {k}=...: the stress model has no parameter {k!r}"
                                  f"{did_you_mean(k, list(known))}; valid: {', '.join(known)}")
            f = known[k]
            value = coerce(v, f.type, f"{option} {k}={v}")
            try:
                check_range(k, value, **f.metadata.get("bounds", {}))
            except ConfigError as e:
                raise ConfigError(f"{option} {k}={v}: {e}") from None
            if k == "start":
                try:
                    pd.Timestamp(value, tz="UTC")
                except (ValueError, TypeError):
                    raise ConfigError(f"{option} start={v!r}: not a date (use e.g. 2025-01-01)") from None
            kw[k] = value
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


def _ohlc(px_sub: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Hourly OHLC from sub-step prices (n * SUB + 1 values: bar i spans sub-steps i*SUB .. (i+1)*SUB): the
    SUB + 1 prices of every bar as strided columns, folded with elementwise max/min (exact, and ~10x faster
    than a reduction along the short axis of a gathered (n, SUB + 1) window)."""
    cols = [px_sub[k:k + SUB * n:SUB] for k in range(SUB + 1)]
    high, low = cols[0].copy(), cols[0].copy()
    for c in cols[1:]:
        np.maximum(high, c, out=high)
        np.minimum(low, c, out=low)
    return {"open": cols[0], "high": high, "low": low, "close": cols[-1]}


def _bars(ts: pd.Series, ohlc: dict[str, np.ndarray], volume: float | None) -> pd.DataFrame:
    """A bar frame (ts, OHLC and, unless None, a constant volume) built in one step."""
    cols: dict[str, object] = {TS: ts, **ohlc}
    if volume is not None:
        cols["volume"] = np.full(ts.size, volume)
    return pd.DataFrame(cols)


def _ts(start: pd.Timestamp, n: int) -> pd.Series:
    ns = start.value + np.arange(n, dtype=np.int64) * HOUR_NS
    return pd.Series(ns.view("datetime64[ns]")).dt.tz_localize("UTC").astype(TS_DTYPE)


def funding_prints(premium: np.ndarray, start: pd.Timestamp, m: StressModel, venue: str) -> pd.DataFrame:
    """8h settlements from an hourly premium: the venue's formula on each interval's mean, its dated cap."""
    rule = _venue_rule(venue, start, m.days)
    step = rule.interval_h
    n = premium.size
    first = (-(start.value // HOUR_NS)) % step or step              # first settlement on the UTC grid
    hours = np.arange(first, n, step)
    cum = np.concatenate([[0.0], np.cumsum(premium)])
    p = (cum[hours] - cum[np.maximum(hours - step, 0)]) / np.minimum(hours, step)
    abs_h = start.value // HOUR_NS + hours
    cap = rule.caps_at(abs_h)
    rate = _rates(rule, p, abs_h, step, cap)
    ts = pd.Series((start.value + hours * HOUR_NS).view("datetime64[ns]")).dt.tz_localize("UTC").astype(TS_DTYPE)
    return pd.DataFrame({TS: ts, "rate": rate, "interval_h": np.full(hours.size, float(step))})


def _rates(rule: FundingRule, premium: np.ndarray, abs_h: np.ndarray, step: int, cap: np.ndarray) -> np.ndarray:
    """Each settlement's rate with the formula in force at its hour (one formula over a path: one array op)."""
    if not rule.formula_changes:
        return rule.formula.rates(premium, step, cap)
    return np.array([rule.formula_at(int(h)).rate(float(x), step, float(c)) for x, h, c in zip(premium, abs_h, cap, strict=True)])


@lru_cache(maxsize=64)
def _venue_rule(venue: str, start: pd.Timestamp, days: int) -> FundingRule:
    """venue_rule, read from the venue files once per worker (the same for every path of a stress set)."""
    return venue_rule(venue, start, days)


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
    ts = _ts(start, n).rename(TS)
    spot, perp, mark = {}, {}, {}
    spot_ohlc = _ohlc(spot_sub, n)                 # one spot path for every venue
    for v, p in prem.items():
        basis_h = p + shock                        # hourly perp premium over spot
        if basis_h.min() <= -0.99:                 # overlapping shocks: a perp price at or below zero is no market
            raise ValueError(f"stress path {path} of seed {seed}: basis shocks overlap to perp / spot - 1 = "
                             f"{basis_h.min():.3f} on {v}; lower --model basis_shock, basis_shocks_per_year or "
                             f"basis_half_life_h")
        basis_sub = np.repeat(np.concatenate([basis_h, basis_h[-1:]]), SUB)[: n * SUB + 1]
        perp_ohlc = _ohlc(spot_sub * (1.0 + basis_sub), n)
        spot[v] = _bars(ts, spot_ohlc, 500.0)
        perp[v] = _bars(ts, perp_ohlc, 2000.0)
        mark[v] = _bars(ts, perp_ohlc, None)
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
    return _venue_rule(venue, start, days).formula


def _apr(premium_8h: np.ndarray, formula: FundingFormula) -> np.ndarray:
    """Funding APR that a venue's formula prints for an 8h premium."""
    return formula.per_base(premium_8h) * 3 * 365
