"""Mutation pass (issue 29): change one constant at a time in the money paths and in the error messages, run the
tests that should notice, put the file back. Every mutant must make some test fail ("caught"); a mutant that
survives is a number or a message nothing checks. Not part of `make test` (a kernel mutant recompiles numba).

    .venv/bin/python tests/mutation/run_mutations.py              # all mutants, a table at the end
    .venv/bin/python tests/mutation/run_mutations.py --list       # what each mutant changes
    .venv/bin/python tests/mutation/run_mutations.py --only fee.spot_rate funding.sign
    .venv/bin/python tests/mutation/run_mutations.py --full       # the whole suite per mutant, not the subset

Each mutant replaces one exact piece of source text (it must occur exactly as often as declared, so an edit of
the code under it fails loudly here instead of mutating nothing), runs pytest -x on its test subset in a fresh
process, and restores the file's bytes in a `finally` (also on Ctrl-C). A kernel mutant runs with its own
temporary NUMBA_CACHE_DIR, so a mutated kernel never lands in the shared cache.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# the tests a money mutant should trip, cheapest and most likely first (pytest -x stops at the first failure)
# (pytest runs a file named twice, or inside a directory also named, in the later position: name each once)
MONEY = ["tests/kernels", "tests/golden/test_flat_price.py", "tests/scenarios",
         "tests/golden/test_regress.py::test_every_case_matches_its_golden", "tests/unit/engine",
         "tests/unit/strategies", "tests/unit/data/test_venue_files_rebuild.py", "tests/unit/data/test_venues.py",
         "tests/integration/test_strategies_scenarios.py"]
MESSAGES = ["tests/integration/test_bad_inputs.py", "tests/unit/data", "tests/unit/strategies/test_param_ranges.py",
            "tests/unit/batch/test_sweep.py", "tests/integration/test_cli.py"]


@dataclass(frozen=True)
class Edit:
    file: str
    old: str
    new: str
    count: int = 1                       # how many times `old` must occur (all are replaced); -1: at least once


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str
    old: str
    new: str
    what: str
    tests: tuple[str, ...] = ()          # default: MONEY, or MESSAGES for ids starting "msg."
    count: int = 1
    also: tuple[Edit, ...] = ()          # further edits made together (a wrong number in a file AND its source)

    def edits(self) -> list[Edit]:
        return [Edit(self.file, self.old, self.new, self.count), *self.also]

    def subset(self) -> list[str]:
        return list(self.tests) or (MESSAGES if self.id.startswith("msg.") else MONEY)


# the fill's fee rate, taker side (a maker fill reads C_SPOT_MAKER / C_MAKER on the line above it)
TAKER_RATE = "fee_rate = vt.cfg[v, C_SPOT_TAKER] if instrument == SPOT else vt.cfg[v, C_TAKER]"

MUTANTS: list[Mutant] = [
    # -- fees and slippage ------------------------------------------------------------------------------------
    Mutant("fee.spot_rate", "engine/kernels/fills.py", TAKER_RATE,
           "fee_rate = vt.cfg[v, C_TAKER] if instrument == SPOT else vt.cfg[v, C_TAKER]",
           "spot fills pay the perp taker rate"),
    Mutant("fee.perp_rate", "engine/kernels/fills.py", TAKER_RATE,
           "fee_rate = vt.cfg[v, C_SPOT_TAKER] if instrument == SPOT else vt.cfg[v, C_TAKER] * 1.01",
           "perp taker fee 1 % too high"),
    Mutant("fee.venue_file", "data/venues/binance.toml", "taker_fee = 0.0005", "taker_fee = 0.0004",
           "binance perp taker 0.04 % in every block of the venue file (hand edit)", count=-1),
    Mutant("fee.venue_source", "data/venues/binance.toml", "taker_fee = 0.0005", "taker_fee = 0.0004",
           "the same wrong rate in the file AND its generator (a rebuild agrees)", count=-1,
           also=(Edit("data/venues/build_binance.py", "taker_fee = 0.0005 ", "taker_fee = 0.0004 "),)),
    Mutant("fee.withdrawal", "engine/runner.py", "fee = self.specs[j].withdrawal_fee", "fee = 0.0",
           "transfers out of a venue pay no withdrawal fee"),
    Mutant("slippage.exponent", "engine/kernels/fills.py", "return fixed + impact * math.sqrt(part)",
           "return fixed + impact * part", "volume impact linear in participation, not square root"),
    Mutant("slippage.sell_side", "engine/kernels/fills.py",
           "exec_px = ref_px * (1.0 + slip) if qty > 0.0 else ref_px * (1.0 - slip)",
           "exec_px = ref_px * (1.0 + slip) if qty > 0.0 else ref_px * (1.0 + slip)",
           "sells fill above the reference price (slippage in the seller's favour)"),
    # -- funding and lending -----------------------------------------------------------------------------------
    Mutant("funding.sign", "engine/kernels/funding.py", "return -qty * rate_x_mark", "return qty * rate_x_mark",
           "a short pays when the rate is positive"),
    Mutant("funding.bar", "engine/market.py", 'bar = np.searchsorted(close_ns, t, side="left")',
           'bar = np.searchsorted(close_ns, t, side="right")',
           "a settlement on a bar close is paid one bar later"),
    Mutant("lending.simple", "engine/kernels/lending.py", "return balance * ((1.0 + apy) ** dt_years - 1.0)",
           "return balance * apy * dt_years", "lending accrues simple interest, not compounding"),
    Mutant("transfer.delay", "engine/runner.py", "arrive = ts_ns + delay * 1e9", "arrive = ts_ns + 2 * delay * 1e9",
           "transfers take twice the venue's withdrawal delay"),
    # -- margin and liquidation --------------------------------------------------------------------------------
    Mutant("tier.floor_edge", "engine/kernels/margin.py", "floor[v, j] <= n", "floor[v, j] < n",
           "a notional exactly on a tier floor stays in the tier below"),
    Mutant("tier.floor_file", "data/venues/binance.toml", "floor = 50000\n", "floor = 55000\n",
           "Binance's 50k tier floor read as 55k in every block of the venue file (hand edit)", count=-1),
    Mutant("tier.floor_recorded", "data/venues/binance.toml", "floor = 50000\n", "floor = 55000\n",
           "the same wrong floor in the file AND the recorded snapshots (a rebuild agrees)", count=-1,
           also=(Edit("data/venues/recorded/binance_leverage_brackets.toml", "floor = 50000\n", "floor = 55000\n",
                      -1),)),
    Mutant("tier.amount", "engine/kernels/margin.py", "return abs(qty * mark_px) * rate[v, k] - amount[v, k]",
           "return abs(qty * mark_px) * rate[v, k]", "maintenance margin without the running-sum deduction"),
    Mutant("margin.haircut", "engine/kernels/margin.py", "coll_base * (1.0 - haircut) * mark_px",
           "coll_base * (1.0 + haircut) * mark_px", "spot collateral valued above its price"),
    Mutant("liquidation.fee", "engine/kernels/advance.py", "fee = abs(q) * px * fee_rate",
           "fee = abs(q) * px * fee_rate * 0.8", "liquidation (clearance) fee 20 % too low"),
    Mutant("liquidation.fee_file", "data/venues/binance.toml", "liquidation_fee = 0.0125 ", "liquidation_fee = 0.0100 ",
           "Binance clearance fee 1 % instead of 1.25 % in the venue file and its generator", count=-1,
           also=(Edit("data/venues/build_binance.py", "liquidation_fee = 0.0125 ", "liquidation_fee = 0.0100 "),)),
    Mutant("liquidation.insurance", "engine/kernels/advance.py",
           "from_fund = deficit if deficit <= fund else max(fund, 0.0)", "from_fund = 0.0",
           "the insurance fund never covers a deficit (a liquidation's close nor the backstop's)", count=2),
    Mutant("liquidation.by_close", "engine/kernels/advance.py",
           "m_worst = mkt.mark_high[i, v] if q < 0.0 else mkt.mark_low[i, v]", "m_worst = mkt.mark_close[i, v]",
           "liquidation checked at the bar's close, not at its worst mark"),
    # -- synthetic dollar: payouts and flows -------------------------------------------------------------------
    Mutant("payout.weekly_day", "strategies/payout.py", "anchor_ns: int = MONDAY_NS",
           "anchor_ns: int = MONDAY_NS - 86_400 * 10**9", "weekly revenue periods start on Sunday, not Monday"),
    Mutant("payout.lag", "strategies/payout.py", "t0 = self.start(k + 1)", "t0 = self.start(k)",
           "a period's payout vests during the period itself, not through the next one (no one-period lag)"),
    Mutant("flows.known_at", "engine/context.py", "hi = int(np.searchsorted(t + period, int(self.now.value), side=\"right\"))",
           "hi = int(np.searchsorted(t, int(self.now.value), side=\"right\"))",
           "a flows row is known at its stamp, not at the end of its period (look-ahead)", count=2),
    Mutant("payout.apy_year", "strategies/synthetic_dollar.py", "years = self.cadence.period_ns / (365 * 86_400e9)",
           "years = self.cadence.period_ns / (360 * 86_400e9)", "the staker APY annualized over a 360-day year"),
    # -- error messages ----------------------------------------------------------------------------------------
    Mutant("msg.empty_window", "engine/runner.py", 'f"{span[0].isoformat()} to {span[1].isoformat()} (bar opens, UTC)")',
           '"the data")', "the empty-window message no longer gives the data's span"),
    Mutant("msg.directory", "data/safe_io.py", 'return f"is a directory, expected a {what}"', 'return "no such file"',
           "a directory reported as a missing file"),
    Mutant("msg.row", "data/errors.py", 'where += f", row {self.row}"', 'where += ""',
           "data errors no longer name the row"),
    Mutant("msg.range_valid", "data/checks.py",
           'is out of range; valid: {range_text(name, ge=ge, gt=gt, le=le, lt=lt)}")', 'is out of range")', "range errors no longer give the valid range"),
    Mutant("msg.did_you_mean", "data/checks.py", 'return f" (did you mean {m[0]!r}?)" if m else ""', 'return ""',
           "no 'did you mean' for a misspelled name"),
    Mutant("msg.flag_choice", "basisbt/cli/data.py", "fail(f\"--{flag.replace('_', '-')} {value!r}: unknown value; valid: ",
           "fail(f\"{value!r}: unknown value; valid: ", "an import flag's bad value without the flag's name"),
    Mutant("msg.ohlc_rule", "data/validate.py", 'raise _fail("high < max(open, close)", file, bad)',
           'raise _fail("bad bar", file, bad)', "the OHLC rule not named"),
    Mutant("msg.unsafe_name", "data/names.py", 'raise UnsafeName(f"{what} {shown}: only {allowed} are allowed")',
           'raise UnsafeName(f"{what}: not allowed")', "an unsafe name without the value and the allowed characters"),
    Mutant("msg.foreign_out", "reports/writers.py", 'f"{p}: {what}, not a basisbt {kind} output; refusing',
           'f"{p}: {what}; refusing', "a foreign --out directory without saying it is not a run"),
    Mutant("msg.fetch_order", "data/ingest/fetch.py", 'raise FetchError(f"--since {since} is not before --until {until}")',
           'raise FetchError("bad dates")', "since/until swapped without naming the flags"),
]


def _apply(m: Mutant) -> dict[Path, bytes]:
    """Make every edit of the mutant; return each file's original bytes. Refuses (restoring what it changed) when
    an `old` does not occur as often as declared."""
    originals: dict[Path, bytes] = {}
    try:
        for e in m.edits():
            path = ROOT / e.file
            originals.setdefault(path, path.read_bytes())
            text = path.read_text()
            n = text.count(e.old)
            if n == 0 or (e.count > 0 and n != e.count):
                raise SystemExit(f"{m.id}: {e.file} holds {e.old!r} {n} times, expected "
                                 f"{e.count if e.count > 0 else '>= 1'} (the code moved: update the mutant)")
            path.write_text(text.replace(e.old, e.new))
    except BaseException:
        _restore(originals)
        raise
    return originals


def _restore(originals: dict[Path, bytes]) -> None:
    for path, blob in originals.items():
        path.write_bytes(blob)


def run_one(m: Mutant, full: bool, timeout: float) -> dict:
    """Apply, test, restore. -> {id, caught, by, seconds}."""
    env = dict(os.environ, MPLBACKEND="Agg", NUMBA_CACHE_DIR=os.environ.get("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache")))
    tmp_cache = None
    if any(e.file.startswith("engine/kernels/") for e in m.edits()):
        tmp_cache = tempfile.mkdtemp(prefix="basisbt-mutant-numba-")
        env["NUMBA_CACHE_DIR"] = tmp_cache
    args = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--tb=no", "-rfE",
            "-o", "addopts=", *([] if full else m.subset())]
    original = _apply(m)
    t0 = time.perf_counter()
    try:
        p = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        out = p.stdout + p.stderr
        failed = [f[:110] for f in re.findall(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", out, re.M)]
        caught = p.returncode != 0
        by = failed[0] if failed else ("" if not caught else out.strip().splitlines()[-1][:120])
    except subprocess.TimeoutExpired:
        caught, by = False, f"timeout after {timeout:.0f} s"
    finally:
        _restore(original)
        if tmp_cache:
            shutil.rmtree(tmp_cache, ignore_errors=True)
    return {"id": m.id, "what": m.what, "caught": caught, "by": by, "seconds": time.perf_counter() - t0}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=[], help="mutant ids (default: all)")
    ap.add_argument("--list", action="store_true", help="print the mutants and exit")
    ap.add_argument("--full", action="store_true", help="run the whole suite per mutant, not its subset")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per mutant")
    a = ap.parse_args(argv)
    chosen = [m for m in MUTANTS if not a.only or m.id in a.only]
    unknown = set(a.only) - {m.id for m in MUTANTS}
    if unknown:
        raise SystemExit(f"unknown mutant ids: {', '.join(sorted(unknown))}; see --list")
    for m in MUTANTS:                              # every mutant must still apply (also for --list), before any test
        _restore(_apply(m))
    if a.list:
        for m in chosen:
            print(f"{m.id:24s} {m.file}: {m.what}")
        return 0
    rows = []
    for m in chosen:
        r = run_one(m, a.full, a.timeout)
        rows.append(r)
        print(f"{'caught  ' if r['caught'] else 'SURVIVED'} {r['id']:24s} {r['seconds']:6.1f}s  {r['by']}", flush=True)
    print("\n| mutant | what it changes | caught by (first failing test) |\n| --- | --- | --- |")
    for r in rows:
        print(f"| `{r['id']}` | {r['what']} | {r['by'] if r['caught'] else '**survived**'} |")
    survived = [r["id"] for r in rows if not r["caught"]]
    print(f"\n{len(rows) - len(survived)} of {len(rows)} caught" + (f"; survived: {', '.join(survived)}" if survived else ""))
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
