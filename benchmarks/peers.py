"""`make bench-peers`: our engine against vectorbt on the same series and (reduced) decision rule, one run.

Our side (this script, under .venv): builds `make bench`'s year (benchmarks/synth.build_year: 525,600 1m bars
x 3 venues), times case (a) of benchmarks/bench.py (`perp_short` on binance, a decision every 60 bars, no
slippage, the bench fees) with frames and with frames=False, best of --repeats, then writes binance's spot
and perp closes, its funding rows (bar, rate, mark) and the rule's constants to a temporary .npz.
The peer side (benchmarks/peer_vectorbt.py, under .venv-peers/bin/python, no basisbt imports) reads that file
and runs the reduced rule in vectorbt (see its docstring: what it does and does NOT do). This script prints one
line per engine (wall seconds, events/s), the ratios, checks the peer's PnL against a numpy closed form, and
writes bench/peers.json. A speed comparison of the loop, not of features.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))

import numpy as np  # noqa: E402

from benchmarks.bench import FEES, VENUE, ours  # noqa: E402
from benchmarks.synth import build_year  # noqa: E402

PEER_PY = ROOT / ".venv-peers" / "bin" / "python"
EVERY = 60
CASH = 1_000_000.0


def peer_arrays(ds, path: Path) -> None:
    """One venue's spot and perp closes and funding rows (bar whose close is the settlement, rate, mark)."""
    open_ns = np.asarray(ds.perp[VENUE]["ts"].array.asi8)
    f = ds.funding[VENUE]
    settle_ns = np.asarray(f["ts"].array.asi8)
    bar = np.searchsorted(open_ns, settle_ns) - 1           # settlement at bar k's close = bar k+1's open
    keep = (bar >= 0) & (bar < open_ns.size)
    # synth.build_year sets a settlement's mark_price to the mark close of that bar: check the mapping
    if not np.array_equal(ds.mark[VENUE]["close"].to_numpy()[bar[keep]], f["mark_price"].to_numpy()[keep]):
        raise RuntimeError("bench-peers: funding rows do not land on the bars whose mark close they carry")
    spot = ds.spot[VENUE]["close"].to_numpy(np.float64)
    # target: perp_short with spot collateral buys 0.99 of the capital at its first decision (bar EVERY-1)
    np.savez(path, spot_close=spot, perp_close=ds.perp[VENUE]["close"].to_numpy(np.float64),
             funding_bar=bar[keep], funding_rate=f["rate"].to_numpy(np.float64)[keep],
             funding_mark=f["mark_price"].to_numpy(np.float64)[keep], cash=CASH, every=EVERY,
             target=0.99 * CASH / spot[EVERY - 1], fees=np.array([FEES["spot_taker_fee"], FEES["taker_fee"]]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=525_600)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "bench" / "peers.json"))
    ap.add_argument("--peer-python", default=str(PEER_PY), help="the python with vectorbt (default .venv-peers)")
    a = ap.parse_args()
    from basisbt.memory import prefer_small_pages
    prefer_small_pages()                                    # as `make bench` does
    ds, count = build_year(a.bars)
    ev = count.total
    print(f"bench-peers: {a.bars:,} 1m bars x 3 venues ({ev:,} events for ours); peer: vectorbt on {VENUE} only",
          flush=True)
    ours(ds.between(None, ds.perp[VENUE]["ts"].iloc[min(2000, a.bars - 1)]), str(EVERY))   # JIT / warm-up
    R: dict = {"python": platform.python_version(), "cpus": os.cpu_count(), "bars": a.bars,
               "load_average": os.getloadavg()}
    for key, frames in (("ours", True), ("ours_metrics_only", False)):
        runs = [ours(ds, str(EVERY), frames=frames) for _ in range(a.repeats)]
        best = min(runs, key=lambda r: r["total_s"])
        best.update(events=ev, events_per_s=ev / best["total_s"])
        R[key] = best
        print(f"  ours, {'frames' if frames else 'frames=False'}: {best['total_s']:.3f} s "
              f"({best['setup_s']:.2f} set-up + {best['run_s']:.2f} run), {best['events_per_s']:,.0f} events/s "
              f"(3 venues, margin, liquidation checks, lending rates; final equity {best['final_equity']:,.2f})", flush=True)

    peer_py = Path(a.peer_python)
    if not peer_py.exists():
        print(f"bench-peers: {peer_py} missing: run `make bench-peers` (it creates .venv-peers)")
        return 1
    with tempfile.TemporaryDirectory() as d:
        npz = Path(d) / "peer.npz"
        peer_arrays(ds, npz)
        p = subprocess.run([str(peer_py), str(ROOT / "benchmarks" / "peer_vectorbt.py"), str(npz),
                            "--repeats", str(a.repeats)], capture_output=True, text=True, cwd=ROOT)
    lines = p.stdout.strip().splitlines()
    try:
        peer = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        err = (p.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"bench-peers: the vectorbt side failed (exit {p.returncode}): {err}")
        return 1
    if "error" in peer:
        print(f"bench-peers: {peer['error']}")
        return 1
    R["vectorbt"] = peer
    ok = True
    for mode, what in (("every_bar", "callbacks on every bar"), ("decisions", "callbacks on decision bars only")):
        v = peer[mode]
        print(f"  vectorbt {peer['vectorbt']}, {what}: {v['s']:.3f} s, {v['events_per_s']:,.0f} events/s "
              f"({peer['events']:,} events: {peer['bars']:,} bars x 2 streams + funding rows; {v['n_orders']} orders)")
        print(f"    PnL {v['sim_pnl']:,.4f} (simulation) / {v['records_plus_funding_pnl']:,.4f} (records + funding "
              f"{v['funding_booked']:,.4f}) vs numpy closed form {peer['closed_form_pnl']:,.4f}: "
              f"{'match' if v['pnl_matches_closed_form'] else 'MISMATCH'}")
        ok &= v["pnl_matches_closed_form"]
    # Same rule, same numbers: ours ends where the peer does once its short is valued at the last MARK close
    # (our engine's valuation) instead of the last perp close (vectorbt's); funding and fills coincide.
    spot = ds.spot[VENUE]["close"].to_numpy()
    q = 0.99 * CASH / spot[EVERY - 1]
    revalued = peer["every_bar"]["sim_pnl"] + q * (ds.perp[VENUE]["close"].to_numpy()[-1] -
                                                   ds.mark[VENUE]["close"].to_numpy()[-1])
    ours_pnl = R["ours"]["final_equity"] - CASH
    R["cross_check"] = {"ours_pnl": ours_pnl, "peer_pnl_short_at_mark": revalued, "ours_funding": R["ours"]["funding"],
                        "peer_funding": peer["every_bar"]["funding_booked"]}
    print(f"  cross-check: ours PnL {ours_pnl:,.4f} vs the peer's {revalued:,.4f} with its short valued at the last "
          f"mark close as ours does (funding {R['ours']['funding']:,.4f} vs {peer['every_bar']['funding_booked']:,.4f}): "
          f"{'match' if abs(ours_pnl - revalued) <= 1e-6 * CASH else 'DIFFERENT (the rules no longer coincide)'}")
    ratios = {}
    for k in ("ours", "ours_metrics_only"):
        for mode in ("every_bar", "decisions"):
            ratios[f"{k}_over_vectorbt_{mode}_events_per_s"] = R[k]["events_per_s"] / peer[mode]["events_per_s"]
            ratios[f"vectorbt_{mode}_s_over_{k}_s"] = peer[mode]["s"] / R[k]["total_s"]
    R["ratios"] = ratios
    print("  ratios ours/vectorbt (events/s; wall-time ratio = vectorbt s / ours s):")
    for k in ("ours", "ours_metrics_only"):
        print("    " + k + ": " + "; ".join(
            f"vs {mode}: {ratios[f'{k}_over_vectorbt_{mode}_events_per_s']:.2f}x events/s, "
            f"{ratios[f'vectorbt_{mode}_s_over_{k}_s']:.2f}x wall" for mode in ("every_bar", "decisions")))
    print("  the peer does NOT do: margin tiers, maintenance margin, liquidation checks, spot as collateral, "
          "lending, next-open fills, 3 venues (a speed comparison of the loop, not of features)")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(R, indent=2))
    print(f"  wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
