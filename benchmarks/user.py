"""(u) What the user waits for: whole commands in fresh processes, and where each second of them went.

Each command runs as a user runs it (the `basisbt` console script, a warm numba cache), several times; the
best wall time is reported with its median, the CPU seconds of the process and its children (the chart
helper), and the load average around it: on a shared machine a wall time with a load average above the
core count is noise and is flagged as such. `basisbt run` is run with BASISBT_PHASES set, so the phases it
went through (basisbt/phases.py: start-up, load, run, each table, each chart, commit) come with the best run.
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _exe() -> list[str]:
    exe = Path(sys.executable).with_name("basisbt")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "basisbt.cli.app"]


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed_command(argv: list[str], repeat: int, *, phases: bool = False, cwd: Path = ROOT) -> dict[str, Any]:
    """Run argv `repeat` times: best and median wall, the CPU of the best run, its phases, the load average."""
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(repeat):
            env = dict(os.environ, MPLBACKEND="Agg")
            log = Path(tmp) / f"phases-{k}.jsonl"
            if phases:
                env.update(BASISBT_PHASES=str(log), BASISBT_PHASES_T0=repr(time.time()))
            load = os.getloadavg()[0]
            cpu0, t0 = _cpu_children(), time.perf_counter()
            out = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
            wall, cpu = time.perf_counter() - t0, _cpu_children() - cpu0
            if out.returncode != 0:
                raise RuntimeError(f"{' '.join(argv)} exited {out.returncode}: {out.stderr.strip()[-400:]}")
            rows = json.loads(log.read_text().splitlines()[-1]) if phases and log.exists() else []
            runs.append({"wall_s": wall, "cpu_s": cpu, "load_avg": max(load, os.getloadavg()[0]), "phases": rows})
    best = min(runs, key=lambda r: r["wall_s"])
    cores = os.cpu_count() or 1
    return {"cmd": " ".join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv)),
            "best_s": best["wall_s"], "median_s": statistics.median(r["wall_s"] for r in runs),
            "cpu_s": best["cpu_s"], "load_avg": best["load_avg"], "noisy": best["load_avg"] > 0.5 * cores,
            "runs": len(runs), "phases": best["phases"]}


def imports(repeat: int = 5) -> dict[str, Any]:
    """`import basisbt` and the listing commands, in fresh processes."""
    py = [sys.executable, "-c", "import basisbt"]
    return {"import basisbt": timed_command(py, repeat),
            **{f"basisbt {c}": timed_command([*_exe(), c], repeat) for c in ("--help", "scenarios", "strategies")}}


def default_run(repeat: int = 3) -> dict[str, Any]:
    """`basisbt run` with its defaults (perp_short on feb-2025-crash, 3 weeks hourly), report written; the
    numba cache warmed by one run first."""
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([*_exe(), "run", "--out", f"{d}/warm"], cwd=ROOT, capture_output=True, check=True,
                       env=dict(os.environ, MPLBACKEND="Agg"))
        return timed_command([*_exe(), "run", "--out", f"{d}/run"], repeat, phases=True)


def write_cache(ds: Any, root: str) -> None:
    """The benchmark Dataset as a basisbt cache (what `--data cache:ETH/USDT --timeframe 1m` reads)."""
    from basisbt.data import cache
    items = []
    for stream, key, frame in ds.frames():
        sym = ds.symbol if stream == "spot" else (key.upper() if stream == "lending" else f"{ds.symbol}:USDT")
        items.append((cache.key_for(stream, key, sym, ds.timeframe), frame, f"bench:{stream}/{key}"))
    cache.write_many(root, items)


def year_run(ds: Any, repeat: int = 2) -> dict[str, Any]:
    """`basisbt run --data cache:ETH/USDT --timeframe 1m` on the benchmark year, from a cache to a complete run
    directory with its report."""
    with tempfile.TemporaryDirectory() as root:
        write_cache(ds, root)
        argv = [*_exe(), "run", "--data", f"cache:{ds.symbol}", "--timeframe", ds.timeframe, "--cache", root,
                "--out", f"{root}/run"]
        out = timed_command(argv, repeat, phases=True)
        out["files_mb"] = {p.name: round(p.stat().st_size / 1e6, 2) for p in sorted(Path(root, "run").iterdir())}
    out["cmd"] = f"basisbt run --data cache:{ds.symbol} --timeframe {ds.timeframe} --cache CACHE --out DIR"
    return out


def print_command(name: str, r: dict[str, Any], target: float | None = None) -> None:
    flag = " NOISY (load average above half the cores)" if r["noisy"] else ""
    want = f"  [target < {target:g} s: {'met' if r['best_s'] < target else 'MISSED'}]" if target else ""
    print(f"  (u) {name:<22}: {r['best_s']:6.2f} s best of {r['runs']} (median {r['median_s']:.2f}, "
          f"CPU {r['cpu_s']:.2f} s, load {r['load_avg']:.1f}){want}{flag}", flush=True)


def print_phases(r: dict[str, Any]) -> None:
    """The phases of the best run, one line each; phases on other threads are marked (they overlap)."""
    for row in r["phases"]:
        where = "" if row["thread"] == "MainThread" else f"   (thread {row['thread']}, overlaps the main thread)"
        print(f"        {row['phase']:<48} {row['s']:7.3f} s{where}")
    main = sum(x["s"] for x in r["phases"] if x["thread"] == "MainThread" and x["phase"] in TOP_LEVEL)
    print(f"        {'(exit and anything not in a phase)':<48} {r['best_s'] - main:7.3f} s")


# the phases that do not nest inside another one (basisbt/cli/app.py `run`): their sum is the command
TOP_LEVEL = ("start-up and imports", "import the engine (pandas, numba)", "load data", "engine set-up (align data, build arrays)",
             "run (kernels, hooks, Results frames)", "metrics", "write run directory", "summary")
