"""Issue 26: nothing wrong passes with exit 0 in sweeps, stress and reports; Ctrl-C, kills and runaway strategies
handled; imports read files as they come; funding gaps counted where they really are. One test per class of
fault, through the CLI (in-process with CliRunner; a real subprocess where a signal, a kill or a file-size limit
is the point).
"""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from basisbt.cli.app import app

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
SEVEN = SHARED / "multi-venue-funding" / "funding_btc_eth_7venues_utc.csv"
FREQTRADE = SHARED / "freqtrade" / "binance"
BASISBT = [sys.executable, "-c", "from basisbt.cli.app import main; main()"]

STRATEGIES = '''
import os
import time
from dataclasses import dataclass
from basisbt import Strategy, param
from basisbt.strategies.perp_short import PerpShort


class Boom(PerpShort):
    name = "boom"

    def on_bar(self, ctx, ev):
        if self.p.leverage > 2.5:
            raise RuntimeError("boom")
        super().on_bar(ctx, ev)


class Sleepy(Strategy):
    name = "sleepy"

    @dataclass(frozen=True, kw_only=True)
    class Params:
        nap: float = param(0.0, "seconds slept in each on_bar", ge=0.0, le=100.0)

    def on_bar(self, ctx, ev):
        if os.environ.get("SLEEPY_MARK"):               # tells a test that the hooks are running
            open(os.environ["SLEEPY_MARK"], "a").close()
        time.sleep(self.p.nap)


class Hang(PerpShort):
    name = "hang"

    def on_bar(self, ctx, ev):
        if self.p.leverage > 2.5:
            while True:                       # spins and swallows everything it can
                try:
                    time.sleep(3600)
                except Exception:
                    pass
        super().on_bar(ctx, ev)


class Custom(BaseException):
    pass


class RaisesBase(Strategy):
    def on_bar(self, ctx, ev):
        raise Custom("not an Exception")


class RaisesKeyboard(Strategy):
    def on_bar(self, ctx, ev):
        raise KeyboardInterrupt


class AllocText(Strategy):
    def initial_allocation(self, venues):
        return "binance"


class AllocNone(Strategy):
    def initial_allocation(self, venues):
        return None


class AllocNan(Strategy):
    def initial_allocation(self, venues):
        return {venues[0]: float("nan")}


class FlowInf(Strategy):
    def on_bar(self, ctx, ev):
        ctx.external_flow(ctx.venues[0], float("inf"))


class MoveNan(Strategy):
    def on_bar(self, ctx, ev):
        ctx.move_collateral(ctx.venues[0], ctx.venues[1], float("nan"))


class MoveNegative(Strategy):
    def on_bar(self, ctx, ev):
        ctx.move_collateral(ctx.venues[0], ctx.venues[1], -1e12)


class BadValidate(Strategy):
    def validate(self, venues, protocols):
        raise RuntimeError("no")


class LendText(Strategy):
    def on_bar(self, ctx, ev):
        ctx.lend(ctx.protocols[0], "lots", ctx.venues[0])
'''


@pytest.fixture(scope="module")
def w(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("batch")
    (d / "strats.py").write_text(STRATEGIES)
    (d / "foreign").mkdir()
    (d / "foreign" / "notes.txt").write_text("mine")
    return d


def cli(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, [str(a) for a in args])
    return r.exit_code, r.output


def snapshot(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()} if d.exists() else {}


def one_line(out: str) -> bool:
    return len(out.strip().splitlines()) == 1 and "Traceback" not in out


def test_batches_refuse_run_level_inputs_once_and_exit_1_when_every_cell_fails(w: Path) -> None:
    """Item 1: what `basisbt run` refuses, sweep and stress refuse too, once, before any cell or path (exit 2,
    one line, nothing written); every cell (path) failing is exit 1 with the count and the first error and
    writes nothing; a partial failure is a result (exit 0) and says how many failed."""
    nan = w / "nan.csv"
    nan.write_text("ts,open,high,low,close,volume\n2025-01-01T00:00Z,1,2,0.5,nan,1\n2025-01-01T01:00Z,1,2,0.5,1,1\n")
    (w / "nan.toml").write_text('symbol = "ETH/USDT"\n[venues.binance]\nspot = "nan.csv"\nperp = "nan.csv"\n')
    bad = {"window": ["--start", "2030-01-01"], "timeframe": ["--timeframe", "7m"],
           "nan prices": ["--data", w / "nan.toml"], "no bars": ["--data", "cache:DOGE/USDT", "--cache", w / "empty"],
           "venue the data lacks": ["--set", "venue=kraken"]}
    for why, args in bad.items():
        code, out = cli("sweep", "--grid", "leverage=2,3", "-j", "1", "--out", w / "s-bad", *args)
        assert code == 2 and one_line(out) and not (w / "s-bad").exists(), (why, out)
    code, out = cli("sweep", "-s", f"{w}/strats.py:Boom", "--grid", "leverage=3,4", "-j", "1", "--out", w / "s-all")
    assert code == 1 and "all 2 cells failed, nothing written; the first: StrategyError" in out, out
    assert not (w / "s-all").exists()
    code, out = cli("sweep", "-s", f"{w}/strats.py:Boom", "--grid", "leverage=2,3", "-j", "1", "--out", w / "s-half")
    assert code == 0 and "1 of 2 cells failed" in out, out
    table = pd.read_csv(w / "s-half" / "results.csv")
    assert sorted(table["error"].fillna("").astype(bool)) == [False, True]
    assert len(list((w / "s-half" / "cells").glob("*.parquet"))) == 1      # the failure is shown, not stored
    code, out = cli("sweep", "-s", f"{w}/strats.py:Boom", "--grid", "leverage=2,3", "-j", "1", "--out", w / "s-half")
    assert code == 0 and "1 stored, running 1" in out, out                   # ... so a rerun tries it again
    code, out = cli("stress", "-s", f"{w}/strats.py:Boom", "--set", "leverage=3", "-n", "2", "--days", "3", "-j", "1",
                    "--out", w / "st-all")
    assert code == 1 and "all 2 paths failed, nothing written" in out and not (w / "st-all").exists(), out


def test_one_out_rule_for_every_command_that_writes_a_directory(w: Path) -> None:
    """Item 1: run, sweep, stress and report A B --out write only into an absent or empty directory or their own
    kind of earlier output (replaced whole); anything else is refused and left byte-identical."""
    code, out = cli("run", "--out", w / "o-run")
    assert code == 0, out
    assert cli("run", "--set", "leverage=2", "--out", w / "o-run2")[0] == 0
    made = {"run": w / "o-run",
            "sweep": (["sweep", "--grid", "leverage=2", "-j", "1"], w / "o-sweep"),
            "stress": (["stress", "-s", "perp_short", "-n", "2", "--days", "3", "-j", "1"], w / "o-stress"),
            "compare": (["report", w / "o-run", w / "o-run2"], w / "o-cmp")}
    for kind, spec in made.items():
        if kind != "run":
            args, out_dir = spec
            code, out = cli(*args, "--out", out_dir)
            assert code == 0 and (out_dir / ".basisbt").read_text().strip() == kind, (kind, out)
            code, out = cli(*args, "--out", out_dir)                       # its own kind: replaced (or resumed)
            assert code == 0, (kind, out)
    dirs = {k: (v if isinstance(v, Path) else v[1]) for k, v in made.items()}
    commands = {k: (["run"] if k == "run" else made[k][0]) for k in made}
    for kind, args in commands.items():
        for other, target in [*((o, d) for o, d in dirs.items() if o != kind), ("foreign", w / "foreign")]:
            before = snapshot(target)
            code, out = cli(*args, "--out", target)
            assert code == 2 and one_line(out) and f"not a basisbt {kind} output" in out, (kind, other, out)
            assert snapshot(target) == before, (kind, other)
    (w / "o-empty").mkdir()
    assert cli("report", w / "o-run", w / "o-run2", "--out", w / "o-empty")[0] == 0


def test_sizes_are_checked_against_their_ceilings_before_any_work(w: Path) -> None:
    """Item 2: samples, grids, paths, days and path-days beyond the documented ceilings are refused at once."""
    from basisbt.batch.stress import MAX_PATH_DAYS, MAX_PATHS
    from basisbt.batch.sweep_plan import MAX_CELLS
    values = ",".join(str(1 + k / 1000) for k in range(400))
    cases = [(["sweep", "--samples", str(10**9)], f"above the {MAX_CELLS:,} cells"),
             (["sweep", "--grid", f"leverage={values}", "--grid", f"hedge_ratio={values.replace('1.', '0.')}"],
              f"= 160,000 cells, above the {MAX_CELLS:,}"),
             (["stress", "-n", str(10**9)], f"give 1 to {MAX_PATHS:,}"),
             (["stress", "-n", "20000", "--days", "3650"], f"above the {MAX_PATH_DAYS:,} a stress run keeps"),
             (["stress", "--days", str(10**8)], "valid: 2 <= days <= 3650")]
    for args, needle in cases:
        code, out = cli(*args, "--out", w / "never")
        assert code == 2 and one_line(out) and needle in out, (args, out)
    assert not (w / "never").exists()


def test_stress_model_parameters_are_checked_like_strategy_parameters(w: Path) -> None:
    """Item 3: each -m key has a declared range; NaN, inf and out-of-range values and unknown keys are refused
    naming the -m key (a NaN premium once printed an APY with a confidence interval)."""
    cases = {"premium_mean_8h=nan": "--model premium_mean_8h=nan", "basis_shock=-2": "-0.5 <= basis_shock <= 0.5",
             "price0=inf": "--model price0=inf", "lending_apy=50": "0 <= lending_apy <= 1",
             "mint_per_day=-1e12": "0 <= mint_per_day", "vol_annual=inf": "--model vol_annual=inf",
             "spell_premium_8h=-inf": "--model spell_premium_8h=-inf", "start=yesterday": "--model start='yesterday'",
             "spel_days=3": "(did you mean 'spell_days'?)"}
    for kv, needle in cases.items():
        code, out = cli("stress", "-n", "2", "--days", "3", "-m", kv, "--out", w / "never")
        assert code == 2 and one_line(out) and needle in out, (kv, out)


def test_strategy_outputs_are_checked_where_the_strategy_hands_them_over(w: Path) -> None:
    """Item 5 (and the BaseException half of item 4): a bad allocation, a non-finite or negative amount, a
    BaseException or a KeyboardInterrupt the strategy raises itself are one strategy error naming the strategy,
    the hook, the time and the value (exit 2), never an 'unexpected' message, a traceback or exit 130."""
    cases = {"AllocText": ("initial_allocation returned 'binance'", "scenario:feb-2025-crash"),
             "AllocNone": ("initial_allocation returned None", "scenario:feb-2025-crash"),
             "AllocNan": ("initial_allocation returned binance: nan", "scenario:feb-2025-crash"),
             "FlowInf": ("raised in on_bar at 2025-01-27 01:00:00+00:00: ValueError: external_flow amount on "
                         "binance is inf", "scenario:feb-2025-crash"),
             "MoveNan": ("move_collateral amount binance -> bybit is nan", "scenario:feb-2025-crash"),
             "MoveNegative": ("move_collateral amount binance -> bybit is -1000000000000.0; it must be >= 0",
                              "scenario:feb-2025-crash"),
             "LendText": ("lend amount binance -> aave is 'lots' (str); it must be a number",
                          "scenario:feb-2025-crash"),
             "RaisesBase": ("raised in on_bar at 2025-01-27 01:00:00+00:00: Custom: not an Exception",
                            "scenario:feb-2025-crash"),
             "RaisesKeyboard": ("raised in on_bar", "scenario:feb-2025-crash"),
             "BadValidate": ("raised in validate at set-up: RuntimeError: no", "scenario:feb-2025-crash")}
    for cls, (needle, data) in cases.items():
        code, out = cli("run", "-s", f"{w}/strats.py:{cls}", "--data", data, "--out", w / "never")
        assert code == 2 and one_line(out) and needle in out and "unexpected" not in out, (cls, out)
    (w / "base_import.py").write_text("class B(BaseException):\n    pass\n\n\nraise B('at import')\n")
    code, out = cli("run", "-s", f"{w}/base_import.py:X", "--out", w / "never")
    assert code == 2 and one_line(out) and "could not import: B: at import" in out, out


def test_a_strategy_call_past_its_time_limit_is_stopped_in_run_sweep_and_stress(w: Path) -> None:
    """Item 4: --timeout bounds one strategy call; a run stops with a strategy error, a sweep cell and a stress path
    fail on their own (the others go on) and a rerun tries the cell again."""
    code, out = cli("run", "-s", f"{w}/strats.py:Sleepy", "--set", "nap=30", "--timeout", "0.5", "--out", w / "never")
    assert code == 2 and one_line(out) and "ran longer than the 0.5 s limit in on_bar at" in out, out
    code, out = cli("sweep", "-s", f"{w}/strats.py:Hang", "--grid", "leverage=2,3", "-j", "1", "--timeout", "0.5",
                    "--out", w / "t-sweep")
    assert code == 0 and "1 of 2 cells failed" in out and "ran longer than the 0.5 s limit" in out, out
    code, out = cli("stress", "-s", f"{w}/strats.py:Sleepy", "--set", "nap=30", "-n", "2", "--days", "3", "-j", "1",
                    "--timeout", "0.5", "--out", w / "t-stress")
    assert code == 1 and "all 2 paths failed" in out and "ran longer than the 0.5 s limit" in out, out
    code, out = cli("run", "--timeout", "0", "--out", w / "never")
    assert code == 2 and "timeout = 0.0 is out of range" in out, out


def _pids_below(pid: int) -> set[int]:
    """Every descendant of `pid` (from /proc)."""
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        try:
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        for k in map(int, kids):
            if k not in found:
                found.add(k)
                todo.append(k)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _wait(cond, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def _start(args: list[str], cwd: Path, mark: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "COLUMNS": "200", **({"SLEEPY_MARK": str(mark)} if mark else {})}
    return subprocess.Popen([*BASISBT, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env=env)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_is_exit_130_and_a_killed_batch_leaves_no_worker(w: Path) -> None:
    """Item 4: Ctrl-C (SIGINT to the terminal's whole process group) ends run, sweep and stress with exit 130 and
    one line, no worker traceback, no worker left, earlier outputs intact, and a resumed sweep runs the cells the
    interrupt cut; kill -9 of a batch with two workers leaves none of its processes behind."""
    sleepy = ["-s", f"{w}/strats.py:Sleepy"]
    naps = ["--grid", "nap=0.02,0.021,0.022,0.023"]                         # ~3 s a cell
    code, _ = cli("sweep", *sleepy, "--grid", "nap=0.001", "-j", "1", "--out", w / "c-sweep")   # an earlier output
    assert code == 0
    before = snapshot(w / "c-sweep")
    cases = {"run": ["run", *sleepy, "--set", "nap=0.05", "--out", w / "c-run"],
             "sweep -j 2": ["sweep", *sleepy, *naps, "-j", "2", "--out", w / "c-sweep"],
             "sweep -j 1": ["sweep", *sleepy, *naps, "-j", "1", "--out", w / "c-sweep"],
             "stress": ["stress", *sleepy, "--set", "nap=0.05", "-n", "40", "--days", "5", "-j", "2",
                        "--out", w / "c-stress"]}
    for name, args in cases.items():
        mark = w / f"hooks-{name.replace(' ', '')}"
        p = _start(list(map(str, args)), w, mark)
        # workers up (batches with -j 2) and the strategy's hooks running: on a loaded machine start-up alone can
        # take seconds, and a signal sent then would test start-up, not an interrupted run
        assert _wait(lambda p=p, name=name, mark=mark: len(_pids_below(p.pid)) >= (2 if "-j 2" in name or
                                                                                 name == "stress" else 0)
                     and mark.exists(), 120), name
        kids = _pids_below(p.pid)
        os.killpg(p.pid, signal.SIGINT)
        out, err = p.communicate(timeout=60)
        assert p.returncode == 130, (name, err)
        assert err.strip().splitlines()[-1].startswith("error: interrupted (Ctrl-C)") and "Traceback" not in err, \
            (name, err)
        assert _wait(lambda kids=kids: not any(_alive(k) for k in kids), 10), (name, kids)
    assert not (w / "c-run").exists() and not (w / "c-stress").exists()
    after = snapshot(w / "c-sweep")
    views = {k: v for k, v in before.items() if not k.startswith("cells/")}
    assert {k: v for k, v in after.items() if not k.startswith("cells/")} == views      # the views stay as they were
    assert set(before) <= set(after)                                                     # stored cells stay too
    stored = len(pd.concat([pd.read_parquet(f) for f in (w / "c-sweep" / "cells").glob("*.parquet")])) - 1
    assert stored < 4                                          # the interrupts cut cells: they are not stored ...
    code, out = cli("sweep", *sleepy, *naps, "-j", "1", "--max-cells", "1", "--out", w / "c-sweep")
    assert code == 0 and f"{stored} stored, running 1" in out, out      # ... and run on the rerun

    for args in (["sweep", *sleepy, "--grid", "nap=0.2,0.21,0.22,0.23", "-j", "2", "--out", w / "k-sweep"],
                 ["stress", *sleepy, "--set", "nap=0.2", "-n", "40", "--days", "5", "-j", "2", "--out", w / "k-st"]):
        p = _start(list(map(str, args)), w)
        assert _wait(lambda p=p: len(_pids_below(p.pid)) >= 3, 60), args      # the forkserver and two workers
        kids = _pids_below(p.pid)
        os.kill(p.pid, signal.SIGKILL)
        p.communicate(timeout=30)
        assert _wait(lambda kids=kids: not any(_alive(k) for k in kids), 10), [k for k in kids if _alive(k)]


def _limited(megabytes: int):
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (megabytes << 20, megabytes << 20))
    return limit


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="no file-size limit on this platform")
def test_a_file_size_limit_names_the_file_it_hit_and_leaves_the_old_output(w: Path) -> None:
    """Item 7: a full disk or a file-size limit (here a real `ulimit -f`) is exit 3 naming the file, and the
    previous output of that --out is left as it was."""
    assert cli("run", "--out", w / "f-run")[0] == 0
    before = snapshot(w / "f-run")
    for args, name in ((["run", "--out", w / "f-run"], "f-run/"),
                       (["sweep", "--grid", "leverage=2,3", "-j", "1", "--out", w / "f-sweep"], "f-sweep/"),
                       (["stress", "-n", "3", "--days", "30", "-j", "1", "--out", w / "f-stress"], "f-stress/")):
        r = subprocess.run([*BASISBT, *map(str, args)], cwd=w, capture_output=True, text=True,
                           preexec_fn=_limited(0), env={**os.environ, "COLUMNS": "300"})
        line = r.stderr.strip().splitlines()[-1]
        assert r.returncode == 3 and name in line and "file too large" in line and "Traceback" not in r.stderr, \
            r.stderr
    assert snapshot(w / "f-run") == before


def test_imports_read_local_times_epochs_and_foreign_columns_as_they_come(w: Path) -> None:
    """Item 9: --tz reads naive local times DST-aware and matches the UTC import; naive times need --tz or
    --assume-utc (which then works); milliseconds read as seconds are refused with the unit that fits; an
    all-empty optional column is left out, --ignore-column drops a full one; every parse error names file
    and row."""
    # hourly settlements across both 2024 London DST changes, written in local time and in UTC
    ts = pd.date_range("2024-03-30", "2024-11-02", freq="1h", tz="UTC")
    rate = np.round(np.sin(np.arange(ts.size) / 50.0) * 1e-4, 10)
    local = ts.tz_convert("Europe/London").tz_localize(None)
    base = {"stream": "funding", "venue": "binance", "symbol": "ETH/USDT", "time": "t"}

    def imp(name: str, frame: pd.DataFrame, *extra: str, cache: str | None = None) -> tuple[int, str]:
        frame.to_csv(w / name, index=False)
        flags = [x for k, v in base.items() for x in (f"--{k}", v)]
        return cli("import", "csv", w / name, *flags, "--cache", w / (cache or f"c-{name}"), *extra)

    assert imp("utc.csv", pd.DataFrame({"t": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "rate": rate}))[0] == 0
    london = pd.DataFrame({"t": local.strftime("%Y-%m-%d %H:%M:%S"), "rate": rate})
    code, out = imp("london.csv", london)
    assert code == 2 and "london.csv, row 2: naive timestamp" in out and "--tz ZONE" in out, out
    assert imp("london.csv", london, "--tz", "Europe/London")[0] == 0
    from basisbt.data import cache
    key = cache.key_for("funding", "binance", "ETH/USDT:USDT")
    a, b = cache.read(w / "c-utc.csv", key), cache.read(w / "c-london.csv", key)
    pd.testing.assert_series_equal(a["ts"], b["ts"]) and np.testing.assert_array_equal(a["rate"], b["rate"])
    assert imp("naive.csv", pd.DataFrame({"t": ts.strftime("%Y-%m-%d %H:%M"), "rate": rate}), "--assume-utc")[0] == 0
    assert cache.read(w / "c-naive.csv", key)["ts"].equals(a["ts"])
    code, out = imp("gone.csv", pd.DataFrame({"t": ["2024-03-31 00:00", "2024-03-31 01:30"], "rate": [0, 0]}),
                    "--tz", "Europe/London")
    assert code == 2 and "gone.csv, row 3: local time does not exist in Europe/London" in out, out
    ms = pd.DataFrame({"t": ts.as_unit("ns").asi8[:3] // 10**6, "rate": rate[:3]})
    code, out = imp("ms.csv", ms, "--time-unit", "s")
    assert code == 2 and "ms.csv, row 2: epoch time read as s is the year" in out and "--time-unit ms" in out, out
    assert imp("ms.csv", ms, "--time-unit", "ms", cache="c-ms-ok")[0] == 0
    marks = pd.DataFrame({"t": ts.strftime("%Y-%m-%dT%H:%MZ")[:3], "rate": rate[:3], "mark_price": [None] * 3})
    assert imp("empty-mark.csv", marks)[0] == 0                             # a real Bybit/Hyperliquid export shape
    assert "mark_price" not in cache.read(w / "c-empty-mark.csv", key).columns
    full = marks.assign(mark_price=[3000.0, 3001.0, 3002.0])
    assert imp("full-mark.csv", full, "--ignore-column", "mark_price")[0] == 0
    assert "mark_price" not in cache.read(w / "c-full-mark.csv", key).columns
    code, out = imp("bad-cell.csv", full.assign(rate=["1e-4", "x", "1e-4"]))
    assert code == 2 and "bad-cell.csv, row 3: non-numeric value in 'rate'" in out, out
    code, out = imp("bad-time.csv", full.assign(t=["2024-04-01T00:00Z", "soon", "2024-04-01T02:00Z"]))
    assert code == 2 and "bad-time.csv, row 3: unparseable time" in out, out


def _independent_missing(t: pd.Series, lower: pd.Timestamp, upper: pd.Timestamp, step_h: int) -> int:
    """Settlement times on the rows' own grid (step, the phase most rows have) strictly inside (lower, upper) with no
    row within half an interval: counted by set lookup, not by the engine's gap arithmetic."""
    step = pd.Timedelta(hours=step_h)
    phase = int(pd.Series(t.dt.hour % step_h).mode()[0])
    grid = pd.date_range(lower, upper, freq=step) + pd.Timedelta(hours=phase)
    grid = grid[(grid > lower) & (grid < upper)].as_unit("ns").asi8
    tv = np.sort(t.dt.as_unit("ns").astype("int64").to_numpy())
    k = np.searchsorted(tv, grid - step.value // 2, side="right")
    covered = (k < tv.size) & (tv[np.minimum(k, tv.size - 1)] <= grid + step.value // 2)
    return int((~covered).sum())


def test_funding_gaps_are_counted_from_the_venue_interval_and_filled_bars_stay_missing(w: Path) -> None:
    """Item 10, on a hand-made venue: a 32 h hole in funding read without an interval column (the spacing would
    call it one 32 h interval) misses 3 settlements, a month of funding absent before the stream's first row while
    the perp trades misses 3 a day, and bars an import filled with --fill-gaps are counted as filled and missing
    and refused to orders."""
    hours = pd.date_range("2025-01-01", periods=24 * 40, freq="1h", tz="UTC")
    px = 3000.0 + np.arange(hours.size) % 50
    bars = pd.DataFrame({"ts": hours.strftime("%Y-%m-%dT%H:%MZ"), "open": px, "high": px + 1, "low": px - 1,
                         "close": px, "volume": 10.0}).drop(index=[100, 101, 102])       # a 3-bar hole
    bars.to_csv(w / "bars.csv", index=False)
    settle = pd.date_range("2025-02-01 08:00", "2025-02-10", freq="8h", tz="UTC")
    settle = settle[(settle < pd.Timestamp("2025-02-05 00:00", tz="UTC")) |
                    (settle > pd.Timestamp("2025-02-05 16:00", tz="UTC"))]     # 02-04 16:00 -> 02-06 00:00: 32 h
    pd.DataFrame({"t": settle.strftime("%Y-%m-%dT%H:%MZ"), "rate": 1e-4}).to_csv(w / "fund.csv", index=False)
    root = w / "c-gaps"
    for stream in ("spot", "perp"):
        code, out = cli("import", "csv", w / "bars.csv", "--stream", stream, "--time", "ts", "--venue", "okx",
                        "--symbol", "ETH/USDT", "--timeframe", "1h", "--repair", "--fill-gaps", "5", "--cache", root)
        assert code == 0, out
    code, out = cli("import", "csv", w / "fund.csv", "--stream", "funding", "--time", "t", "--venue", "okx",
                    "--symbol", "ETH/USDT", "--cache", root)
    assert code == 0, out
    (w / "buy.py").write_text("from basisbt import Strategy\n\n\nclass Buy(Strategy):\n"
                              "    def on_bar(self, ctx, ev):\n        if ctx.bar == 99:\n"
                              "            ctx.order('okx', 'spot', 1.0)\n")
    code, out = cli("run", "-s", f"{w}/buy.py:Buy", "--data", "cache:ETH/USDT", "--cache", root, "--out", w / "g-run")
    assert code == 0, out
    q = json.loads((w / "g-run" / "metrics.json").read_text())["data_quality"]
    f = q["venues"]["okx"]["funding"]
    # perp from 2025-01-01 00:00 to the last close 2025-02-10 00:00; settlements every 8 h from okx's spec:
    # before the first row (02-01 08:00): 01-01 08:00 .. 02-01 00:00 = 31 days x 3 = 93; the 32 h hole: 02-05 00:00,
    # 08:00 and 16:00 = 3; after the last row (02-10 00:00, the last close itself): 0
    assert (f["missing_before_first"], f["intervals_missing"] - f["missing_before_first"] - f["missing_after_last"],
            f["missing_after_last"]) == (93, 3, 0), f
    assert f["longest_gap"] == "1d 8h"
    spot = q["venues"]["okx"]["spot"]
    assert spot["bars_filled"] == 3 and spot["bars_missing"] == 3 and q["filled_total"] == 6
    assert q["orders_refused"] == {"okx spot bar missing (data gap)": 1}    # bar 100 was written by --fill-gaps
    assert "96 settlements missing" in out and "6 filled by an import" in out


@pytest.mark.skipif(not (SEVEN.is_file() and FREQTRADE.is_dir()), reason="../shared/data absent (fresh clone)")
def test_funding_gaps_on_real_seven_venue_funding_equal_an_independent_count(w: Path) -> None:
    """Item 10 on real files with holes: Gate's month-long hole, HTX's missed and late prints, and six venues
    whose funding starts seven months after the perp's window opens: `data_quality` equals an independent count
    of expected settlement times with no row within half an interval."""
    lower, upper = pd.Timestamp("2020-06-01", tz="UTC"), pd.Timestamp("2024-01-01", tz="UTC")
    for kind, f in (("spot", "spot/BTC_USDT-1h.feather"), ("perp", "futures/BTC_USDT_USDT-1h-futures.feather")):
        d = pd.read_feather(FREQTRADE / f)
        d[(d.date >= lower) & (d.date < upper)].rename(columns={"date": "ts"}).to_parquet(w / f"{kind}.parquet")
    venues = ("binance", "bybit", "gate", "htx", "kucoin", "mexc", "dydx")
    lines = ['symbol = "BTC/USDT"', 'timeframe = "1h"']
    for v in venues:
        lines += [f"[venues.{v}]", 'spot = "spot.parquet"', 'perp = "perp.parquet"',
                  f'funding = {{ file = "{SEVEN}", time = "timestamp_utc", columns = {{ rate = "funding_rate", '
                  f'interval_h = "interval_hours" }}, where = {{ exchange = "{v}", symbol = "BTC-USDT" }} }}']
    (w / "seven.toml").write_text("\n".join(lines) + "\n")
    from basisbt.data.sources import resolve_data
    from basisbt.engine.market import build_market
    q = build_market(resolve_data(str(w / "seven.toml"))).quality["venues"]
    raw = pd.read_csv(SEVEN)
    raw = raw[raw.symbol == "BTC-USDT"]
    got, want = {}, {}
    for v in venues:
        g = raw[raw.exchange == v]
        t = pd.to_datetime(g.timestamp_utc, utc=True)
        got[v] = q[v]["funding"]["intervals_missing"]
        want[v] = _independent_missing(t[(t > lower) & (t <= upper)], lower, upper, int(g.interval_hours.mode()[0]))
    assert got == want
    assert want["gate"] >= 93 and want["bybit"] > 600                       # the holes this test is about
