"""Properties over random paths and random order sequences: conservation, no phantom positions, determinism."""
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from basisbt.engine.config import RunConfig
from basisbt.strategies.base import Strategy
from tests.helpers import T0, bars, dataset, funding
from tests.runs import run_backtest


class RandomTrader(Strategy):
    """Trades random sizes of spot and perp on random venues; moves cash between venues now and then."""
    name = "random_trader"

    def __init__(self, seed: int = 0, **kw):
        super().__init__(**kw)
        self.rng = np.random.default_rng(seed)

    def on_bar(self, ctx, ev):
        r = self.rng
        v = ctx.venues[r.integers(len(ctx.venues))]
        if r.random() < 0.5:
            ctx.order(v, "perp", float(r.normal(0, 5)))
        if r.random() < 0.3:
            ctx.order(v, "spot", float(r.normal(2, 5)))
        if len(ctx.venues) > 1 and r.random() < 0.1:
            ctx.move_collateral(ctx.venues[0], ctx.venues[1], float(r.uniform(0, 5000)))


def random_dataset(seed: int, n: int, venues=("binance", "bybit")):
    rng = np.random.default_rng(seed)
    spot, perp, mark = {}, {}, {}
    fund = {}
    for v in venues:
        s = 2000 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
        p = s * (1 + rng.normal(0, 0.002, n))
        spot[v] = bars(s)
        perp[v] = bars(p, high=np.maximum(p, np.r_[p[0], p[:-1]]) * 1.01,
                       low=np.minimum(p, np.r_[p[0], p[:-1]]) * 0.99)
        mark[v] = bars(p)
        k = n // 8
        fund[v] = funding([T0 + pd.Timedelta(hours=8 * (j + 1)) for j in range(k)], rng.normal(0, 0.0005, k))
    return dataset(spot, perp, mark, fund, venues=venues)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(10, 60))
def test_cash_conserved_and_positions_only_move_by_fills(seed, n):
    ds = random_dataset(seed, n)
    res = run_backtest(RandomTrader(seed), ds, RunConfig(initial_capital=50_000.0))
    tl = res.timeline
    # per bar: PnL parts sum to the equity change
    eq = np.r_[res.initial_equity, tl["equity"].to_numpy()]
    parts = tl[[c for c in tl if c.startswith("pnl_")]].sum(axis=1).to_numpy()
    assert np.allclose(np.diff(eq), parts + tl["flows"].to_numpy(), rtol=1e-9, atol=1e-6)
    # ledger sums equal the total PnL plus unrealized value (spot held and open perps at the last marks)
    led = res.ledger
    cash_like = led[~led.kind.isin(["transfer_out", "transfer_in", "lending_supply"])]["amount"].sum()
    transit_net = led[led.kind.isin(["transfer_out", "transfer_in"])]["amount"].sum()
    held = 0.0
    for v in res.venues:
        held += tl[f"{v}:spot_qty"].iloc[-1] * tl[f"{v}:spot_px"].iloc[-1]
    unreal = tl["equity"].iloc[-1] - (cash_like + transit_net + tl["in_transit"].iloc[-1] + held)
    # what is left must be the perps' unrealized PnL at the last mark
    upnl = 0.0
    fills = res.fills
    for v in res.venues:
        q = tl[f"{v}:perp_qty"].iloc[-1]
        if q != 0:
            f = fills[(fills.venue == v) & (fills.instrument == "perp")]
            lq = res.liquidations[res.liquidations.venue == v]
            # replay the entry price independently from fills and liquidations (a liquidation at a close
            # comes before fills at the same instant, which are next-bar opens)
            steps = sorted([(t, 0, None, None) for t in lq.ts] + [(t, 1, dq, px) for t, dq, px in
                                                                 zip(f.ts, f.qty, f.price, strict=True)], key=lambda x: x[:2])
            pos, entry = 0.0, 0.0
            for _, is_fill, dq, px in steps:
                if not is_fill:
                    pos, entry = 0.0, 0.0
                    continue
                new = pos + dq
                if pos == 0 or pos * dq > 0:
                    entry = (pos * entry + dq * px) / new
                elif abs(dq) > abs(pos):
                    entry = px
                pos = new
            upnl += q * (tl[f"{v}:mark_px"].iloc[-1] - entry)
    assert abs(unreal - upnl) <= 1e-6 * max(1.0, abs(res.initial_equity))
    # positions change only at fills or liquidations
    for v in res.venues:
        q = tl[f"{v}:perp_qty"].to_numpy()
        changed = set(tl.index[1:][np.diff(q) != 0])
        fill_bars = set(fills.loc[(fills.venue == v) & (fills.instrument == "perp"), "ts"])
        liq_bars = set(res.liquidations.loc[res.liquidations.venue == v, "ts"])
        # a fill at an open time t shows in the bar closing at t + 1h
        shown = {t + pd.Timedelta(hours=1) for t in fill_bars} | liq_bars
        assert changed <= shown


def test_rerun_is_identical():
    ds = random_dataset(7, 200)
    a = run_backtest(RandomTrader(3), ds)
    b = run_backtest(RandomTrader(3), ds)
    pd.testing.assert_frame_equal(a.timeline, b.timeline, check_exact=True)
    pd.testing.assert_frame_equal(a.ledger, b.ledger, check_exact=True)
    assert a.config_id == b.config_id and a.data_fingerprint == b.data_fingerprint
