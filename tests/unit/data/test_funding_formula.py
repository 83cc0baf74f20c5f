"""Each venue's funding formula (spec `funding_formula`, data/funding_formula.py) and the scenarios built with it:
OKX prints its premium (help 360053909272, 2024-01: interest 0, no clamp), Binance and Bybit
P + clamp(0.01 % - P, +-0.05 %), Hyperliquid's 8h formula paid hourly fits the same fields."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from basisbt.data.funding_formula import FundingFormula, equivalent_premium
from basisbt.data.scenarios import feb_2025_crash, load_scenario
from basisbt.data.scenarios.paths import HOUR_NS, STEPS_PER_HOUR, simulate, venue_rule
from basisbt.data.venues import load_venue

BINANCE, OKX = load_venue("binance").funding, load_venue("okx").funding


def test_the_formulas_by_hand():
    # a premium of 0.003 % per 8h: Binance/Bybit print the interest rate 0.01 % (0.003 + clamp(0.007, +-0.05));
    # OKX prints the premium, 0.003 %: a short there earns 0.007 % less per 8h, 7.67 % APR less
    assert BINANCE.rate(0.00003, 8, 0.003) == pytest.approx(0.0001, abs=1e-18)
    assert load_venue("bybit").funding.rate(0.00003, 8, 0.00375) == pytest.approx(0.0001, abs=1e-18)
    assert OKX.rate(0.00003, 8, 0.0075) == pytest.approx(0.00003, abs=1e-18)
    assert (BINANCE.rate(0.00003, 8, 1) - OKX.rate(0.00003, 8, 1)) * 3 * 365 == pytest.approx(0.07665, rel=1e-9)
    # outside the clamp band Binance follows the premium less 0.05 %; OKX is capped at its cap
    assert BINANCE.rate(-0.0008, 8, 0.003) == pytest.approx(-0.0003, abs=1e-18)
    assert OKX.rate(-0.009, 8, 0.0075) == -0.0075
    # a 4h settlement pays half the 8h rate
    assert OKX.rate(0.0002, 4, 0.0075) == pytest.approx(0.0001, abs=1e-18)
    # Hyperliquid (reference/venues/hyperliquid.md): F_8h / 8 each hour; its recorded 2024-01-01 00:00 ETH print:
    # premium 0.00094222 -> (0.00094222 - 0.0005) / 8 = 0.0000552775
    hl = FundingFormula("interest_clamp", 0.0001, 0.0005, 8.0)
    assert hl.rate(0.00094222, 1, 0.04) == pytest.approx(0.0000552775, abs=1e-12)
    # the array form is the same arithmetic
    p = np.array([-0.009, -0.0008, 0.00003, 0.0002])
    assert OKX.rates(p, 8, 0.0075).tolist() == [OKX.rate(x, 8, 0.0075) for x in p]
    assert BINANCE.rates(p, 8, 0.003).tolist() == [BINANCE.rate(x, 8, 0.003) for x in p]


def test_a_premium_only_venue_trades_at_the_premium_that_prints_the_templates_funding():
    p = np.array([-0.00042, 0.00003, 0.0007])
    assert equivalent_premium(p, BINANCE).tolist() == p.tolist()                  # same formula: the same premium
    assert equivalent_premium(p, OKX) == pytest.approx([0.00008, 0.0001, 0.0002], abs=1e-18)  # Binance's F of it


@pytest.fixture(scope="module")
def crash():
    """feb-2025-crash simulated with its default seed (the premium per venue kept)."""
    return simulate(feb_2025_crash.spec(), feb_2025_crash.DEFAULT_SEED)


def _interval_means(premium: np.ndarray, start: pd.Timestamp, ts: pd.Series, hours: np.ndarray) -> np.ndarray:
    """Each settlement's mean premium over the interval before it (the fine clock's steps 1..j)."""
    cum = np.concatenate([[0.0], np.cumsum(premium[1:])])
    j1 = ((ts.astype("int64").to_numpy() - start.value) // HOUR_NS) * STEPS_PER_HOUR
    j0 = np.maximum(j1 - hours.astype(np.int64) * STEPS_PER_HOUR, 0)
    return (cum[j1] - cum[j0]) / (j1 - j0)


def test_okx_scenario_prints_are_its_premium_not_pinned_at_the_interest_rate(crash):
    f = crash.funding["okx"]
    rate, hours = f["rate"].to_numpy(), f["interval_h"].to_numpy()
    mean_p = _interval_means(crash.premium["okx"], crash.start, f["ts"], hours)
    caps = np.array([venue_rule("okx", crash.start, 21).cap_at(int(t // HOUR_NS)) for t in f["ts"].astype("int64")])
    inside = np.abs(mean_p * hours / 8) < caps
    assert inside.mean() > 0.95
    np.testing.assert_allclose(rate[inside], mean_p[inside] * hours[inside] / 8, rtol=1e-12, atol=0)
    assert np.mean(np.abs(rate - 0.0001) < 1e-12) < 0.02            # was 75-100 % with Binance's formula
    # Binance, same scenario: its formula on its own premium, mostly pinned at the interest rate
    b = crash.funding["binance"]
    pb = _interval_means(crash.premium["binance"], crash.start, b["ts"], b["interval_h"].to_numpy())
    np.testing.assert_allclose(b["rate"].to_numpy(), BINANCE.rates(pb, 8, 0.003), rtol=1e-12, atol=1e-18)


def test_okx_funding_keeps_the_level_the_scenario_is_calibrated_to():
    # the OKX premium template is the one that prints what the scenario states (its funding through the
    # interest + clamp formula): means stay within 0.35 bp/8h of Binance's (real premium-only dYdX v3 vs Binance,
    # 2022-06..2023-06: 0.27 bp apart), never the -3.7 bp/8h that Binance's basis read as OKX's premium would give
    for name in ("feb-2025-crash", "bull-carry", "collateral-depeg", "adl-crash", "venue-default"):
        ds = load_scenario(name)
        okx, binance = ds.funding["okx"]["rate"].mean(), ds.funding["binance"]["rate"].mean()
        assert abs(okx - binance) < 0.000035, name
