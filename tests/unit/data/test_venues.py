"""Venue spec files: every venue loads, tier tables are continuous, fees plausible, effective_from works."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from basisbt.data.venues import BUILTIN_DIR, VenueSpecError, all_blocks, available_venues, load_venue

VENUES = ["binance", "bybit", "okx"]


def _load_file(name):
    """The built-in file's blocks (whatever $BASISBT_VENUES holds)."""
    return all_blocks(name, BUILTIN_DIR)


def _all_specs():
    for name in available_venues():
        for spec in _load_file(name):
            yield name, spec


def _all_tables(maintenance=None):
    for name, spec in _all_specs():
        for base, table in spec.tiers.items():
            if maintenance is None or spec.maintenance == maintenance:
                yield pytest.param(table, id=f"{name}-{spec.effective_from.date()}-{base}")


def test_the_three_venues_are_shipped():
    assert set(VENUES) <= set(available_venues())


@pytest.mark.parametrize("name", available_venues())
def test_every_venue_loads_with_eth_and_btc_tiers(name):
    for spec in _load_file(name):
        assert spec.name == name
        assert {"ETH", "BTC"} <= set(spec.tiers)
        assert spec.tier_table("ETH").floor[0] == 0
        assert spec.sources, f"{name} {spec.effective_from.date()}: no [spec.sources]"


@pytest.mark.parametrize("name", VENUES)      # the three shipped venues each have a documented change
def test_a_documented_change_gives_at_least_two_blocks(name):
    specs = _load_file(name)
    assert len(specs) >= 2
    assert all(a.effective_from < b.effective_from for a, b in itertools.pairwise(specs))


@pytest.mark.parametrize("table", list(_all_tables("deduction")))
def test_amounts_are_the_running_sum_of_rate_steps(table):
    expected = np.concatenate([[0.0], np.cumsum(np.diff(table.rate) * table.floor[1:])])
    assert table.amount[0] == 0
    np.testing.assert_allclose(table.amount, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("table", list(_all_tables("whole_position")))
def test_whole_position_tables_have_no_deduction(table):
    # OKX applies the tier's rate to the whole position: maintenance jumps at a floor by rate step x floor
    assert not table.amount.any()
    for k, floor in enumerate(table.floor[1:], start=1):
        jump = table.maintenance(floor) - table.maintenance(np.nextafter(floor, 0.0))
        assert jump == pytest.approx((table.rate[k] - table.rate[k - 1]) * floor, abs=1e-6)


@pytest.mark.parametrize("table", list(_all_tables("deduction")))
def test_maintenance_is_continuous_at_every_tier_floor(table):
    for floor in table.floor[1:]:
        below = table.maintenance(np.nextafter(floor, 0.0))     # last point of the tier below
        at = table.maintenance(floor)                            # first point of the tier above
        above = table.maintenance(np.nextafter(floor, np.inf))
        tol = 1e-6 + 1e-12 * floor
        assert abs(at - below) <= tol, (floor, below, at)
        assert abs(above - at) <= tol, (floor, at, above)
        # the jump the amount removes is real: without it the margin would step by rate-step x floor
        k = int(np.searchsorted(table.floor, floor))
        assert table.amount[k] - table.amount[k - 1] == pytest.approx(
            (table.rate[k] - table.rate[k - 1]) * floor, abs=1e-6)
    # and it rises with notional and is symmetric in the sign of the position
    grid = np.linspace(0, table.floor[-1] * 1.5, 257)
    mm = np.array([table.maintenance(x) for x in grid])
    assert np.all(np.diff(mm) >= -1e-9)
    assert table.maintenance(-1e6) == table.maintenance(1e6)


@pytest.mark.parametrize("table", list(_all_tables()))
def test_rates_rise_and_stay_fractions(table):
    assert np.all(np.diff(table.floor) > 0)
    assert np.all(np.diff(table.rate) >= 0)
    assert np.all((table.rate > 0) & (table.rate <= 0.5))
    assert np.all(table.max_leverage >= 1)
    assert np.all(np.diff(table.max_leverage) <= 0)


def test_binance_eth_matches_design_section_10():
    t = load_venue("binance", at="2024-10-15").tier_table("ETH")
    assert list(t.floor[:3]) == [0, 50_000, 600_000]
    assert list(t.rate[:3]) == [0.004, 0.005, 0.0065]
    assert list(t.amount[:3]) == [0, 50, 950]
    assert t.floor[3] == 3_000_000 and t.rate[-1] == 0.5


@pytest.mark.parametrize("name, spec", [pytest.param(n, s, id=f"{n}-{s.effective_from.date()}")
                                        for n, s in _all_specs()])
def test_fees_and_scalars_are_plausible(name, spec):
    assert 0 <= spec.maker_fee <= spec.taker_fee < 0.002
    assert 0 <= spec.spot_maker_fee <= spec.spot_taker_fee < 0.002
    assert spec.funding_interval_h in (1, 2, 4, 8)
    # caps are per symbol (no global bound: Hyperliquid's is 4 %/h); a cap of 100 % or more is a unit slip
    assert spec.funding_cap and all(0 < c < 1 for c in spec.funding_cap.values())
    assert spec.cap_for("ETH") > 0 and spec.cap_for("BTC") > 0
    # a clearance fee only where the venue charges one (liquidation_price = "liquidation")
    assert (spec.liquidation_fee is None) == (spec.liquidation_price in ("bankruptcy", "book"))   # no clearance fee
    assert spec.liquidation_fee is None or 0 <= spec.liquidation_fee < 0.05
    assert spec.withdrawal_fee >= 0 and spec.withdrawal_delay_s >= 0
    # ETH and BTC count as margin on every shipped CEX, below their full value; the quote is not listed.
    # Hyperliquid: USDC is the only collateral (spot is perp margin only in its portfolio margin, not modelled)
    assert spec.quote in ("USDT", "USDC") and spec.quote not in spec.collateral
    if name == "hyperliquid":
        assert spec.quote == "USDC" and spec.collateral == {} and not spec.portfolio_margin
    else:
        assert spec.quote == "USDT" and spec.portfolio_margin
        assert {"ETH", "BTC"} <= set(spec.collateral) and all(0.9 <= r < 1 for a, r in spec.collateral.items()
                                                                if a in ("ETH", "BTC"))
    assert spec.collateral_ratio(spec.quote) == 1.0 and spec.collateral_ratio("DOGE") == 0.0


def test_partial_liquidation_is_on_for_bybit_and_okx_only():
    assert not load_venue("binance").partial_liquidation
    assert load_venue("bybit").partial_liquidation and load_venue("okx").partial_liquidation


@pytest.mark.parametrize("name", VENUES)
def test_each_venue_states_its_liquidation_model(name):
    # README facts (docs/venue-facts.md): Binance deduction + clearance fee, no partial;
    # Bybit fee to close in maintenance, step one tier paying taker, rest at bankruptcy; OKX whole position,
    # contracts, trigger at maintenance + taker, from tier 3 two tiers at a time, bankruptcy
    want = {"binance": ("deduction", 0.0, False, "liquidation", "none", "notional"),
            "bybit": ("deduction", 0.0, True, "bankruptcy", "step", "notional"),
            "okx": ("whole_position", "taker", False, "bankruptcy", "step", "base")}[name]
    for spec in _load_file(name):
        assert (spec.maintenance, spec.trigger_fee, spec.close_fee_in_maintenance, spec.liquidation_price,
                spec.partial, spec.tier_unit) == want
        assert spec.trigger_rate == (spec.taker_fee if want[1] == "taker" else 0.0)
        assert spec.close_fee_rate == (spec.taker_fee if want[2] else 0.0)
        if name == "okx":
            assert (spec.partial_from_tier, spec.partial_tiers) == (3, 2)
            assert spec.tier_table("ETH").floor[1] == 500 and spec.tier_table("BTC").floor[1] == 10   # recorded
        elif name == "bybit":
            assert (spec.partial_from_tier, spec.partial_tiers) == (2, 1)


HEAD = ('name = "x"\nquote = "USDT"\n[[spec]]\neffective_from = "2024-01-01"\nmaker_fee = 0.0002\n'
        'taker_fee = 0.0005\nspot_maker_fee = 0.001\nspot_taker_fee = 0.001\nfunding_interval_h = 8\n'
        'funding_cap = 0.003\nfunding_formula = "premium"\nliquidation_fee = 0.01\nwithdrawal_fee = 1\n'
        'withdrawal_delay_min = 30\ncollateral = {}\ninsurance_fund = 1e8\n')
TIERS = '[[spec.tiers.ETH]]\nfloor = 0\nrate = 0.01\namount = 0\n'


def test_the_old_partial_boolean_is_refused_with_what_replaced_it(tmp_path):
    (tmp_path / "x.toml").write_text(HEAD + "partial_liquidation = true\n" + TIERS)
    with pytest.raises(VenueSpecError, match=r"x.toml.*'partial_liquidation' is no longer read; use partial = "):
        load_venue("x", directory=tmp_path)
    (tmp_path / "x.toml").write_text(HEAD + TIERS)
    spec = load_venue("x", directory=tmp_path)
    assert (spec.maintenance, spec.liquidation_price, spec.tier_unit, spec.trigger_fee, spec.partial) == \
        ("deduction", "liquidation", "notional", 0.0, "none")


@pytest.mark.parametrize("line, rule", [
    ('maintenance = "whole"', "maintenance"),
    ('liquidation_price = "bankrupt"', "liquidation_price"),
    ('partial = "steps"', "partial"),
    ('tier_unit = "contracts"', "tier_unit"),
    ('trigger_fee = "maker"', "trigger_fee"),
    ("trigger_fee = 0.5", "trigger_fee"),
    ('close_fee_in_maintenance = "yes"', "close_fee_in_maintenance"),
    ('partial = "step"\npartial_from_tier = 1', "partial_from_tier"),
    ('partial = "step"\npartial_tiers = 0', "partial_tiers"),
])
def test_a_bad_liquidation_model_names_the_file_and_the_rule(tmp_path, line, rule):
    (tmp_path / "x.toml").write_text(HEAD + line + "\n" + TIERS)
    with pytest.raises(VenueSpecError, match=rule) as e:
        load_venue("x", directory=tmp_path)
    assert "x.toml" in str(e.value)


def test_whole_position_tiers_refuse_a_deduction(tmp_path):
    (tmp_path / "x.toml").write_text(HEAD + 'maintenance = "whole_position"\n' + TIERS.replace("amount = 0\n", "") +
                                     '[[spec.tiers.ETH]]\nfloor = 100\nrate = 0.02\namount = 1\n')
    with pytest.raises(VenueSpecError, match="tiers.ETH row 2: amount does nothing with maintenance = "
                                             "'whole_position'"):
        load_venue("x", directory=tmp_path)


@pytest.mark.parametrize("name", available_venues())
def test_at_picks_the_block_in_force(name):
    specs = _load_file(name)
    for prev, nxt in itertools.pairwise(specs):
        t = nxt.effective_from
        assert load_venue(name, at=t - pd.Timedelta(seconds=1)).effective_from == prev.effective_from
        assert load_venue(name, at=t).effective_from == nxt.effective_from
        assert load_venue(name, at=t + pd.Timedelta(days=1)).effective_from == nxt.effective_from
    # naive timestamps are read as UTC; strings work; no `at` means the latest block
    assert load_venue(name, at=str(specs[-1].effective_from.date())).effective_from == specs[-1].effective_from
    assert load_venue(name).effective_from == specs[-1].effective_from
    # before the first block the earliest block is used
    assert load_venue(name, at="2000-01-01").effective_from == specs[0].effective_from


def test_effective_from_changes_the_numbers():
    okx_old, okx_new = load_venue("okx", at="2020-06-01"), load_venue("okx", at="2024-06-01")
    assert okx_old.cap_for("ETH") == okx_old.cap_for("BTC") == 0.003
    assert okx_new.cap_for("ETH") == 0.0075 and okx_new.cap_for("BTC") == 0.00375
    bn_old, bn_new = load_venue("binance", at="2022-01-01"), load_venue("binance", at="2025-01-01")
    assert bn_old.tier_table("BTC").floor[2] == 250_000 and bn_old.tier_table("BTC").floor[3] == 1_000_000
    assert bn_new.tier_table("BTC").floor[3] == 3_000_000


def test_unknown_venue_lists_the_known_ones():
    with pytest.raises(VenueSpecError) as e:       # not "kraken": docs/venues.md has readers add that one
        load_venue("no-such-venue")
    for name in VENUES:
        assert name in str(e.value)


def test_unknown_base_asset_names_the_available_ones():
    with pytest.raises(VenueSpecError, match="ETH"):
        load_venue("binance").tier_table("DOGE")


_MIN_BLOCK = HEAD.replace('name = "x"', 'name = "v"') + TIERS


def test_a_tier_table_with_falling_rates_is_rejected(tmp_path):
    (tmp_path / "bad.toml").write_text(
        _MIN_BLOCK.replace('name = "v"', 'name = "bad"') + '[[spec.tiers.ETH]]\nfloor = 1000\nrate = 0.005\namount = 0\n')
    with pytest.raises(VenueSpecError, match="rising"):
        load_venue("bad", directory=tmp_path)


def test_binance_funding_caps_are_per_symbol_and_dated():
    """ETHUSDT +-0.375 % while tier 1 was 0.5 % (until the 2024-02-03 table), 0.3 % after; BTCUSDT 0.3 % throughout."""
    before, after = load_venue("binance", at="2024-02-02"), load_venue("binance", at="2024-02-03")
    assert before.tier_table("ETH").rate[0] == 0.005 and after.tier_table("ETH").rate[0] == 0.004
    assert before.cap_for("ETH") == 0.00375 and after.cap_for("ETH") == 0.003
    assert before.cap_for("BTC") == after.cap_for("BTC") == 0.003
    assert before.cap_for(None) == 0.00375            # no symbol: the widest cap of the block


def test_a_cap_for_an_unlisted_symbol_falls_back_to_the_star_entry(tmp_path):
    body = _MIN_BLOCK.replace("funding_cap = 0.003", "funding_cap = { ETH = 0.0075, \"*\" = 0.001 }")
    (tmp_path / "v.toml").write_text(body)
    spec = load_venue("v", directory=tmp_path)
    assert spec.cap_for("ETH") == 0.0075 and spec.cap_for("SOL") == 0.001


@pytest.mark.parametrize("bad", ["0", "-0.01", "1.5", "{ ETH = \"x\" }", "{}"])
def test_a_bad_funding_cap_is_refused_with_the_file(tmp_path, bad):
    (tmp_path / "v.toml").write_text(_MIN_BLOCK.replace("funding_cap = 0.003", f"funding_cap = {bad}"))
    with pytest.raises(VenueSpecError, match="funding_cap"):
        load_venue("v", directory=tmp_path)


def test_insurance_fund_is_dated_per_base_and_required(tmp_path):
    # issue 23 item 8: `insurance_fund` in each block (dated by it), one number or BASE = size; required
    later = _MIN_BLOCK.split("[[spec]]")[1].replace('"2024-01-01"', '"2024-07-01"').replace(
        "insurance_fund = 1e8", 'insurance_fund = { ETH = 5e7, "*" = 1e6 }')
    (tmp_path / "v.toml").write_text(_MIN_BLOCK + "[[spec]]" + later)
    assert load_venue("v", at="2024-03-01", directory=tmp_path).fund_for("ETH") == 1e8
    spec = load_venue("v", at="2024-08-01", directory=tmp_path)
    assert spec.fund_for("ETH") == 5e7 and spec.fund_for("SOL") == 1e6
    (tmp_path / "n.toml").write_text(_MIN_BLOCK.replace("insurance_fund = 1e8\n", "").replace('name = "v"', 'name = "n"'))
    with pytest.raises(VenueSpecError, match="insurance_fund"):
        load_venue("n", directory=tmp_path)
    (tmp_path / "b.toml").write_text(_MIN_BLOCK.replace("insurance_fund = 1e8", "insurance_fund = { ETH = -1 }")
                                     .replace('name = "v"', 'name = "b"'))
    with pytest.raises(VenueSpecError, match=r"insurance_fund\.ETH"):
        load_venue("b", directory=tmp_path)
