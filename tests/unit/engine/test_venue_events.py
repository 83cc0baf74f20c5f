"""Scheduled venue events by hand (issue 15 items 4-5): ADL, halts, defaults, and bad schedule entries.

Every expected number is computed here from the run's own fills, ledger and timeline with the arithmetic
written out; prices are flat where they do not matter, slippage is 0.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from basisbt.data.dataset import Dataset
from basisbt.data.errors import DataError
from basisbt.data.sources import resolve_data
from basisbt.data.venue_events import VenueEvent, parse_venue_events
from basisbt.engine.config import RunConfig
from basisbt.strategies.base import Strategy
from basisbt.strategies.perp_short import PerpShort
from tests.helpers import T0, bars, dataset
from tests.runs import run_backtest

H = pd.Timedelta("1h")
CFG = RunConfig(slippage=0.0, initial_capital=100_000.0)


def crash_data(events: tuple[VenueEvent, ...]) -> Dataset:
    """binance, 10 1h bars: 2000 for bars 0-3, 1900 from bar 4's close on (bar 4 opens at 2000)."""
    close = np.r_[np.full(4, 2000.0), np.full(6, 1900.0)]
    return replace(dataset(bars(close)), venue_events=events)


def adl(price: float, fraction: float = 0.5, at: int = 5) -> VenueEvent:
    return VenueEvent("adl", "binance", T0 + at * H, fraction=fraction, price=price)


def test_adl_reduces_the_short_at_the_stated_price_and_the_hedge_is_restored():
    res = run_backtest(PerpShort(), crash_data((adl(1890.0),)), CFG)
    tl, fills, led = res.timeline, res.fills, res.ledger
    opened = fills[fills["reason"] == "open"]
    q_spot = float(opened.loc[opened["instrument"] == "spot", "qty"].iloc[0])
    q_perp = float(opened.loc[opened["instrument"] == "perp", "qty"].iloc[0])     # -q_spot, at 2000 (bar 1 open)
    entry = float(opened.loc[opened["instrument"] == "perp", "price"].iloc[0])
    assert entry == 2000.0 and q_perp == -q_spot
    b4, b5, b6 = tl.index[4], tl.index[5], tl.index[6]
    assert tl.loc[b4, "binance:perp_qty"] == q_perp
    # ADL at bar 5's open: half of the short bought back at 1890 -> perp -q/2 at bar 5's close
    assert tl.loc[b5, "binance:perp_qty"] == pytest.approx(0.5 * q_perp, rel=1e-15)
    # realized = closed qty x (entry - price) = (q/2) x (2000 - 1890) = 55 q, ledger kind 'adl', no fee row
    row = led[led["kind"] == "adl"]
    assert len(row) == 1 and row["ts"].iloc[0] == T0 + 5 * H
    assert row["amount"].iloc[0] == pytest.approx(0.5 * q_spot * (2000.0 - 1890.0), rel=1e-12)
    assert not ((led["ts"] == T0 + 5 * H) & (led["kind"] == "fee")).any()
    # the equity of bar 5 moves only by the close below the mark: prices flat at 1900, the bought-back half
    # gains (1900 - 1890) per unit against the mark it was valued at: 0.5 q x 10
    assert tl.loc[b5, "equity"] - tl.loc[b4, "equity"] == pytest.approx(0.5 * q_spot * 10.0, rel=1e-9)
    # the strategy heard it at bar 5's close and shorted the deleveraged half again at bar 6's open
    restore = fills[fills["reason"] == "restore hedge after ADL"]
    assert len(restore) == 1 and restore["ts"].iloc[0] == T0 + 6 * H
    assert restore["qty"].iloc[0] == pytest.approx(0.5 * q_perp, rel=1e-12)
    assert tl.loc[b6, "binance:perp_qty"] == pytest.approx(q_perp, rel=1e-12)
    assert tl.loc[b6, "binance:spot_qty"] == q_spot
    assert list(res.venue_events["kind"]) == ["adl"] and res.venue_events["price"].iloc[0] == 1890.0
    assert any("ADL binance" in line and "closed" in line for line in res.log)


def test_adl_of_a_losing_position_does_nothing():
    # the short's entry is 2000: at 2100 it is at a loss, so the venue does not deleverage it
    res = run_backtest(PerpShort(), crash_data((adl(2100.0),)), CFG)
    base = run_backtest(PerpShort(), crash_data(()), CFG)
    assert (res.ledger["kind"] == "adl").sum() == 0
    assert np.array_equal(res.timeline["binance:perp_qty"].to_numpy(), base.timeline["binance:perp_qty"].to_numpy())
    assert np.array_equal(res.timeline["equity"].to_numpy(), base.timeline["equity"].to_numpy())
    assert len(res.venue_events) == 0
    assert any("not in profit, nothing closed" in line for line in res.log)


class BuyEveryBar(Strategy):
    """Buys 1 ETH of spot on binance at every decision; moves 1,000 to bybit at the first one."""
    name = "buy_every_bar"

    def __init__(self, move: bool = False, **kw) -> None:
        super().__init__(**kw)
        self.move = move
        self.rejects: list = []
        self.halts: list = []

    def initial_allocation(self, venues):
        return {"binance": 1.0}

    def on_bar(self, ctx, ev):
        if self.move:
            ctx.move_collateral("binance", "bybit", 1_000.0)
            self.move = False
        else:
            ctx.order("binance", "spot", 1.0, "buy")

    def on_reject(self, ctx, ev):
        self.rejects.append(ev)

    def on_venue_halt(self, ctx, ev):
        self.halts.append(ev)


def test_halted_venue_refuses_orders_and_counts_them():
    # halt of binance trading from T0+1h to T0+3h: the orders filling at the opens of bars 1 and 2 are
    # refused (2), the ones of bars 3..7 fill (5); the decision at the last bar places one that never fills
    halt = VenueEvent("halt", "binance", T0 + H, end=T0 + 3 * H, stop_trading=True, stop_withdrawals=False)
    ds = replace(dataset(bars(np.full(8, 2000.0))), venue_events=(halt,))
    strat = BuyEveryBar()
    res = run_backtest(strat, ds, CFG)
    assert res.orders_rejected == {"binance spot refused: venue halted": 2}
    assert res.metrics()["orders_rejected_total"] == 2
    assert list(res.fills["ts"]) == [T0 + k * H for k in range(3, 8)]
    assert [e.why for e in strat.rejects] == ["venue halted", "venue halted"]
    assert [(e.phase, e.venue) for e in strat.halts] == [("start", "binance"), ("end", "binance")]


def test_transfer_to_a_halted_venue_waits_for_the_end_of_the_halt():
    # 15m bars; binance's withdrawal delay is 30 min. The 1,000 sent at bar 1's open (T0+15m) would arrive at
    # T0+45m (bar 2's close), but bybit halts withdrawals from T0+30m (bar 2's open) to T0+2h: the money in
    # flight arrives at the first close >= T0+2h, bar 7's close, and is in transit until then.
    m15 = pd.Timedelta("15min")
    halt = VenueEvent("halt", "bybit", T0 + 2 * m15, end=T0 + 2 * H, stop_trading=False, stop_withdrawals=True)
    spot = bars(np.full(12, 2000.0), freq="15min")
    ds = Dataset("hand15", "ETH/USDT", "15m", {"binance": spot, "bybit": spot}, {"binance": spot, "bybit": spot},
                 venue_events=(halt,))
    res = run_backtest(BuyEveryBar(move=True), ds, CFG)
    led = res.ledger
    arrived = led[(led["kind"] == "transfer_in") & (led["venue"] == "bybit")]
    assert list(arrived["ts"]) == [T0 + 2 * H] and arrived["amount"].iloc[0] == 1_000.0
    tl = res.timeline
    in_transit = tl["in_transit"].to_numpy()
    assert (in_transit[1:7] == 1_000.0).all() and in_transit[7] == 0.0     # bars 1..6 closes, then arrived
    # without the halt it arrives at bar 2's close (T0+45m)
    free = run_backtest(BuyEveryBar(move=True), replace(ds, venue_events=()), CFG)
    fl = free.ledger
    assert list(fl.loc[(fl["kind"] == "transfer_in") & (fl["venue"] == "bybit"), "ts"]) == [T0 + 3 * m15]


def test_transfer_out_of_a_venue_halting_withdrawals_is_refused():
    halt = VenueEvent("halt", "binance", T0, end=T0 + 3 * H, stop_trading=False, stop_withdrawals=True)
    spot = bars(np.full(6, 2000.0))
    ds = Dataset("hand", "ETH/USDT", "1h", {"binance": spot, "bybit": spot}, {"binance": spot, "bybit": spot},
                 venue_events=(halt,))
    strat = BuyEveryBar(move=True)
    res = run_backtest(strat, ds, CFG)
    assert res.orders_rejected == {"binance transfer refused: venue halted": 1}
    assert not (res.ledger["kind"] == "transfer_out").any()
    assert strat.rejects[0].instrument == "transfer"


def test_venue_default_loses_exactly_one_minus_recovery_of_the_balance():
    # perp_short (spot collateral) on bybit, all capital there; binance holds nothing. bybit defaults at
    # T0+5h (bar 5's open): positions closed at 1950 while everything trades flat at 2000; 60 % of the
    # balance comes back on binance 2 h later.
    recovery, px = 0.6, 1950.0
    default = VenueEvent("default", "bybit", T0 + 5 * H, price=px, recovery=recovery, delay_h=2.0)
    spot = bars(np.full(10, 2000.0))
    ds = Dataset("hand", "ETH/USDT", "1h", {"binance": spot, "bybit": spot}, {"binance": spot, "bybit": spot},
                 venue_events=(default,))
    res = run_backtest(PerpShort(venue="bybit"), ds, CFG)
    tl, led, fills = res.timeline, res.ledger, res.fills
    t_def = T0 + 5 * H
    b4, b5 = tl.index[4], tl.index[5]
    # the balance at the default, by hand from the records of bar 4 (the close just before):
    #   cash  = every ledger row of bybit before the default (deposit, spot bought, fees, ...)
    #   spot  = spot_qty x 2000 (bar 5's spot open), perp PnL = perp_qty x (1950 - entry)
    before = led[(led["venue"] == "bybit") & (led["ts"] < t_def)]
    cash = before["amount"].sum()
    spot_qty, perp_qty = tl.loc[b4, "bybit:spot_qty"], tl.loc[b4, "bybit:perp_qty"]
    entry = float(fills.loc[(fills["instrument"] == "perp"), "price"].iloc[0])
    balance = cash + spot_qty * 2000.0 + perp_qty * (px - entry)
    assert spot_qty > 0 and perp_qty == -spot_qty and entry == 2000.0
    lost = (1.0 - recovery) * balance
    rows = led[led["ts"] == t_def]
    assert rows.loc[rows["kind"] == "default_loss", "amount"].sum() == pytest.approx(-lost, rel=1e-12)
    assert rows.loc[rows["kind"] == "transfer_out", "amount"].sum() == pytest.approx(-recovery * balance, rel=1e-12)
    # equity at bar 5 vs bar 4: the venue held cash + spot x 2000 + perp_qty x (2000 - entry) (valued at the
    # mark); what is left is recovery x balance in transit. Change = recovery x B - (B - perp_qty x (1950 -
    # 2000)) = -(1 - recovery) x B + perp_qty x (1950 - 2000) -- the short bought back at 1950 under the mark
    # 2000 gains 50 per unit, nothing else moves (flat prices, no funding rows)
    d_eq = tl.loc[b5, "equity"] - tl.loc[b4, "equity"]
    assert d_eq == pytest.approx(-lost - perp_qty * (2000.0 - px), rel=1e-9)
    assert tl.loc[b5, "pnl_liquidation"] == pytest.approx(-lost, rel=1e-12)
    # ... and no more: the rest arrives on binance at T0+7h and the equity stays put to the end
    arrived = led[(led["kind"] == "transfer_in") & (led["venue"] == "binance")]
    assert list(arrived["ts"]) == [T0 + 7 * H]
    assert arrived["amount"].iloc[0] == pytest.approx(recovery * balance, rel=1e-12)
    assert tl["equity"].iloc[-1] == pytest.approx(tl.loc[b5, "equity"], rel=1e-12)
    assert (tl["bybit:spot_qty"].iloc[5:] == 0).all() and (tl["bybit:perp_qty"].iloc[5:] == 0).all()


BAD = [
    ({"kind": "adl", "venue": "kraken", "time": "2025-01-01T05:00:00Z", "fraction": 0.5, "price": 1.0},
     r"d\.toml: \[\[venue_events\]\] entry 1 \(adl\): unknown venue 'kraken'"),
    ({"kind": "adl", "venue": "binance", "time": "2025-01-01T05:00:00Z", "fraction": 1.5, "price": 1.0},
     r"entry 1 \(adl\): fraction 1.5 outside \(0, 1\]"),
    ({"kind": "adl", "venue": "binance", "time": "2025-01-01T05:00:00Z", "fraction": 0.0, "price": 1.0},
     r"fraction 0.0 outside \(0, 1\]"),
    ({"kind": "halt", "venue": "binance", "start": "2025-01-01T05:00:00Z", "end": "2025-01-01T04:00:00Z"},
     r"entry 1 \(halt\): end 2025-01-01T04:00:00\+00:00 is not after start"),
    ({"kind": "default", "venue": "binance", "time": "2025-01-01T05:00:00Z", "price": 1.0, "recovery": 1.2},
     r"recovery 1.2 outside \[0, 1\]"),
    ({"kind": "crash", "venue": "binance"}, r"kind must be one of adl, halt, default"),
    ({"kind": "adl", "venue": "binance", "time": "2025-01-01 05:00", "fraction": 0.5, "price": 1.0},
     r"has no time zone"),
]


@pytest.mark.parametrize("entry, message", BAD)
def test_bad_schedule_entries_name_the_file_and_entry(entry, message):
    with pytest.raises(DataError, match=message) as e:
        parse_venue_events([entry], ["binance", "bybit"], "d.toml")
    assert "\n" not in str(e.value)


def test_dataset_toml_reads_venue_events_and_refuses_bad_ones(tmp_path):
    bars(np.full(6, 2000.0)).to_parquet(tmp_path / "spot.parquet")
    head = 'symbol = "ETH/USDT"\ntimeframe = "1h"\n[venues.binance]\nspot = "spot.parquet"\nperp = "spot.parquet"\n'
    good = head + ('[[venue_events]]\nkind = "adl"\nvenue = "binance"\ntime = 2025-01-01T03:00:00Z\n'
                   'fraction = 0.25\nprice = 1900.0\n')
    (tmp_path / "d.toml").write_text(good)
    ds = resolve_data(str(tmp_path / "d.toml"))
    assert ds.venue_events == (VenueEvent("adl", "binance", T0 + 3 * H, fraction=0.25, price=1900.0),)
    # the schedule is part of the data: it changes the fingerprint (and an empty one does not)
    assert ds.fingerprint() != replace(ds, venue_events=()).fingerprint()
    (tmp_path / "bad.toml").write_text(good.replace("fraction = 0.25", "fraction = 2.0") +
                                       '[[venue_events]]\nkind = "halt"\nvenue = "okx"\n')
    with pytest.raises(DataError, match=r"bad\.toml: \[\[venue_events\]\] entry 1 \(adl\): fraction 2.0 outside"):
        resolve_data(str(tmp_path / "bad.toml"))
