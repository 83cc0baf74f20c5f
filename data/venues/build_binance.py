"""Rebuild data/venues/binance.toml's dated tier blocks from recorded Binance leverage brackets.

Source: a TOML of `GET /fapi/v1/leverageBracket` snapshots (ETHUSDT, BTCUSDT; 2022-02-05 ... 2025-08-21) as
cached weekly in freqtrade's `binance_leverage_tiers.json`; each snapshot names its repository and commit.
Every snapshot date becomes a `[[spec]]` block holding both symbols' tables in force on that date (the
latest snapshot of each on or before it). Fees, the funding formula, collateral ratios and the other fields
are the same in every block (their sources are cited in each block). Per-symbol funding caps: ETH 0.375 % while tier 1 was 0.5 %
(0.75 x tier-1 rate), 0.3 % after; BTC 0.3 %.

    python data/venues/build_binance.py [data/venues/recorded/binance_leverage_brackets.toml]

The recorded snapshots are kept in the repository (data/venues/recorded/, their provenance in its header), so
tests/unit/data/test_venue_files_rebuild.py rebuilds binance.toml from them on any clone and compares.
"""
from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

OUT = Path(__file__).with_name("binance.toml")
SOURCE = Path(__file__).with_name("recorded") / "binance_leverage_brackets.toml"
HEAD = re.compile(r"^# (ETH|BTC)USDT snapshot (\d{4}-\d{2}-\d{2})\s+(\S+)$", re.M)

FIELDS = '''maker_fee = 0.0002              # fees
taker_fee = 0.0005              # fees
spot_maker_fee = 0.001          # spot_fees
spot_taker_fee = 0.001
funding_interval_h = 8          # funding: ETHUSDT/BTCUSDT default 8h
funding_cap = {{ ETH = {cap_eth}, BTC = 0.003 }}   # funding_caps: per symbol
funding_formula = "interest_clamp"  # funding_formula: F = P + clamp(I - P, +-C) per 8h
funding_interest = 0.0001       # funding_formula: I = 0.01 % per 8h
funding_clamp = 0.0005          # funding_formula: C = 0.05 %
funding_base_h = 8              # funding_formula: an N-hour settlement pays F x N / 8 (rule since 2025-09-18; approximate before)
liquidation_fee = 0.0125        # liquidation: clearance fee 1.25 % for ETHUSDT and BTCUSDT (exchangeInfo liquidationFee)
maintenance = "deduction"       # liquidation: tier rate x notional - cum (leverageBracket `cum`)
liquidation_price = "liquidation"   # liquidation: closed at the liquidation price, clearance fee charged
partial = "none"                # liquidation: one IOC order for the whole position, no tier step-down
cross_liquidation = "all"       # several perps in one cross account: all closed at once at the breach (docs/architecture.md §4)
tier_unit = "notional"          # leverageBracket notionalFloor / notionalCap are quote notional
withdrawal_fee = 1.0            # approximate: USDT on TRC20 ~1 USDT; network-dependent, fee page not retrieved
withdrawal_delay_min = 30       # approximate: confirmations + internal review, not a documented constant
collateral = {{ ETH = 0.95, BTC = 0.95, USDe = 1.0 }}   # collateral: Multi-Assets Mode value ratios (USDe approximate)
insurance_fund = {{ ETH = 1.0e8, BTC = 1.0e8 }}   # approximate: insurance_fund
'''
SOURCES = '''fees = "Binance FAQ 'Fee Schedule of Binance Futures' binance.com/en/support/articles/360033544231 (regular tier)"
spot_fees = "regular-user spot rate 0.1 % maker and taker"
funding = "Binance announcement of 2025-05-02 on funding settlement frequency (default 8h)"
funding_caps = "per symbol: BTCUSDT +-0.300 % (capped prints 2020-02-12, 2020-03-13); ETHUSDT +-0.375 % until 2024-02 (print of 0.375 % on 2021-01-04 08:00) = 0.75 x tier-1 rate 0.5 %; 0.3 % after tier 1 went to 0.4 % (same rule, not verified by a print)"
liquidation = "exchangeInfo liquidationFee 0.012500 for ETHUSDT/BTCUSDT (hummingbot test fixture); mechanism: Binance FAQ 'Insurance Fund' 360033525371"
collateral = "Binance FAQ 'What Is Multi-Assets Mode' (2021-05-28): BTC/ETH collateral value ratio 95 %. USDe: approximate: Multi-Assets collateral on 2025-10-10 (accounts using it were liquidated in its depeg, docs/venue-facts.md); its ratio and listing date are not recorded: counted in full, as the 2021 table counts BUSD (USDT/USDC 99.99 %)"
funding_formula = "docs/venue-facts.md (Binance): F = P + clamp(0.01 % - P, +-0.05 %) per 8h; since 2025-09-18 divided by 8/N for N-hour intervals"
insurance_fund = "approximate: no recorded per-symbol balance (Binance publishes one per contract, FAQ 'Insurance Fund' 360033525371); the order of its USD-M fund (~1e9 in total; it absorbed ~1.84e8 on 2025-10-10, docs/venue-facts.md) split over the largest symbols"
'''


def snapshots(text: str) -> dict[str, list[tuple[str, str, list[dict]]]]:
    """{'ETH': [(date, 'repo@commit', tiers)], 'BTC': [...]}, sorted by date."""
    out: dict[str, list] = {"ETH": [], "BTC": []}
    heads = list(HEAD.finditer(text))
    for k, h in enumerate(heads):
        body = text[h.end(): heads[k + 1].start() if k + 1 < len(heads) else len(text)]
        tiers = tomllib.loads(body)["spec"]["tiers"][h.group(1)]
        out[h.group(1)].append((h.group(2), h.group(3), tiers))
    for v in out.values():
        v.sort(key=lambda s: s[0])
    return out


def in_force(snaps: list, date: str):
    best = None
    for s in snaps:
        if s[0] <= date:
            best = s
    return best or snaps[0]


def render(snaps: dict) -> str:
    dates = sorted({d for v in snaps.values() for d, _, _ in v})
    lines = ["# Binance USDⓈ-M perpetuals ETHUSDT / BTCUSDT, one [[spec]] block per recorded change of the leverage",
             "# brackets (GET /fapi/v1/leverageBracket snapshots cached weekly by freqtrade; generated by",
             "# data/venues/build_binance.py -- edit that script, not this file). A snapshot's date is its commit",
             "# date: the change happened in the week before. No table before 2022-02 was found: the first block is",
             "# dated 2021-01-01 and uses the 2022-02-05 tables (approximate for 2021).",
             'name = "binance"', 'quote = "USDT"                  # USDⓈ-M: USDT-margined perpetuals', ""]
    for n, date in enumerate(dates):
        eth, btc = in_force(snaps["ETH"], date), in_force(snaps["BTC"], date)
        cap_eth = 0.00375 if eth[2][0]["rate"] >= 0.005 else 0.003
        lines += ["[[spec]]", f'effective_from = "{"2021-01-01" if n == 0 else date}"',
                  FIELDS.format(cap_eth=cap_eth).rstrip(), "", "[spec.sources]",
                  f'tiers_ETH = "ETHUSDT leverageBracket snapshot {eth[0]} ({eth[1]}), freqtrade binance_leverage_tiers.json"',
                  f'tiers_BTC = "BTCUSDT leverageBracket snapshot {btc[0]} ({btc[1]}), freqtrade binance_leverage_tiers.json"',
                  SOURCES.rstrip(), ""]
        for sym, snap in (("ETH", eth), ("BTC", btc)):
            for t in snap[2]:
                lines += [f"[[spec.tiers.{sym}]]", f"floor = {t['floor']}", f"rate = {t['rate']}",
                          f"amount = {t['amount']}", f"max_leverage = {t['max_leverage']}"]
            lines.append("")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    src = Path(argv[1]) if len(argv) > 1 else SOURCE
    text = render(snapshots(src.read_text()))
    tmp = OUT.with_suffix(".toml.tmp")
    tmp.write_text(text)
    tmp.replace(OUT)
    print(f"wrote {OUT} ({text.count('[[spec]]')} blocks)")


if __name__ == "__main__":
    main(sys.argv)
