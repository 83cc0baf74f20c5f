"""The stress path model (data/stress/model.py): valid datasets, seeded, calibrated, and its knobs move the
right statistics the right way (compared over several paths, not asserted on one draw)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from basisbt.data.stress.model import StressModel, generate_path, regimes
from basisbt.data.validate import validate_stream
from basisbt.data.venues import funding_caps

SHORT = StressModel(days=30)


def _rates(ds, venues=None) -> np.ndarray:
    return np.concatenate([f["rate"].to_numpy() for v, f in ds.funding.items() if venues is None or v in venues])


def test_a_path_is_a_valid_dataset_within_the_venue_caps():
    ds = generate_path(SHORT, 1, 0)
    assert ds.venues == ["binance", "bybit", "okx"] and ds.protocols == ["aave", "morpho"]
    for stream in ("spot", "perp", "mark", "funding", "lending"):
        for key, frame in getattr(ds, stream).items():
            validate_stream(stream, frame, timeframe=None if stream in ("funding", "lending") else "1h", file=key)
    validate_stream("flows", ds.flows, timeframe=None, file="flows")
    for v, f in ds.funding.items():
        caps, _ = funding_caps(v, f["ts"].dt.as_unit("ns").astype("int64").to_numpy(), "ETH")
        assert np.all(np.abs(f["rate"].to_numpy()) <= caps)
        assert (f["ts"].dt.hour % 8 == 0).all() and (f["interval_h"] == 8).all()    # 00/08/16 UTC
    b = ds.perp["binance"]
    assert (b["low"] <= b[["open", "close"]].min(axis=1)).all() and (b["high"] >= b[["open", "close"]].max(axis=1)).all()
    assert len(b) == 30 * 24


def test_seeded_and_distinct():
    a, b, c = generate_path(SHORT, 1, 0), generate_path(SHORT, 1, 0), generate_path(SHORT, 1, 1)
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    assert generate_path(SHORT, 2, 0).fingerprint() != a.fingerprint()


def test_calibrated_to_the_binance_years():
    # docs/architecture.md §10: mean funding 0.8-37.5 % APR by year (2022-2025 excluding 2021: 0.8-13 %),
    # 4-46 % negative prints, ETH realized vol 46-110 %. Medians over paths must sit inside those ranges.
    m = StressModel(days=365)
    apr, neg, vol = [], [], []
    for p in range(6):
        ds = generate_path(m, 11, p)
        r = _rates(ds)
        apr.append(r.mean() * 3 * 365)
        neg.append((r < 0).mean())
        c = ds.spot["binance"]["close"].to_numpy()
        vol.append(np.diff(np.log(c)).std() * np.sqrt(8760))
    assert 0.008 <= np.median(apr) <= 0.15
    assert 0.02 <= np.median(neg) <= 0.46
    assert 0.46 <= np.median(vol) <= 1.1


def test_longer_spells_mean_more_negative_funding():
    # 4 spells a year of 3 vs 30 days: ~3 % vs ~25 % of the time in a spell, where prints are mostly negative
    short = StressModel(days=730, spells_per_year=4.0, spell_days=3.0)
    long_ = StressModel(days=730, spells_per_year=4.0, spell_days=30.0)
    # on the interest + clamp venues, whose 0.01 % pin keeps carry prints positive (OKX prints its premium:
    # negative prints there come from the premium's noise too)
    neg = {k: np.mean([(_rates(generate_path(m, 5, p), ("binance", "bybit")) < 0).mean() for p in range(4)])
           for k, m in (("short", short), ("long", long_))}
    assert neg["long"] > 3.0 * neg["short"] and neg["long"] > neg["short"] + 0.08


def test_regimes_have_the_stated_length():
    rng = np.random.default_rng(3)
    m = StressModel(days=3650, spells_per_year=6.0, spell_days=10.0)
    s = regimes(rng, 3650 * 24, m)
    starts = np.flatnonzero(np.diff(s.astype(int)) == 1)
    ends = np.flatnonzero(np.diff(s.astype(int)) == -1)
    n = min(starts.size, ends.size)
    lengths_days = (ends[:n] - starts[:n]) / 24.0 if ends[0] > starts[0] else (ends[1:n] - starts[:n - 1]) / 24.0
    assert 40 <= starts.size <= 80                      # ~6 a year over 10 years
    assert 7.0 <= lengths_days.mean() <= 13.0           # exponential mean 10 days


def test_venue_correlation_and_lending_follow_their_knobs():
    def corr(m: StressModel) -> float:
        out = []
        for p in range(4):
            ds = generate_path(m, 9, p)
            a, b = ds.funding["binance"]["rate"].to_numpy(), ds.funding["bybit"]["rate"].to_numpy()
            out.append(np.corrcoef(a, b)[0, 1])
        return float(np.mean(out))
    # funding only moves off the 0.01 % pin when the premium leaves the clamp band: a wide premium shows it
    wide = dict(days=60, premium_sd_8h=0.001, spells_per_year=0.0)
    assert corr(StressModel(venue_corr=0.95, **wide)) > corr(StressModel(venue_corr=0.1, **wide)) + 0.3
    ds = generate_path(StressModel(days=120, spells_per_year=6.0, spell_days=10.0, lending_beta=0.5), 4, 0)
    # the lending model follows the venues' mean funding (each venue's formula): compare with that mean
    f = pd.concat([x.set_index("ts")["rate"] for x in ds.funding.values()], axis=1).mean(axis=1)
    apy = ds.lending["aave"].set_index("ts")["supply_apy"].reindex(f.index)
    assert np.corrcoef(f.to_numpy(), apy.to_numpy())[0, 1] > 0.3     # lending falls when funding does


def test_redemption_waves_come_with_spells():
    m = StressModel(days=365, spells_per_year=6.0, spell_days=10.0, redeem_wave=5.0)
    spell = regimes(np.random.default_rng([0, 0]), m.days * 24, m)   # the first draw generate_path makes
    assert 0.05 < spell.mean() < 0.5
    r = generate_path(m, 0, 0).flows["redeem"].to_numpy()
    assert r[spell].mean() > 3.0 * r[~spell].mean()


def test_overrides_are_typed_and_checked():
    m = StressModel.with_overrides({"spell_days": "30", "days": "90"})
    assert m.spell_days == 30.0 and m.days == 90
    with pytest.raises(ValueError, match="no parameter 'spell_dayz' \\(did you mean 'spell_days'\\?\\); valid: days"):
        StressModel.with_overrides({"spell_dayz": "3"})
    with pytest.raises(ValueError, match="--model days=x: expected int"):
        StressModel.with_overrides({"days": "x"})
    with pytest.raises(ValueError, match="venue_corr = 1.5 is out of range; valid: 0 <= venue_corr <= 1"):
        StressModel(venue_corr=1.5)
    with pytest.raises(ValueError, match="--model start='yesterday': not a date"):
        StressModel.with_overrides({"start": "yesterday"})
    assert pd.Timestamp(StressModel().start, tz="UTC").year == 2025


def test_every_number_of_the_model_has_a_declared_range_that_refuses_nan_inf_and_its_edges():
    """Issue 26 item 3: each numeric model parameter is declared with its range, and NaN, +-inf and a value
    just past each bound are refused naming the --model key (a NaN premium once printed an APY)."""
    from dataclasses import fields
    for f in fields(StressModel):
        if f.name == "start":
            continue
        b = f.metadata["bounds"]
        assert ("ge" in b or "gt" in b) and ("le" in b or "lt" in b), f.name
        bad = ["nan", "inf", "-inf", str(b.get("le", b.get("lt")) * 1.5 + 1), str(b.get("ge", b.get("gt")) - 1)]
        for v in bad:
            with pytest.raises(ValueError, match=f"--model {f.name}={v}"):
                StressModel.with_overrides({f.name: v})


def test_docs_list_every_model_parameter_with_its_range():
    from dataclasses import fields
    from pathlib import Path

    from basisbt.engine.config import range_text
    doc = (Path(__file__).resolve().parents[3] / "docs" / "stress.md").read_text()
    for f in fields(StressModel):
        b = f.metadata["bounds"]
        assert f"| `{f.name}` |" in doc and (not b or f"`{range_text(f.name, **b)}`" in doc), f.name


def test_overlapping_basis_shocks_that_would_price_the_perp_at_zero_fail_the_path():
    m = StressModel(days=30, basis_shocks_per_year=52.0, basis_shock=-0.5, basis_half_life_h=8760.0)
    with pytest.raises(ValueError, match="basis shocks overlap to perp / spot - 1"):
        for path in range(20):
            generate_path(m, 0, path)


# ---------------------------------------------------------------- block bootstrap of real funding

def _history(n: int = 60):
    from basisbt.data.stress.bootstrap import FundingHistory
    k = np.arange(n, dtype=float)
    return FundingHistory(("binance", "okx"), np.column_stack([k * 1e-6, -k * 1e-6]))   # rate = +-index


def test_bootstrap_draws_whole_blocks_for_all_venues_at_once():
    h = _history()
    out = h.sample(np.random.default_rng(0), 50, block_days=4.0)            # blocks of 12 settlements
    idx = np.round(out[:, 0] / 1e-6).astype(int)
    assert np.array_equal(out[:, 1], -out[:, 0])                            # the same block on every venue
    for b in range(0, 50, 12):                                              # consecutive inside each block
        seg = idx[b:b + 12]
        assert np.all(np.diff(seg) == 1)
    assert len({idx[b] for b in range(0, 50, 12)}) > 1                      # random starts


def test_a_bootstrap_path_prints_real_rates_on_the_historys_venues():
    h = _history(90)
    m = StressModel(days=20, block_days=2.0, basis_shocks_per_year=0.0)
    ds = generate_path(m, 3, 0, history=h)
    assert ds.venues == ["binance", "okx"]
    got = ds.funding["binance"]["rate"].to_numpy()
    assert len(got) == 59                         # 08:00 of day 1 .. 16:00 of day 20 (the end instant is not in)
    assert set(np.round(got / 1e-6).astype(int)) <= set(range(90))
    assert np.array_equal(ds.funding["okx"]["rate"].to_numpy(), -got)
    # the basis follows the sampled rate: bars 0..7 close at the premium of the 08:00 print, bars 8..15 at 16:00's
    basis = ds.perp["binance"]["close"].to_numpy() / ds.spot["binance"]["close"].to_numpy() - 1.0
    assert np.allclose(basis[:8], got[0], rtol=0, atol=1e-12) and np.allclose(basis[8:16], got[1], rtol=0, atol=1e-12)
    assert generate_path(m, 3, 0, history=h).fingerprint() == ds.fingerprint()


def test_history_from_a_dataset_sums_sub_8h_prints_and_needs_shared_settlements():
    from basisbt.data.stress.bootstrap import FundingHistory
    from tests.helpers import T0, bars, dataset, funding
    hourly = [T0 + pd.Timedelta(hours=h) for h in range(1, 24 * 10)]
    eight = [T0 + pd.Timedelta(hours=8 * k) for k in range(1, 30)]
    ds = dataset(bars(np.full(240, 2000.0)), venues=("a", "b"),
                 fund={"a": funding(hourly, [1e-5] * len(hourly)), "b": funding(eight, [2e-4] * len(eight))})
    h = FundingHistory.from_dataset(ds)
    assert h.venues == ("a", "b")
    # slots 8h..16h etc.: venue a's eight hourly prints (hours 8..15 fall in the slot starting at 8) sum to 8e-5
    assert np.allclose(h.rates[1:-1, 0], 8e-5) and np.allclose(h.rates[:, 1], 2e-4)
    with pytest.raises(ValueError, match="no funding for c"):
        FundingHistory.from_dataset(ds, venues=("a", "c"))
    short = dataset(bars(np.full(48, 2000.0)), fund=funding(eight[:5], [1e-4] * 5))
    with pytest.raises(ValueError, match="need at least a week"):
        FundingHistory.from_dataset(short)


def test_the_blocked_ar1_recursion_matches_a_python_loop():
    from basisbt.data.stress.model import _recurse
    e = np.random.default_rng(0).standard_normal(3000)
    for phi in (0.9, 0.5 ** (1 / 24), 0.25, 1e-4):      # half-lives from a day to a tiny fraction of an hour
        x = [e[0]]
        for v in e[1:]:
            x.append(phi * x[-1] + v)
        np.testing.assert_allclose(_recurse(phi, e), np.array(x), rtol=1e-9, atol=1e-12)
