"""Multi-asset synthetic data: the btc-eth-rotation scenario, the `multi_asset.generate` benchmark generator, and
the single-asset scenarios' fingerprints, which the goldens store and which must not move."""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from basisbt.data.dataset import Dataset
from basisbt.data.scenarios import btc_eth_rotation as rot
from basisbt.data.scenarios import list_scenarios, load_scenario
from basisbt.data.scenarios.multi_asset import PROFILES, generate
from basisbt.data.venues import load_venue

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
VENUES = ["binance", "bybit", "okx"]
H8 = pd.Timedelta("8h")


@pytest.fixture(scope="module")
def rotation() -> Dataset:
    return load_scenario(rot.NAME)


def log_returns(frame: pd.DataFrame) -> np.ndarray:
    return np.diff(np.log(frame["close"].to_numpy()))


def test_listed_only_when_asked_for() -> None:
    assert rot.NAME not in {s.name for s in list_scenarios()}                       # goldens iterate this
    assert rot.NAME not in {s.name for s in list_scenarios(real_data=True)}
    every = {s.name: s for s in list_scenarios(real_data=True, multi_asset=True)}
    assert every[rot.NAME].assets == ("ETH", "BTC") and every[rot.NAME].multi_asset
    assert not any(s.multi_asset for s in list_scenarios(real_data=True))
    assert {s.name for s in list_scenarios(real_data=True)} < set(every)


def test_two_assets_on_three_venues_on_one_clock(rotation: Dataset) -> None:
    ds = rotation
    assert ds.name == "scenario:btc-eth-rotation" and ds.assets == ["ETH", "BTC"] and ds.timeframe == "1h"
    assert ds.symbol == "ETH/USDT" and ds.asset("BTC").symbol == "BTC/USDT"
    assert ds.venues == VENUES and sorted(ds.lending) == ["aave", "morpho"] and ds.flows is not None
    btc = ds.asset("BTC")
    assert btc.lending == {} and btc.flows is None and btc.timeframe == "1h"
    for stream in ("spot", "perp", "mark", "funding"):
        assert sorted(getattr(btc, stream)) == VENUES, stream
        for v in VENUES:
            pd.testing.assert_series_equal(getattr(ds, stream)[v]["ts"], getattr(btc, stream)[v]["ts"])
    assert len(ds.spot["binance"]) == rot.DAYS * 24
    # prices at their levels: ETH in the thousands, BTC in the tens of thousands
    assert 1500 < ds.spot["binance"]["close"].min() and ds.spot["binance"]["close"].max() < 4000
    assert 40000 < btc.spot["binance"]["close"].min() and btc.spot["binance"]["close"].max() < 100000


def test_seeded_and_bit_reproducible(rotation: Dataset) -> None:
    again = load_scenario(rot.NAME)
    assert again.fingerprint() == rotation.fingerprint()
    for a in ("ETH", "BTC"):
        for (_, _, fa), (_, _, fb) in zip(rotation.asset(a).frames(), again.asset(a).frames(), strict=True):
            pd.testing.assert_frame_equal(fa, fb, check_exact=True)
    assert load_scenario(rot.NAME, seed=1).fingerprint() != rotation.fingerprint()
    assert load_scenario(rot.NAME, seed=rot.DEFAULT_SEED).fingerprint() == rotation.fingerprint()


def test_1h_is_the_aggregation_of_1m_for_every_asset(rotation: Dataset) -> None:
    m1 = load_scenario(rot.NAME, "1m")
    for a in ("ETH", "BTC"):
        p = m1.asset(a).perp["okx"].set_index("ts").resample("1h").agg(
            {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
        q = rotation.asset(a).perp["okx"].set_index("ts")
        np.testing.assert_allclose(p.to_numpy(), q.to_numpy(), rtol=1e-9)
        pd.testing.assert_frame_equal(m1.asset(a).funding["okx"], rotation.asset(a).funding["okx"])


@pytest.mark.parametrize("seed", [None, 7])
def test_btc_and_eth_returns_correlate_near_0_8(seed: int | None) -> None:
    ds = load_scenario(rot.NAME, seed=seed)
    for v in VENUES:
        r = np.corrcoef(log_returns(ds.spot[v]), log_returns(ds.asset("BTC").spot[v]))[0, 1]
        assert 0.7 < r < 0.9, (v, r)


@pytest.mark.parametrize("seed", [None, 7])
def test_eth_funding_negative_over_the_spell_while_btc_stays_positive(seed: int | None) -> None:
    ds = load_scenario(rot.NAME, seed=seed)
    s0, s1 = pd.Timestamp(rot.SPELL[0], tz="UTC"), pd.Timestamp(rot.SPELL[1], tz="UTC")

    def spell(f: pd.DataFrame) -> pd.Series:          # settlements whose whole 8h interval is in the spell
        return f.loc[(f["ts"] >= s0 + H8) & (f["ts"] <= s1), "rate"]

    def outside(f: pd.DataFrame) -> pd.Series:        # and those well away from it (the ramps are 6h)
        return f.loc[(f["ts"] < s0 - H8) | (f["ts"] > s1 + 2 * H8), "rate"]

    for v in VENUES:
        eth, btc = ds.funding[v], ds.asset("BTC").funding[v]
        assert len(spell(eth)) == 30
        assert spell(eth).mean() < 0 and (spell(eth) < 0).mean() >= 0.8, v
        if v == "okx":     # OKX prints its premium (no 0.01 % pin): the premium's noise shows around the same means
            assert spell(btc).mean() > 0 and (spell(btc) > 0).mean() > 0.5, v
            assert outside(btc).mean() > 0 and (outside(eth) > 0).mean() >= 0.8, v
        else:
            assert (spell(btc) > 0).all() and (outside(btc) > 0).all(), v
            assert (outside(eth) > 0).all(), v
        assert outside(eth).mean() > outside(btc).mean(), v      # ETH is the better carry outside the spell


def test_each_assets_funding_within_its_own_venue_cap(rotation: Dataset) -> None:
    caps = {}
    for a in ("ETH", "BTC"):
        for v in VENUES:
            f = rotation.asset(a).funding[v]
            cap = np.array([load_venue(v, at=t).cap_for(a) for t in f["ts"]])
            assert (f["rate"].abs().to_numpy() <= cap + 1e-15).all(), (a, v)
            caps[a, v] = set(cap)
    assert caps["ETH", "okx"] != caps["BTC", "okx"]          # okx: ETH 0.75 %, BTC 0.375 %: each its own rule
    assert rot.specs()["BTC"].venues["okx"].funding.cap == load_venue("okx", at=rot.START).cap_for("BTC")
    assert rot.specs()["ETH"].venues["okx"].funding.cap == load_venue("okx", at=rot.START).cap_for("ETH")


def test_fingerprint_covers_both_assets(rotation: Dataset) -> None:
    primary = replace(rotation, extra_assets=())
    btc = rotation.asset("BTC")
    fps = {rotation.fingerprint(), primary.fingerprint(), btc.fingerprint()}
    assert len(fps) == 3
    swapped = Dataset.combine([btc, primary])
    assert swapped.fingerprint() not in fps and swapped.assets == ["BTC", "ETH"]


# ------------------------------------------------------------------------ the benchmark generator

@pytest.fixture(scope="module")
def three() -> Dataset:
    return generate(("ETH", "BTC", "SOL"), days=30, timeframe="1h", seed=0)


def test_generate_three_assets_three_venues(three: Dataset) -> None:
    assert three.assets == ["ETH", "BTC", "SOL"] and three.venues == VENUES and three.timeframe == "1h"
    assert three.name == "synthetic:multi-asset-eth-btc-sol-30d"
    for a in three.assets:
        d = three.asset(a)
        assert d.symbol == f"{a}/USDT" and len(d.perp["okx"]) == 30 * 24
        close = d.spot["binance"]["close"]
        assert PROFILES[a].price / 2 < close.min() and close.max() < PROFILES[a].price * 2, a
    for a, b in (("ETH", "BTC"), ("ETH", "SOL"), ("BTC", "SOL")):
        r = np.corrcoef(log_returns(three.asset(a).spot["bybit"]), log_returns(three.asset(b).spot["bybit"]))[0, 1]
        assert 0.7 < r < 0.9, (a, b, r)
    sol = three.asset("SOL").spot["binance"]["close"]
    assert 75 < sol.median() < 300                            # plausible SOL prices (~150)


def test_generate_is_seeded(three: Dataset) -> None:
    assert generate(("ETH", "BTC", "SOL"), days=30, seed=0).fingerprint() == three.fingerprint()
    assert generate(("ETH", "BTC", "SOL"), days=30, seed=1).fingerprint() != three.fingerprint()
    two = generate(("ETH", "BTC"), days=30, seed=0)
    assert two.assets == ["ETH", "BTC"] and two.fingerprint() != three.fingerprint()


def test_generate_notes_what_the_venue_files_lack(three: Dataset) -> None:
    """SOL has no cap or tiers in data/venues: the notes say so per venue, and ETH/BTC (which have them) get none."""
    for v in VENUES:
        spec = load_venue(v, at="2024-01-01")
        for a in ("ETH", "BTC", "SOL"):
            lacks_tiers = a not in spec.tiers
            assert any(n.startswith(f"{a}: data/venues/{v}.toml has no {a} margin tiers") for n in three.notes) \
                == lacks_tiers, (a, v)
    assert any(n.startswith("SOL: data/venues/okx.toml has no SOL margin tiers") for n in three.notes)
    for a in three.assets:
        for v in VENUES:
            f = three.asset(a).funding[v]
            cap = np.array([load_venue(v, at=t).cap_for(a) for t in f["ts"]])
            assert (f["rate"].abs().to_numpy() <= cap + 1e-15).all(), (a, v)


@pytest.mark.parametrize("kwargs, match", [
    (dict(assets=("ETH", "DOGE")), "unknown asset"),
    (dict(assets=("ETH", "ETH")), "given twice"),
    (dict(assets=()), "unknown asset"),
    (dict(days=0), "days"),
    (dict(timeframe="7m"), "timeframe"),
])
def test_generate_refuses_bad_arguments_in_one_line(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match) as e:
        generate(**{"days": 2, **kwargs})
    assert "\n" not in str(e.value)


# ------------------------------------------------------------------------ single-asset fingerprints unchanged

def _golden_fingerprints() -> dict[str, str]:
    """scenario name -> data_fingerprint of every golden run on a whole scenario (no window, params only)."""
    out: dict[str, str] = {}
    for f in sorted(GOLDEN.glob("*.toml")):
        head = f.read_text().splitlines()
        m = re.search(r" data=scenario:([\w-]+)(?: params=\{[^}]*\})?$", head[0])
        fp = next((ln.split('"')[1] for ln in head if ln.startswith("data_fingerprint")), None)
        if m and fp:
            assert out.setdefault(m[1], fp) == fp, f
    return out


def test_single_asset_scenarios_keep_the_golden_fingerprints() -> None:
    golden = _golden_fingerprints()
    assert set(golden) == {s.name for s in list_scenarios()}
    for name, fp in golden.items():
        assert load_scenario(name).fingerprint() == fp, name
