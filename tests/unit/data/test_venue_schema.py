"""The one venue schema (data/venue_schema.py): every key checked, refused with the file and the key when it is
unknown, mistyped or would do nothing; the kernels' cfg layout and the docs' field table come from it."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import basisbt.engine.kernels as kernels
import basisbt.engine.kernels.codes as codes
from basisbt.data import venue_docs
from basisbt.data.venue_schema import CFG_COLUMNS, RUN_COLUMNS, SPEC_RULES
from basisbt.data.venues import BUILTIN_DIR, VenueSet, VenueSpecError, load_venue

ROOT = Path(__file__).resolve().parents[3]
BASE = (BUILTIN_DIR / "bybit.toml").read_text()     # a real file to break one key of


def broken(tmp_path: Path, old: str, new: str, name: str = "bybit") -> Path:
    """A copy of the built-in bybit.toml (renamed `name`) with the first `old` line replaced by `new`."""
    text = BASE.replace('name = "bybit"', f'name = "{name}"')
    assert re.search(old, text, flags=re.M), old
    (tmp_path / f"{name}.toml").write_text(re.sub(old, new, text, count=1, flags=re.M))
    return tmp_path


def refusal(tmp_path: Path, name: str = "bybit") -> str:
    with pytest.raises(VenueSpecError) as e:
        VenueSet([tmp_path], env=False, builtin=False).get(name)
    msg = str(e.value)
    assert "\n" not in msg and f"{name}.toml" in msg
    return msg


@pytest.mark.parametrize("old, new, says", [
    # a typo: the key named, with what it was probably meant to be
    (r"^taker_fee = ", "taker_fees = ", "unknown key 'taker_fees' (did you mean 'taker_fee'?)"),
    (r"^partial_tiers = 1", "partial_tier = 1", "unknown key 'partial_tier' (did you mean 'partial_tiers'?)"),
    # keys the engine has no use for are not read silently
    (r"^withdrawal_fee = ", "insurance_pool = 1000000\nwithdrawal_fee = ", "unknown key 'insurance_pool' (did you mean 'insurance_fund'?)"),
    (r"^withdrawal_fee = ", 'margin_mode = "portfolio"\nwithdrawal_fee = ', "unknown key 'margin_mode'"),
    (r'^name = "bybit"', 'name = "bybit"\nregion = "eu"', "unknown key 'region'"),
    (r"^rate = 0.005$", "rate = 0.005\nmmr = 0.005", "tiers.ETH row 1: unknown key 'mmr'"),
    # wrong types
    (r"^taker_fee = 0.00055", 'taker_fee = "0.055 %"', "taker_fee = '0.055 %': expected a number"),
    (r"^close_fee_in_maintenance = true", 'close_fee_in_maintenance = "yes"', "close_fee_in_maintenance = 'yes'"),
    (r"^partial_tiers = 1", "partial_tiers = 1.5", "partial_tiers = 1.5: expected a whole number"),
    (r"^collateral = .*$", 'collateral = { ETH = "0.98" }', "collateral.ETH = '0.98': expected a number"),
    # out of range (a percent written as a fraction)
    (r"^taker_fee = 0.00055", "taker_fee = 0.055", "taker_fee = 0.055 is out of range; valid: 0 <= taker_fee < 0.01"),
    # fields the engine cannot honour: they would do nothing here
    (r"^close_fee_in_maintenance = ", "liquidation_fee = 0.005\nclose_fee_in_maintenance = ",
     "liquidation_fee does nothing with liquidation_price = 'bankruptcy'"),
    (r"^funding_formula = .*$", 'funding_formula = "premium"', "funding_interest does nothing with "
                                                                "funding_formula = 'premium'"),
    (r'^cross_liquidation = "all"', 'cross_liquidation = "largest_first"', "cross_liquidation = 'largest_first'; "
                                                                           "valid: 'all'"),
    # keys of older files say what replaced them
    (r"^collateral = .*$", "haircuts = { ETH = 0.02 }", "'haircuts' is no longer read; use collateral"),
])
def test_a_bad_key_is_refused_naming_the_file_and_the_key(tmp_path, old, new, says):
    assert says in refusal(broken(tmp_path, old, new))


def test_required_only_where_used(tmp_path):
    # bybit liquidates at bankruptcy: no liquidation_fee needed; at the liquidation price it is required
    assert load_venue("bybit").liquidation_fee is None
    msg = refusal(broken(tmp_path, r'^liquidation_price = "bankruptcy"', 'liquidation_price = "liquidation"'))
    assert "lacks key 'liquidation_fee'" in msg
    # OKX's premium-only formula takes no interest or clamp; the interest + clamp formula needs both
    okx = load_venue("okx")
    assert okx.funding_formula == "premium" and okx.funding_interest is None and okx.funding_clamp is None
    msg = refusal(broken(tmp_path, r"^funding_clamp = .*$", ""))
    assert "lacks key 'funding_clamp'" in msg
    # partial_from_tier only with partial = "step"
    msg = refusal(broken(tmp_path, r'^partial = "step"', 'partial = "none"'))
    assert "partial_from_tier does nothing with partial = 'none'" in msg


def test_the_quote_is_not_listed_as_collateral_and_the_name_is_the_file_name(tmp_path):
    assert "the quote counts in full" in refusal(broken(tmp_path, r"^collateral = .*$",
                                                        "collateral = { USDT = 1.0 }"))
    (tmp_path / "other.toml").write_text(BASE)
    with pytest.raises(VenueSpecError, match="other.toml: name = 'bybit' must equal the file name"):
        VenueSet([tmp_path], env=False, builtin=False).get("other")


def test_the_kernel_cfg_layout_is_the_schemas():
    """codes.C_* are the positions of CFG_COLUMNS: the venue fields' columns in field order, then the run's."""
    named = {k: v for k, v in vars(codes).items() if k.startswith("C_") and isinstance(v, int)}
    assert set(named) == set(CFG_COLUMNS)
    assert all(CFG_COLUMNS[v] == k for k, v in named.items())
    assert codes.N_CFG == len(CFG_COLUMNS) == len(set(CFG_COLUMNS))
    fields = [c for r in SPEC_RULES.values() for c in r.kernel]
    assert list(CFG_COLUMNS) == list(dict.fromkeys(fields)) + list(RUN_COLUMNS)


def test_the_numba_cache_key_covers_the_schema(tmp_path, monkeypatch):
    """numba freezes codes' column numbers into compiled kernels; the schema lays them out, so it is in the key."""
    key = kernels._sources_key()
    copy = tmp_path / "venue_schema.py"
    copy.write_text(kernels._schema_file().read_text() + "\n# moved a column\n")
    monkeypatch.setattr(kernels, "_schema_file", lambda: copy)
    assert kernels._sources_key() != key


def test_the_docs_field_table_is_generated_from_the_schema():
    page = ROOT / "docs" / "venues.md"
    text = page.read_text(encoding="utf-8")
    assert venue_docs.render(text) == text, "docs/venues.md is stale: run python -m basisbt.data.venue_docs docs/venues.md"
    for key, r in SPEC_RULES.items():                   # every key is a row, with its kernel columns
        row = next(line for line in text.splitlines() if line.startswith(f"| `{key}` |"))
        assert all(f"`{c}`" in row for c in r.kernel)


def test_replace_is_checked_and_derived_values_follow_it():
    okx, bybit = VenueSet(env=False).get("okx"), VenueSet(env=False).get("bybit")
    assert okx.at().trigger_rate == okx.at().taker_fee == 0.0005
    o2 = okx.replace(taker_fee=0.001)
    assert all(b.trigger_fee == "taker" and b.trigger_rate == 0.001 for b in o2.blocks)
    b2 = bybit.replace(taker_fee=0.001)
    assert all(b.close_fee_rate == 0.001 for b in b2.blocks) and bybit.at().close_fee_rate == 0.00055
    with pytest.raises(VenueSpecError, match="unknown key 'taker_fees'"):
        okx.replace(taker_fees=0.001)
    with pytest.raises(VenueSpecError, match="liquidation_fee does nothing"):
        okx.replace(liquidation_fee=0.01)
    # a change that makes a key meaningless needs that key removed (None)
    bn = VenueSet(env=False).get("binance")
    with pytest.raises(VenueSpecError, match="liquidation_fee does nothing"):
        bn.replace(liquidation_price="bankruptcy")
    assert bn.replace(liquidation_price="bankruptcy", liquidation_fee=None).at().liquidation_fee is None


def test_a_fingerprint_is_what_the_venue_says_not_how_it_is_written(tmp_path):
    base = VenueSet(env=False).get("bybit")
    (tmp_path / "bybit.toml").write_text(BASE.replace("# fees: VIP0", "# a reworded comment:") .replace(
        'fees = "as block 1"', 'fees = "as block 1 (reworded)"'))
    same = VenueSet([tmp_path], env=False, builtin=False).get("bybit")
    assert same.fingerprint() == base.fingerprint()
    moved = base.replace(spot_taker_fee=0.0011)
    assert moved.fingerprint() != base.fingerprint()
    # over a span, only the blocks in force count: a change in the 2021 block leaves a 2025 run's identity alone
    t0, t1 = (load_venue("bybit", at="2025-01-01").effective_from.value, 1_740_000_000 * 10**9)
    old_only = VenueSet([broken(tmp_path, r"^taker_fee = 0.00055", "taker_fee = 0.0006")], env=False,
                        builtin=False).get("bybit")
    assert old_only.blocks[0].taker_fee == 0.0006 and old_only.blocks[1].taker_fee == 0.00055
    assert old_only.fingerprint(t0, t1) == base.fingerprint(t0, t1)
    assert old_only.fingerprint() != base.fingerprint()


def test_the_search_path_order(tmp_path, monkeypatch):
    mine, env = tmp_path / "mine", tmp_path / "env"
    mine.mkdir(), env.mkdir()
    (mine / "binance.toml").write_text((BUILTIN_DIR / "binance.toml").read_text().replace(
        "taker_fee = 0.0005", "taker_fee = 0.0004"))
    (env / "kraken.toml").write_text(BASE.replace('name = "bybit"', 'name = "kraken"'))
    monkeypatch.setenv("BASISBT_VENUES", str(env))
    vs = VenueSet([mine])
    assert vs.get("binance").at().taker_fee == 0.0004                 # the user's copy shadows the built-in
    assert vs.get("kraken").source.endswith("kraken.toml") and vs.get("okx").source == "data/venues/okx.toml"
    assert {"binance", "bybit", "okx", "kraken"} <= set(vs.names())
    code = vs.get("okx").replace(taker_fee=0.0007)
    assert VenueSet([code, mine]).get("okx").at().taker_fee == 0.0007  # a Venue given in code comes first
    monkeypatch.delenv("BASISBT_VENUES")
    assert "kraken" not in VenueSet().names()
    with pytest.raises(VenueSpecError, match="nope: not a directory of venue .toml files"):
        VenueSet([tmp_path / "nope"])
    with pytest.raises(VenueSpecError, match="unknown venue 'krakn' \\(did you mean 'kraken'\\?\\)"):
        VenueSet([env]).get("krakn")
