"""The vectorbt side of `make bench-peers` (runs under .venv-peers/bin/python; no basisbt imports).

Reads the .npz written by benchmarks/peers.py (one venue's spot and perp closes, its funding rows mapped to
bars, the rule's constants) and runs the rule vectorbt can express with `Portfolio.from_order_func` and numba
callbacks: one group of two columns (spot, perp) sharing cash; at every decision bar (every 60th bar) order
spot to a TARGET AMOUNT of +q and the perp to -q at that bar's close (taker fees per column, no slippage);
at each funding settlement bar, before the orders, book -perp_position x rate x mark_price into the shared
cash. NOT done here (our engine does all of these): margin tiers and maintenance margin, liquidation checks
on mark highs/lows, spot as perp collateral, lending yield, next-open fills, 3 venues.

Prints ONE line of JSON: wall seconds (best of --repeats, after a warm-up on a prefix that compiles the
callbacks), events (bars x 2 streams + funding rows), the final PnL three ways (vectorbt's simulation state,
vectorbt's Portfolio records + the funding the callback booked, and a numpy closed form of the same rule).
Two modes: `every_bar` (segment_mask all True: the callbacks run on every bar, as a loop that checks
something each bar would) and `decisions` (segment_mask only on decision/settlement bars).
"""
from __future__ import annotations

import argparse
import json
import sys
import time

try:
    import numpy as np
    import vectorbt as vbt
    from numba import njit
    from vectorbt.portfolio import nb as pnb
    from vectorbt.portfolio.enums import Direction, SizeType
except Exception as e:  # noqa: BLE001 -- reported as one line by the caller
    print(json.dumps({"error": f"cannot import vectorbt: {type(e).__name__}: {e}"}))
    sys.exit(3)


@njit
def pre_segment_nb(c, funding, booked):
    """Funding at a settlement bar: the short perp (column 1) receives -position x rate x mark."""
    f = funding[c.i]
    if f != 0.0:
        pos = c.last_position[c.from_col + 1]
        cash = -pos * f
        c.last_cash[c.group] += cash
        c.last_free_cash[c.group] += cash
        booked[0] += cash
    return ()


@njit
def order_nb(c, every, target, fees):
    """Every `every`-th bar (at its close): spot to +target, perp to -target; nothing on other bars."""
    if c.i % every != every - 1:
        return pnb.NoOrder
    col = c.col - c.from_col
    size = target if col == 0 else -target
    return pnb.order_nb(size=size, price=np.inf, size_type=SizeType.TargetAmount,
                        direction=Direction.Both, fees=fees[col])


@njit
def post_segment_nb(c, final):
    """The simulation's own group value at the last bar (cash includes the funding booked above)."""
    if c.i == c.target_shape[0] - 1:
        final[0] = c.last_value[c.group]


def run_vbt(close: np.ndarray, funding: np.ndarray, mask: np.ndarray, cash: float, every: int, target: float,
            fees: np.ndarray) -> tuple:
    booked, final = np.zeros(1), np.full(1, np.nan)
    pf = vbt.Portfolio.from_order_func(
        close, order_nb, every, target, fees,
        init_cash=cash, cash_sharing=True, group_by=np.zeros(2, dtype=np.int64),
        segment_mask=mask, pre_segment_func_nb=pre_segment_nb, pre_segment_args=(funding, booked),
        post_segment_func_nb=post_segment_nb, post_segment_args=(final,), call_post_segment=True,
        fill_pos_record=False, ffill_val_price=True)
    return pf, float(booked[0]), float(final[0])


def closed_form(spot: np.ndarray, perp: np.ndarray, funding: np.ndarray, cash: float, every: int, target: float,
                fees: np.ndarray) -> float:
    """The same rule in numpy: the first decision bar d opens both legs at its close; later targets are
    already met, so no trades; funding accrues at every settlement bar after d (the legs are flat before)."""
    d = every - 1
    c = cash - target * spot[d] * (1.0 + fees[0]) + target * perp[d] * (1.0 - fees[1])
    return float(c + target * spot[-1] - target * perp[-1] + target * funding[d + 1:].sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("npz")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    z = np.load(a.npz)
    spot, perp = z["spot_close"], z["perp_close"]
    n = spot.size
    funding = np.zeros(n)                              # rate x mark_price at each settlement bar
    np.add.at(funding, z["funding_bar"], z["funding_rate"] * z["funding_mark"])
    cash, every, target = float(z["cash"]), int(z["every"]), float(z["target"])
    fees = np.asarray(z["fees"], dtype=np.float64)
    close = np.column_stack([spot, perp])
    decide = (np.arange(n) % every == every - 1) | (funding != 0.0)
    masks = {"every_bar": np.ones((n, 1), dtype=np.bool_), "decisions": decide[:, None].copy()}
    events = 2 * n + int(z["funding_bar"].size)
    expect = closed_form(spot, perp, funding, cash, every, target, fees)

    w = min(n, 2000)                                   # warm-up: compiles the callbacks and simulate_nb
    for m in masks.values():
        pf, _, _ = run_vbt(close[:w], funding[:w], m[:w], cash, every, target, fees)
        pf.final_value()
    out: dict = {"vectorbt": vbt.__version__, "bars": n, "events": events, "closed_form_pnl": expect - cash}
    for name, m in masks.items():
        times, res = [], None
        for _ in range(a.repeats):
            t = time.perf_counter()
            pf, booked, final = run_vbt(close, funding, m, cash, every, target, fees)
            records_value = float(pf.final_value())
            times.append(time.perf_counter() - t)
            res = (pf, booked, final, records_value)
        pf, booked, final, records_value = res
        out[name] = {"s": min(times), "events_per_s": events / min(times), "n_orders": int(pf.orders.count()),
                     "funding_booked": booked, "sim_pnl": final - cash,
                     "records_plus_funding_pnl": records_value + booked - cash,
                     "pnl_matches_closed_form": bool(abs(final - expect) <= 1e-6 * cash and
                                                     abs(records_value + booked - expect) <= 1e-6 * cash)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
