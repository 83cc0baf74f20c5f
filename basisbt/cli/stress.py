"""`basisbt stress`: Monte Carlo over generated market paths for one strategy (basisbt/batch/stress.py does the
work: one run spec per path; this module parses flags, shows progress and prints the probabilities)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from basisbt.cli.common import (
    FAILED,
    STATE,
    VENUES_DIR_HELP,
    TimeoutOpt,
    batch_target,
    count_progress,
    err,
    fail,
    key_values,
    venue_source,
)
from basisbt.cli.options import message


def register(app: typer.Typer) -> None:
    """Add the `stress` command to the basisbt Typer app."""

    @app.command("stress")
    def stress(
        strategy: str = typer.Option("synthetic_dollar", "--strategy", "-s",
                                     help="built-in name or path/to/file.py:ClassName"),
        paths: int = typer.Option(200, "--paths", "-n", help="number of generated market paths"),
        seed: int = typer.Option(0, "--seed", help="seed: path k of seed s is always the same market"),
        days: int = typer.Option(365, "--days", help="horizon of each path (hourly bars)"),
        model: list[str] = typer.Option([], "--model", "-m",
                                        help="path-model parameter key=value (repeatable), e.g. spell_days=30; "
                                             "see docs/stress.md for the list"),
        history: str | None = typer.Option(None, "--history",
                                              help="bootstrap funding from this data (cache:ETH/USDT, a dataset "
                                                   ".toml, scenario:NAME) instead of the regime model"),
        set_: list[str] = typer.Option([], "--set", help="strategy parameter key=value (repeatable)"),
        decide: str | None = typer.Option(None, "--decide", show_default="the strategy's own",
                                             help="decision cadence: 'bar', 'funding' or every N bars (24 = daily "
                                                  "is ~4x faster than hourly for synthetic_dollar)"),
        capital: float = typer.Option(1_000_000.0, "--capital", help="initial capital (quote)"),
        out_dir: Path | None = typer.Option(None, "--out", "-o",
                                               help="output directory (default runs/stress-<strategy>-s<seed>-n<paths>)"),
        jobs: int | None = typer.Option(None, "--jobs", "-j", show_default="all cores",
                                           help="worker processes (local, at most 4 per core) or LocalCluster workers"),
        scheduler: str | None = typer.Option(None, "--scheduler",
                                                help="run on Dask: tcp://HOST:PORT, or 'local' for a LocalCluster"),
        venues_dir: list[Path] = typer.Option([], "--venues-dir", help=VENUES_DIR_HELP),
        timeout: float | None = TimeoutOpt,
    ) -> None:
        """Run a strategy over many generated market paths (negative-funding spells, jumps, basis shocks,
        redemption waves) and report how often it is liquidated, its reserve runs out, its backing falls
        below 1 or its yield turns negative, with 95 % intervals; fan charts of NAV and backing ratio.
        Writes paths.parquet, paths.csv, summary.json, fan.png and report.html. Exit 1 when every path failed."""
        from basisbt.batch.backends import check_scheduler
        from basisbt.batch.stress import MAX_PATHS, StressPlan, check_stress
        from basisbt.data.checks import build_dataclass
        from basisbt.data.errors import ConfigError
        from basisbt.data.stress.model import StressModel
        from basisbt.engine.config import RunConfig
        from basisbt.strategies.registry import instantiate, load_strategy_class

        try:
            if not 1 <= paths <= MAX_PATHS:
                raise ConfigError(f"--paths {paths}: give 1 to {MAX_PATHS:,}")
            if seed < 0:
                raise ConfigError(f"--seed {seed}: need 0 or more")
            if jobs is not None and jobs < 1:
                raise ConfigError(f"--jobs {jobs}: need at least 1")
            overrides = key_values(model, "--model", "spell_days=30")
            if "days" in overrides:
                raise ConfigError("--model days=...: use --days")
            try:
                StressModel.with_overrides({"days": str(days)})
            except ConfigError as e:
                raise ConfigError(f"--days {days}: {str(e).split(': ', 1)[-1]}") from None
            m = StressModel.with_overrides({**overrides, "days": str(days)})
            params = key_values(set_, "--set", "reserve_share=0.3")
            cls = load_strategy_class(strategy)
            instantiate(cls, params)                            # bad parameters: one line before any path runs
            run: dict = {"initial_capital": capital}
            if decide is not None:
                run["decide"] = decide
            if timeout is not None:
                run["timeout"] = timeout
            build_dataclass(RunConfig, run, "run config key")
            check_scheduler(scheduler)
            if history is not None:
                from basisbt.data.sources import resolve_data
                from basisbt.data.stress.bootstrap import FundingHistory
                FundingHistory.from_dataset(resolve_data(history))
            venue_source(venues_dir)                             # a bad --venues-dir: one line before any path runs
            plan = StressPlan(strategy=strategy, params=params, model=m, paths=paths, seed=seed, run=run,
                              history=history, venues_dirs=tuple(str(d) for d in venues_dir))
            out = out_dir or Path("runs") / f"stress-{Path(strategy.split(':')[0]).stem}-s{seed}-n{paths}"
            where = batch_target(out, "stress", jobs, scheduler)
            check_stress(plan)                    # limits, and what would fail every path: once, before any
        except ValueError as e:                   # ConfigError, BatchError, DataError ...
            if STATE["debug"]:
                raise
            fail(message(e))
        err.print(f"stress: {paths} paths of {days} days, funding from "
                  f"{history or 'the regime model'}, on {where}", highlight=False, markup=False)
        t0 = time.perf_counter()
        with count_progress("paths", paths) as advance:       # a ConfigError: one line from SafeGroup
            from basisbt.batch.stress import run_stress
            table = run_stress(plan, jobs=jobs, scheduler=scheduler, on_chunk=lambda c: advance(len(c["rows"])))
        elapsed = time.perf_counter() - t0
        failed = table["error"].astype(str) != ""
        if failed.all():                       # nothing to summarize: nothing is written, the directory stays
            fail(f"all {len(table)} paths failed, nothing written; the first: {table['error'].iloc[0]}", FAILED)
        files, summary = write_outputs(plan, table, out)
        _print_summary(summary)
        err.print(f"ran {paths} paths in {elapsed:.1f}s ({paths / elapsed:.1f} paths/s)", highlight=False,
                  markup=False)
        if failed.any():   # a path that fails is counted (summary.json paths_failed), the others are the result
            err.print(f"{int(failed.sum())} of {len(table)} paths failed (left out of the probabilities; counted "
                      f"in summary.json paths_failed); the first: {table.loc[failed, 'error'].iloc[0]}",
                      highlight=False, markup=False, soft_wrap=True)
        typer.echo(f"wrote {out}/ ({', '.join(files)})")


def write_outputs(plan, table, out: Path) -> tuple[list[str], dict]:
    """paths.parquet / paths.csv (one row per path), summary.json, fan.png and report.html, written together
    into a staging directory that then replaces `out` whole (reports/writers.replace_whole); returns the file
    names and summary.json's content."""
    from basisbt.reports.writers import replace_whole
    return replace_whole(out, "stress", lambda stage: _write_files(plan, table, stage))


def _write_files(plan, table, out: Path) -> tuple[list[str], dict]:
    from basisbt.data.safe_io import atomic_write, atomic_write_text
    from basisbt.reports.metrics import json_safe
    from basisbt.reports.stress import fan_png, write_report
    from basisbt.reports.stress_summary import summarize
    atomic_write(out / "paths.parquet", lambda tmp: table.to_parquet(tmp, index=False))
    flat = table.drop(columns=[c for c in ("nav_daily", "backing_daily") if c in table.columns])
    atomic_write_text(out / "paths.csv", flat.to_csv(index=False))
    summary = summarize(table)
    doc = json_safe({"strategy": plan.strategy, "params": plan.params, "seed": plan.seed, "paths": plan.paths,
                     "funding_source": plan.history or "regime model", "model": plan.model.as_dict(), "run": plan.run,
                     **summary})
    atomic_write_text(out / "summary.json", json.dumps(doc, indent=2, sort_keys=True) + "\n")
    png = fan_png(table, out / "fan.png")
    write_report(table, summary, out, strategy=plan.strategy, params=plan.params, model=plan.model.as_dict(),
                 seed=plan.seed, source=plan.history or "the regime model", fan_bytes=png, run=plan.run)
    return ["paths.parquet", "paths.csv", "summary.json", "fan.png", "report.html"], doc


def _print_summary(s: dict) -> None:
    from rich.console import Console

    from basisbt.reports.stress import OUTCOME_TEXT, _pct, interval
    t = Table(title=f"{s['strategy']}: {s['paths']} paths", title_justify="left")
    for c in ("outcome", "paths", "probability", "95 % interval"):
        t.add_column(c, justify="left" if c == "outcome" else "right")
    for k, text in OUTCOME_TEXT.items():
        o = s[k]
        t.add_row(escape(text), str(o["paths"]), _pct(o["p"]), interval(*o["ci95"]))
    apy = s.get("apy")
    if apy:
        t.add_row("APY median (5 % – 95 %)", "", _pct(apy["median"]), interval(apy["p5"], apy["p95"]))
    Console().print(t)
