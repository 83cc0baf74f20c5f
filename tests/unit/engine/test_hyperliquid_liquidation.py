"""Liquidation the Hyperliquid way (liquidation_price = "book"), hand cases run through the kernel AND its twin.

Hyperliquid's rules (docs/venue-facts.md, data/venues/hyperliquid.toml): maintenance = notional / (2 x max
leverage), tiered with a running deduction; a breached account is sold into the book at the mark less slippage,
no clearance fee, the trader keeps what is left; above 100k USDC notional 20 % of the position at a time, 30 s
apart; below 2/3 of maintenance the liquidator vault takes every cross position and the cross margin.
Every expected number below is worked out by hand in the comments.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from basisbt.data.venues import load_venue
from basisbt.engine.kernels.advance import advance
from basisbt.engine.kernels.arrays import Ledger, Records, State, VenueTables
from basisbt.engine.kernels.codes import (
    A_CASH,
    A_ENTRY,
    A_FUND,
    A_ISO,
    A_QTY,
    A_WAIT,
    C_BACKSTOP,
    C_BOOK,
    C_COOLDOWN_S,
    C_HOME_OFF,
    C_ISOLATED,
    C_SLICE,
    C_SLICE_ABOVE,
    C_SLIP,
    C_SLIP_IMPACT,
    K_BACKSTOP,
    K_LIQ_FEE,
    K_REALIZED,
    L_KIND,
    LEDGER_KINDS,
    LIQ_KINDS,
    LK_BACKSTOP,
    N_ACCT,
    N_CFG,
    N_LIQ,
    N_PNL,
    N_REC,
    P_LIQUIDATION,
    P_SLIPPAGE,
    Q_FEE,
    Q_KIND,
    Q_PRICE,
    Q_QTY,
    Q_VENUE,
    R_LIQ_PX,
    R_MAINT,
)
from basisbt.engine.kernels.margin import maintenance_margin_at
from tests.helpers import kernel_market
from tests.reference import kernels as ref_k
from tests.reference.advance import advance as ref_advance

HOUR, MINUTE = 3600.0, 60.0
L = 0.02                                          # 25x: maintenance rate 1 / (2 x 25)
ONE_TIER = (np.array([0.0, np.inf]), np.array([L, L]), np.zeros(2))


def hl_cfg(n: int, *, slip: float = 0.0, impact: float = 0.0, homes=None, isolated=()) -> np.ndarray:
    """Hyperliquid's liquidation columns (as hyperliquid.toml fills them) for n slots."""
    cfg = np.zeros((n, N_CFG))
    cfg[:, C_BOOK] = 1.0
    cfg[:, C_SLICE], cfg[:, C_SLICE_ABOVE], cfg[:, C_COOLDOWN_S] = 0.2, 100_000.0, 30.0
    cfg[:, C_BACKSTOP] = 2.0 / 3.0
    cfg[:, C_SLIP], cfg[:, C_SLIP_IMPACT] = slip, impact
    for v, h in enumerate(homes or range(n)):
        cfg[v, C_HOME_OFF] = v - h
    for v in isolated:
        cfg[v, C_ISOLATED] = 1.0
    return cfg


def both(acct: np.ndarray, cfg: np.ndarray, bars: list[dict], bar_seconds: float = HOUR, tiers=None,
         volume: float = 1.0):
    """Run the bars through the kernel and the twin. `bars`: per bar, per slot (open, high, low, close) of the mark
    (= spot). Returns (kernel: state, rec, liquidation rows, ledger kinds), twin output, and checks the two agree."""
    n, nv = len(bars), acct.shape[0]
    arr = {k: np.array([[b[v][j] for v in range(nv)] for b in bars]) for j, k in enumerate(("o", "h", "l", "c"))}
    close_ns = (np.arange(1, n + 1) * bar_seconds * 1e9).astype(np.int64)
    dt = np.full(n, bar_seconds / (365 * 86400))
    nan = np.full((n, nv), np.nan)
    vol = np.full((n, nv), volume)
    mkt = kernel_market(close_ns, arr["o"], arr["c"], arr["o"], arr["o"], arr["h"], arr["l"], arr["c"], vol, vol,
                        nan, np.zeros((n, nv)), np.zeros((n, 0)), np.zeros((n, 0), bool), dt, nan, nan)
    tiers = tiers or [ONE_TIER] * nv
    k = max(len(t[0]) for t in tiers)
    pad = [np.r_[t[j], np.full(k - len(t[j]), t[j][-1])] for t in tiers for j in range(3)]
    vt = VenueTables(cfg, np.array(pad[0::3]), np.array(pad[1::3]), np.array(pad[2::3]), np.full((nv, k), 25.0))
    state = State(acct.copy(), np.zeros(0), np.zeros(0), np.zeros((1, 3)), arr["o"][0].copy(), arr["o"][0].copy())
    rec = Records(np.full(n, np.nan), np.zeros((n, N_PNL)), np.zeros((n, nv, N_REC)), np.zeros((n, 0)), np.zeros(n),
                  np.zeros(n), np.zeros((nv + 1, N_PNL)))
    ledger = Ledger(np.zeros((256, 4), np.int64), np.zeros(256), np.zeros(1, np.int64))
    liq = np.full((8 * nv, N_LIQ), -1.0)
    stop, _ = advance(state, vt, mkt, rec, ledger, 0, n, liq, 0)
    rows = liq[liq[:, Q_VENUE] >= 0]
    kinds = [LEDGER_KINDS[int(x)] for x in ledger.keys[:ledger.count[0], L_KIND]]
    # the twin, from the same book written as dicts
    r_acct = [dict(cash=a[A_CASH], spot=0.0, qty=a[A_QTY], entry=a[A_ENTRY], iso=a[A_ISO], fund=a[A_FUND])
              for a in acct]
    r_cfg = [dict(liq_fee=0.0, taker=0.0, haircut=0.0, spot_coll=False, isolated=c[C_ISOLATED] > 0.5,
                  home=v - int(c[C_HOME_OFF]), book=True, slice=c[C_SLICE], slice_above=c[C_SLICE_ABOVE],
                  cooldown_s=c[C_COOLDOWN_S], backstop=c[C_BACKSTOP], slip=c[C_SLIP], slip_impact=c[C_SLIP_IMPACT])
             for v, c in enumerate(cfg)]
    r_mkt = {"mark_open": arr["o"].tolist(), "mark_high": arr["h"].tolist(), "mark_low": arr["l"].tolist(),
             "mark_close": arr["c"].tolist(), "spot_close": arr["c"].tolist(), "funding_rate": nan.tolist(),
             "lend_apy": np.zeros((n, 0)).tolist(), "funding_px": arr["c"].tolist(), "dt_years": dt.tolist(),
             "prev_spot": arr["o"][0].tolist(), "prev_mark": arr["o"][0].tolist(), "lend": [],
             "perp_volume": vol.tolist()}
    out = ref_advance(r_acct, r_cfg, [tuple(list(x) for x in t) for t in tiers], r_mkt, 0, n)
    assert stop == len(out)
    for i, (equity, parts, _liqs) in enumerate(out):
        assert math.isclose(rec.equity[i], equity, rel_tol=1e-9, abs_tol=1e-6), i
        assert math.isclose(rec.pnl[i, P_LIQUIDATION], parts["liquidation"], abs_tol=1e-6)
        assert math.isclose(rec.pnl[i, P_SLIPPAGE], parts["slippage"], abs_tol=1e-6)
    twin_rows = out[-1][2]
    assert len(twin_rows) == len(rows)
    for r, (v, q, px, fee, _ins, _soc, kind) in zip(rows, twin_rows, strict=True):
        assert (int(r[Q_VENUE]), r[Q_QTY], LIQ_KINDS[int(r[Q_KIND])]) == (v, pytest.approx(q, abs=1e-9), kind)
        assert r[Q_PRICE] == pytest.approx(px, abs=1e-6) and r[Q_FEE] == pytest.approx(fee, abs=1e-6)
    return state, rec, rows, kinds


def bar(*slots):
    return list(slots)


def mechanisms(rows):
    """The mechanism of each liquidation row (its LIQ_KIND label)."""
    return [LIQ_KINDS[int(k)] for k in rows[:, Q_KIND]]


# -- maintenance from the margin table, and the documented liquidation price ------------------------------------------

def test_maintenance_at_a_tier_boundary_from_hyperliquids_eth_table():
    t = load_venue("hyperliquid", at="2025-06-01").tier_table("ETH")        # 25x to 100M, then 15x
    floor, rate, amount = (x.reshape(1, -1) for x in (t.floor, t.rate, t.amount))
    # at 100M exactly, the upper tier: 100M / 30 - 100M x (1/30 - 1/50) = 2,000,000 = 100M x 2 % just below it
    for qty, px, want in ((-40_000.0, 2_500.0, 2_000_000.0),                  # 100M: the boundary
                          (-39_999.0, 2_500.0, 99_997_500.0 * 0.02),          # just below: 25x
                          (-60_000.0, 2_500.0, 150e6 / 30 - 1e8 * (1 / 30 - 1 / 50))):   # 150M: 15x, deducted
        got = maintenance_margin_at(qty, px, floor, rate, amount, 0, False)
        assert got == pytest.approx(want, rel=1e-12)
        assert ref_k.maintenance_margin(abs(qty) * px, list(t.floor), list(t.rate), list(t.amount)) == \
            pytest.approx(want, rel=1e-12)
    # in a run: the record of a 150M short is that maintenance (kernel and twin over the same bar)
    acct = np.zeros((1, N_ACCT))
    acct[0, A_CASH], acct[0, A_QTY], acct[0, A_ENTRY] = 20e6, -60_000.0, 2_500.0
    _, rec, rows, _ = both(acct, hl_cfg(1), [bar((2500.0, 2500.0, 2500.0, 2500.0))],
                           tiers=[(t.floor, t.rate, t.amount)])
    assert len(rows) == 0 and rec.venue[0, 0, R_MAINT] == pytest.approx(3_666_666.6667, abs=1e-3)


@pytest.mark.parametrize("side, wallet", [(-1, 3_000.0), (1, 3_000.0)])
def test_liquidation_price_is_the_documented_formula(side, wallet):
    # 10 ETH at entry 3,000, now 3,100; one tier at 25x, l = 1 / (2 x 25) = 0.02. The documented formula:
    # liq = price - side x margin_available / size / (1 - l x side), margin_available = account value - MM
    size, entry, price = 10.0, 3_000.0, 3_100.0
    account_value = wallet + side * size * (price - entry)
    margin_available = account_value - size * price * L
    want = price - side * margin_available / size / (1 - L * side)
    acct = np.zeros((1, N_ACCT))
    acct[0, A_CASH], acct[0, A_QTY], acct[0, A_ENTRY] = wallet, side * size, entry
    _, rec, rows, _ = both(acct, hl_cfg(1), [bar((price, price, price, price))])
    assert len(rows) == 0
    assert rec.venue[0, 0, R_LIQ_PX] == pytest.approx(want, rel=1e-12)
    assert ref_k.liquidation_price(wallet, side * size, entry, 0.0, 0.0, *ONE_TIER, ref_px=price) == \
        pytest.approx(want, rel=1e-9)
    # e.g. the short: 3,100 + (3,000 - 1,000 - 620) / 10 / 1.02 = 3,235.29
    if side < 0:
        assert want == pytest.approx(3_100 + 1_380 / 10 / 1.02)


# -- a book liquidation: no fee, the trader keeps the rest ------------------------------------------------------------

def test_a_small_book_liquidation_pays_no_fee_and_leaves_the_margin():
    # short 10 @ 3,000 (30k notional: one order), wallet 1,500; the mark walks 3,000 -> 3,200 within the hour.
    # breach: 1,500 - 10 (M - 3,000) = 0.02 x 10 M  ->  M* = 31,500 / 10.2 = 3,088.2353
    # slippage 0.1 % fixed + 1 % x sqrt(10 / 1,000) = 0.2 %: bought back at M* x 1.002, no fee;
    # the trader keeps 0.2 M* - 10 x 0.002 M* = 0.18 M* = 555.88
    m_star = 31_500 / 10.2
    acct = np.zeros((1, N_ACCT))
    acct[0, A_CASH], acct[0, A_QTY], acct[0, A_ENTRY] = 1_500.0, -10.0, 3_000.0
    state, rec, rows, kinds = both(acct, hl_cfg(1, slip=0.001, impact=0.01),
                                   [bar((3000.0, 3200.0, 3000.0, 3100.0))], volume=1_000.0)
    assert len(rows) == 1 and rows[0][Q_QTY] == -10.0 and rows[0][Q_FEE] == 0.0 and mechanisms(rows) == ["book"]
    assert rows[0][Q_PRICE] == pytest.approx(m_star * 1.002, rel=1e-9)
    assert state.acct[0, A_QTY] == 0.0
    assert state.acct[0, A_CASH] == pytest.approx(0.18 * m_star, rel=1e-9)                 # 555.88 kept
    assert rec.pnl[0, P_SLIPPAGE] == pytest.approx(-10 * m_star * 0.002, rel=1e-9)
    assert "backstop" not in kinds and kinds.count("realized_pnl") == 1


# -- 20 % slices with a 30 s cooldown: at 1h bars the book keeps up, at 1m bars the vault takes over ----------------

def big_short():
    acct = np.zeros((1, N_ACCT))
    acct[0, A_CASH], acct[0, A_QTY], acct[0, A_ENTRY] = 12_000.0, -100.0, 3_000.0      # 300k notional
    return acct


def test_slices_of_20_pct_at_1h_bars_each_at_its_own_breach():
    # The mark walks 3,000 -> 3,300 over the hour; 30 s is 1/120 of it (2.5 of price), shorter than the gap between
    # two breaches, so each order goes where the account breaches again. With wallet W and short Q left, the
    # breach is M = (W + 3,000 Q) / (1.02 Q); each order buys back 20 (20 % of the 100 it began with):
    #   Q 100, W 12,000.00 -> M 3,058.8235;  Q 80, W 10,823.53 -> M 3,073.8178;  Q 60, W 9,347.17 -> M 3,093.9081;
    #   Q 40 (125k > 100k), W 7,469.01 -> M 3,124.2405;  Q 20 (63.7k <= 100k: the rest at once), W 4,984.20 ->
    #   M 3,185.5001; left to the trader: 4,984.20 - 20 x 185.5001 = 1,274.20 (no fee, no slippage here)
    state, rec, rows, kinds = both(big_short(), hl_cfg(1), [bar((3000.0, 3300.0, 3000.0, 3200.0))])
    assert rows[:, Q_QTY].tolist() == [-20.0] * 5
    assert rows[:, Q_PRICE] == pytest.approx([3058.823529, 3073.817762, 3093.908075, 3124.240507, 3185.500124],
                                             abs=1e-5)
    # four orders leave a rest open (slices), the fifth sells what is left (under 100k: at once)
    assert mechanisms(rows) == ["book_slice"] * 4 + ["book"] and state.acct[0, A_QTY] == 0.0
    assert state.acct[0, A_CASH] == pytest.approx(1_274.200050, abs=1e-5)
    assert "backstop" not in kinds


def test_at_1m_bars_the_cooldown_lets_the_vault_take_over():
    # The same walk in one minute: 30 s is half the bar. The first 20 goes at 3,058.8235 (lam 0.196); the next may
    # go only at lam 0.696 (3,208.8); before that, with 80 left and wallet 10,823.53, the balance falls below 2/3 of
    # maintenance: 10,823.53 - 80 (M - 3,000) = (2/3) 0.02 x 80 M  ->  M = 250,823.53 / 81.0667 = 3,094.0402.
    # The vault takes the 80 at that mark and the wallet left there, 3,300.31 (= 2/3 of maintenance): nothing back.
    state, rec, rows, kinds = both(big_short(), hl_cfg(1), [bar((3000.0, 3300.0, 3000.0, 3200.0))],
                                   bar_seconds=MINUTE)
    assert rows[:, Q_QTY].tolist() == [-20.0, -80.0]
    assert mechanisms(rows) == ["book_slice", "backstop"]
    assert rows[1][Q_PRICE] == pytest.approx(3_094.040248, abs=1e-5)
    assert rows[1][Q_FEE] == pytest.approx(3_300.309598, abs=1e-5)          # the margin the vault took
    assert state.acct[0, A_CASH] == 0.0 and state.acct[0, A_QTY] == 0.0
    assert kinds.count("backstop") == 1
    assert rec.pnl[0, P_LIQUIDATION] == pytest.approx(-3_300.309598, abs=1e-5)


def test_the_wait_carries_into_the_next_bar():
    # 1m bars, a walk 3,000 -> 3,090: the breach at 3,058.8235 is lam 58.8235 / 90 = 0.6536 of the bar: one order
    # there; the next may not go before lam 1.1536, 0.1536 of a bar into the next one (A_WAIT). The vault's line
    # with 80 left (3,094.04) is beyond this bar's high, so nothing else happens in it.
    state, rec, rows, kinds = both(big_short(), hl_cfg(1), [bar((3000.0, 3090.0, 3000.0, 3090.0))],
                                   bar_seconds=MINUTE)
    assert rows[:, Q_QTY].tolist() == [-20.0] and state.acct[0, A_QTY] == -80.0
    assert state.acct[0, A_WAIT] == pytest.approx(58.823529 / 90 + 0.5 - 1.0, abs=1e-6)


# -- the backstop takes every cross leg --------------------------------------------------------------------------------

def two_legs():
    # one cross account: wallet 2,000; ETH short 10 @ 2,000, BTC short 0.5 @ 40,000 (BTC flat at 40,000); 25x both
    acct = np.zeros((2, N_ACCT))
    acct[0, A_CASH] = 2_000.0
    acct[0, A_QTY], acct[0, A_ENTRY] = -10.0, 2_000.0
    acct[1, A_QTY], acct[1, A_ENTRY] = -0.5, 40_000.0
    return acct


def test_the_backstop_takes_every_cross_leg_and_the_margin():
    # balance 2,000 - 10 (E - 2,000) = 22,000 - 10 E; level 0.02 (10 E + 20,000) = 0.2 E + 400
    # breach at E = 21,600 / 10.2 = 2,117.65; the vault's line (2/3 of the level) at E = 21,733.33 / 10.1333 =
    # 2,144.74. ETH opens at 2,160 (gapped past both): the vault takes ETH at 2,160 and BTC at 40,000 and the wallet
    # left, 2,000 - 1,600 = 400. Nothing comes back.
    state, rec, rows, kinds = both(two_legs(), hl_cfg(2, homes=[0, 0]),
                                   [bar((2160.0, 2200.0, 2160.0, 2180.0), (40000.0,) * 4)])
    assert sorted(rows[:, Q_VENUE].tolist()) == [0.0, 1.0] and mechanisms(rows) == ["backstop", "backstop"]
    assert rows[0][Q_PRICE] == 2160.0 and rows[1][Q_PRICE] == 40000.0 and rows[0][Q_FEE] == pytest.approx(400.0)
    assert state.acct[:, A_QTY].tolist() == [0.0, 0.0] and state.acct[0, A_CASH] == 0.0
    assert kinds.count("backstop") == 1


def test_between_the_two_lines_the_book_closes_both_legs_and_the_rest_is_the_traders():
    # ETH opens at 2,130: past the breach (2,117.65), not past the vault's line (2,144.74): both legs are sold into
    # the book at once (each under 100k), no fee: the wallet keeps 2,000 - 1,300 = 700
    state, rec, rows, kinds = both(two_legs(), hl_cfg(2, homes=[0, 0]),
                                   [bar((2130.0, 2140.0, 2130.0, 2135.0), (40000.0,) * 4)])
    assert mechanisms(rows) == ["book", "book"] and rows[:, Q_FEE].tolist() == [0.0, 0.0]
    assert state.acct[0, A_CASH] == pytest.approx(700.0) and "backstop" not in kinds


def test_an_isolated_position_is_taken_alone_with_its_margin():
    # BTC isolated with 1,000 of margin, ETH cross on a 2,000 wallet; BTC's mark opens at 43,000: 1,000 - 0.5 x 3,000
    # = -500, below its 2/3 line: the vault takes the BTC short and its margin (a deficit of 500 here: the symbol's
    # fund is 0 on Hyperliquid, so it is socialized); ETH (flat at 2,000) and the cross wallet are untouched
    acct = two_legs()
    acct[1, A_ISO] = 1_000.0
    state, rec, rows, kinds = both(acct, hl_cfg(2, homes=[0, 0], isolated=[1]),
                                   [bar((2000.0,) * 4, (43000.0, 43500.0, 43000.0, 43000.0))])
    assert rows[:, Q_VENUE].tolist() == [1.0] and mechanisms(rows) == ["backstop"] and rows[0][Q_FEE] == 0.0
    assert state.acct[1, A_ISO] == 0.0 and state.acct[1, A_QTY] == 0.0
    assert state.acct[0, A_CASH] == 2_000.0 and state.acct[0, A_QTY] == -10.0
    assert kinds.count("socialized") == 1


def test_ledger_kinds_of_a_book_liquidation():
    assert LEDGER_KINDS[K_BACKSTOP] == "backstop"
    assert LIQ_KINDS[LK_BACKSTOP] == "backstop" and LIQ_KINDS == ("full", "partial", "book", "book_slice", "backstop")
    assert (K_REALIZED, K_LIQ_FEE) == (LEDGER_KINDS.index("realized_pnl"), LEDGER_KINDS.index("liquidation_fee"))


# -- ADL at the previous mark (venue events, engine/venue_events.py) ----------------------------------------------------

def _adl_run(venue: str, kind: str):
    """1 ETH short filled at 3,000 (the open of bar 1); the mark falls to 2,800 by the close of bar 3 (the short is
    in profit) and a bankruptcy of longs (or a scheduled ADL) is stamped at bar 4's open with price 2,700."""
    import pandas as pd

    from basisbt.data.dataset import Dataset
    from basisbt.data.venue_events import VenueEvent
    from basisbt.engine.config import RunConfig
    from tests.helpers import T0, ShortOnce, bars
    from tests.runs import run_backtest
    b = bars([3000.0, 3000.0, 2900.0, 2800.0, 2800.0, 2800.0])
    t = T0 + pd.Timedelta(hours=4)
    ev = (VenueEvent("bankruptcy", venue, t, price=2700.0, side="long", qty=5.0, loss=1e6) if kind == "bankruptcy"
          else VenueEvent("adl", venue, t, fraction=1.0, price=2700.0))
    ds = Dataset("adl", "ETH/USDT", "1h", {venue: b}, {venue: b}, venue_events=(ev,))
    return run_backtest(ShortOnce(venue), ds, RunConfig(slippage=0.0, initial_capital=10_000.0))


@pytest.mark.parametrize("kind", ["bankruptcy", "adl"])
def test_hyperliquid_deleverages_at_the_previous_mark(kind):
    # Hyperliquid: no insurance fund for liquidations (0), so the longs' whole deficit is deleveraged from profitable
    # shorts: ours, 1 ETH, closed at the previous mark, bar 3's close 2,800 (not the bankrupt's 2,700): +200
    res = _adl_run("hyperliquid", kind)
    rows = res.venue_events[res.venue_events["kind"] == "adl"]
    assert rows["price"].tolist() == [2800.0] and rows["qty"].tolist() == [1.0]
    assert rows["amount"].tolist() == [pytest.approx(200.0)]
    if kind == "bankruptcy":
        assert any("at the previous mark 2,800.00" in line for line in res.log)


def test_binance_deleverages_at_the_event_price_or_its_fund_pays():
    res = _adl_run("binance", "adl")                        # a scheduled ADL at 2,700: +300
    rows = res.venue_events[res.venue_events["kind"] == "adl"]
    assert rows["price"].tolist() == [2700.0] and rows["amount"].tolist() == [pytest.approx(300.0)]
    res = _adl_run("binance", "bankruptcy")                  # Binance's ETH fund (1e8) pays the 1e6: no ADL
    assert (res.venue_events["kind"] == "adl").sum() == 0
