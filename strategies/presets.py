"""Named parameter sets for synthetic_dollar: a protocol's published rules in one flag (`--set preset=ethena`).

A preset fills the parameters the user did not set; anything given explicitly wins. Each value cites where it
comes from (docs.ethena.fi pages as stored in 2025-2026; docs/strategies.md lists them for users); values the
protocol does not publish are marked as our assumption and are the first thing to set from your own data.
"""
from __future__ import annotations

from typing import Any

ETHENA: dict[str, Any] = {
    # sUSDe rewards mechanism: revenue computed weekly, paid the following week in transfers every 8 hours,
    # each vesting linearly over 8 hours; the published APY compounds weekly
    "payout_period_h": 168.0,
    "payout_step_h": 8.0,
    "payout_vest_h": 8.0,
    # reserve fund page: "for the duration of the shard campaign the reserve fund will be funded by a portion of
    # the yield ... which relates to the proportion of USDe that is not staked"; the sUSDe page: the published
    # APY matches revenue to the backing assets "assuming nothing is distributed to the reserve fund"
    "reserve_rule": "unstaked",
    # reserve fund sizes: 46.6M (Q4 2024), ~62M (2025-08) against a supply of 14.7B (2025-10): 0.4 %; 1.5 % in
    # Aug 2024 (46.5M on 3.18B). About 1 % of supply.
    "reserve_seed": 0.01,
    # current allocation approach / gov thread 555: perps > 80 % of backing at the start of 2025, ~28 % by mid-2025;
    # the rest in liquid stables (USDC on Coinbase, USDtb) that track US treasury yields
    "allocation": "regime",
    "perp_share_high": 0.85,
    "perp_share_low": 0.30,
    # our assumption: the docs give the two ends (perps while they beat treasuries), not the curve between;
    # full perps once trailing funding is 5 points a year above the stables, a month of funding, 5-point steps
    "regime_spread_low": 0.0,
    "regime_spread_high": 0.05,
    "regime_lookback_days": 30.0,
    "regime_band": 0.05,
    # exchange-failure-risk docs: unrealized PnL is settled with the custodians (every 4 h, now daily), so the
    # shorts' notional follows the backing rather than drifting with the price since entry
    "resize_band": 0.05,
    # current allocation approach: LSTs cut to less than 6 % of backing; liquid stables dynamic allocation: staked
    # ETH yield "roughly 3 % by the time USDe launched in February 2024"
    "lst_share": 0.05,
    "lst_apy": 0.03,
    # our assumption: USDC on Coinbase and USDtb track US T-bills, about 4-5 % a year in 2024-2025
    "stables_apy": 0.045,
}

PRESETS: dict[str, dict[str, Any]] = {"ethena": ETHENA}


def apply_preset(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """`params` with the preset's values filled in where the user gave none ('none': unchanged)."""
    if name in ("", "none"):
        return dict(params)
    return {**PRESETS[name], **params}
