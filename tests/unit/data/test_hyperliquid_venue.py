"""The hyperliquid venue file (data/venues/hyperliquid.toml) against Hyperliquid's written rules, and the schema
fields it brought (funding_price, oracle_weights, funding_cap_exact, deposit_delay_min, portfolio_margin)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from basisbt.data.errors import DataError
from basisbt.data.validate import check_funding_cap
from basisbt.data.venues import BUILTIN_DIR, VenueSpecError, builtin_venue, load_venue

HL = builtin_venue("hyperliquid")


def test_usdc_quote_and_no_other_collateral():
    for s in HL.blocks:
        assert s.quote == "USDC" and s.collateral == {}
        assert s.collateral_ratio("USDC") == 1.0 and s.collateral_ratio("ETH") == 0.0   # spot is not margin
        assert s.funding_price == "oracle" and s.liquidation_fee is None and s.liquidation_price == "book"
        assert (s.liquidation_slice, s.liquidation_slice_above, s.liquidation_cooldown_s) == (0.2, 100_000, 30)
        assert abs(s.backstop_threshold - 2 / 3) < 1e-12 and s.adl_model == "previous_mark"
        assert s.oracle_weights == {"binance": 3, "okx": 2, "bybit": 2, "kraken": 1, "kucoin": 1, "gate": 1,
                                    "mexc": 1, "hyperliquid": 1}


@pytest.mark.parametrize("spec", HL.blocks, ids=lambda s: str(s.effective_from.date()))
def test_maintenance_is_half_the_initial_margin_at_max_leverage_with_a_running_deduction(spec):
    for base in ("ETH", "BTC"):
        t = spec.tier_table(base)
        np.testing.assert_allclose(t.rate, 1.0 / (2.0 * t.max_leverage), rtol=1e-12)
        # deduction_n = deduction_{n-1} + lower_bound_n x (mmr_n - mmr_{n-1})   (docs trading/margin-tiers)
        for n in range(1, len(t.floor)):
            assert t.amount[n] == pytest.approx(t.amount[n - 1] + t.floor[n] * (t.rate[n] - t.rate[n - 1]), abs=1e-6)


def test_2025_tables_by_hand():
    eth, btc = (load_venue("hyperliquid", at="2025-06-01").tier_table(b) for b in ("ETH", "BTC"))
    # ETH 25x to 100M then 15x: 2 % then 1/30; at 150M: 150M / 30 - 100M x (1/30 - 1/50) = 5M - 1.3333M
    assert eth.maintenance(50e6) == pytest.approx(1_000_000.0)
    assert eth.maintenance(150e6) == pytest.approx(3_666_666.6667, abs=1e-3)
    assert eth.maintenance(100e6) == pytest.approx(2_000_000.0)          # continuous at the boundary
    # BTC 40x to 150M then 20x: 1.25 % then 2.5 %, deduction 1.875M
    assert btc.maintenance(200e6) == pytest.approx(200e6 * 0.025 - 1_875_000)
    # before the 2025-03 cut: one tier at 50x, 1 %
    assert load_venue("hyperliquid", at="2024-06-01").tier_table("ETH").maintenance(1e6) == pytest.approx(10_000.0)


def test_funding_is_hourly_from_an_8h_formula_with_a_hard_4pct_cap():
    s = load_venue("hyperliquid", at="2024-06-01")
    assert (s.funding_interval_h, s.funding_base_h, s.cap_for("ETH"), s.funding_cap_exact) == (1, 8, 0.04, True)
    f = s.funding
    # |I - P| <= 0.05 %: exactly 0.01 % / 8 = 0.00125 % an hour (most prints)
    assert f.rate(0.0003, 1, 0.04) == pytest.approx(0.0000125, abs=1e-15)
    # the shared record of 2024-01-01 00:00 ETH: premium 0.00094222 -> (0.00094222 - 0.0005) / 8
    assert f.rate(0.0009422208, 1, 0.04) == pytest.approx(0.0000552776, abs=1e-10)
    assert f.rate(1.0, 1, 0.04) == 0.04                                   # capped at 4 % an hour
    assert load_venue("hyperliquid", at="2023-04-01").funding_interval_h == 8      # early history: 8-hourly


def _rates(*rates: float, start: str = "2025-01-01") -> pd.DataFrame:
    return pd.DataFrame({"ts": pd.date_range(start, periods=len(rates), freq="1h", tz="UTC"), "rate": list(rates)})


def test_a_print_between_3_and_4_pct_is_accepted_and_one_above_4_is_refused_with_its_row():
    check_funding_cap(_rates(0.0000125, 0.035, -0.04), "hyperliquid", base="ETH", file="hl.json")
    with pytest.raises(DataError) as e:
        check_funding_cap(_rates(0.0000125, 0.035, 0.0401), "hyperliquid", base="ETH", file="hl.json")
    assert e.value.file == "hl.json" and e.value.row == 3 and "cap of 4.0000%" in e.value.rule
    assert "allowed" not in str(e.value)                  # the cap itself: no 1.25x allowance for a hard cap
    # a CEX cap stays an estimate: Binance ETH 0.3 % is refused only above 1.25 x
    check_funding_cap(_rates(0.0037, start="2025-01-01"), "binance", base="ETH")
    with pytest.raises(DataError, match="x1.25 allowed"):
        check_funding_cap(_rates(0.0038, start="2025-01-01"), "binance", base="ETH")


def test_portfolio_margin_is_refused_on_hyperliquid():
    with pytest.raises(VenueSpecError, match="hyperliquid.margin_mode = 'portfolio'.*portfolio_margin = false"):
        HL.with_overrides({"margin_mode": "portfolio"})
    assert builtin_venue("binance").with_overrides({"margin_mode": "portfolio"}).at().liquidation_threshold == 1.05


def test_the_bridge_delays():
    s = HL.at()
    assert (s.withdrawal_delay_s, s.deposit_delay_s) == (240.0, 60.0)
    assert builtin_venue("binance").at().deposit_delay_s == 0.0


HEAD = (BUILTIN_DIR / "hyperliquid.toml").read_text()


@pytest.mark.parametrize("old, new, says", [
    ("oracle_weights = { binance = 3,", "oracle_weights = { binance = -3,", "oracle_weights.binance = -3 is out of range"),
    ("oracle_weights = { binance = 3,", "oracle_weights = { Binance = 3,", "oracle_weights.Binance: not a venue name"),
    ('funding_price = "oracle"', 'funding_price = "index"', "funding_price = 'index'; valid: 'mark', 'oracle'"),
    ('funding_price = "oracle"', 'funding_price = "mark"', "oracle_weights does nothing with funding_price = 'mark'"),
    ("deposit_delay_min = 1 ", "deposit_delay_min = -1 ", "deposit_delay_min = -1 is out of range"),
])
def test_bad_new_fields_are_refused_with_the_file(tmp_path, old, new, says):
    (tmp_path / "hyperliquid.toml").write_text(HEAD.replace(old, new, 1))
    with pytest.raises(VenueSpecError) as e:
        load_venue("hyperliquid", directory=tmp_path)
    assert says in str(e.value) and "hyperliquid.toml" in str(e.value)
