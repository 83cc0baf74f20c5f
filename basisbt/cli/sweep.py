"""`basisbt sweep`: a grid or a random sample over a strategy's parameters and datasets (basisbt/batch/sweep*.py do
the work: a sweep is a list of run specs; this module parses flags, shows progress and prints the table)."""
from __future__ import annotations

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
)
from basisbt.cli.options import message


def register(app: typer.Typer) -> None:
    """Add the `sweep` command to the basisbt Typer app."""

    @app.command("sweep")
    def sweep(
        strategy: str = typer.Option("perp_short", "--strategy", "-s",
                                     help="built-in name or path/to/file.py:ClassName"),
        data: list[str] = typer.Option([], "--data", "-d", show_default="scenario:feb-2025-crash",
                                       help="dataset (repeatable): scenario:NAME, cache[:SYMBOL] (several assets: "
                                            "cache:ETH/USDT,BTC/USDT) or a dataset .toml"),
        grid: list[str] = typer.Option([], "--grid", "-g", help="param=v1,v2,... (repeatable): every combination"),
        samples: int | None = typer.Option(None, "--samples", "-n",
                                              help="N random draws over the parameters' declared ranges"),
        seed: int = typer.Option(0, "--seed", help="seed of --samples"),
        vary: str | None = typer.Option(None, "--vary", help="with --samples: only these parameters, e.g. "
                                                                "leverage,hedge_ratio (default: all with a range)"),
        set_: list[str] = typer.Option([], "--set", help="fixed strategy parameter key=value (repeatable)"),
        start: str | None = typer.Option(None, "--start", help="first date to use (UTC)"),
        end: str | None = typer.Option(None, "--end", help="date to stop before (UTC)"),
        timeframe: str | None = typer.Option(None, "--timeframe", help="bar size for scenarios (1h default)"),
        cache_dir: Path | None = typer.Option(None, "--cache", help="cache dir for --data cache"),
        out_dir: Path | None = typer.Option(None, "--out", "-o",
                                               help="sweep directory (default runs/sweep-<strategy>); a rerun into "
                                                    "the same directory runs only the cells not stored yet"),
        jobs: int | None = typer.Option(None, "--jobs", "-j", show_default="all cores",
                                           help="worker processes (local, at most 4 per core) or LocalCluster workers"),
        scheduler: str | None = typer.Option(None, "--scheduler",
                                                help="run on Dask: tcp://HOST:PORT, or 'local' for a LocalCluster"),
        sort: str = typer.Option("apy", "--sort", help="metric (or parameter) the table is sorted by, best first"),
        ascending: bool = typer.Option(False, "--ascending", help="sort smallest first"),
        heatmap: str | None = typer.Option(None, "--heatmap", help="X,Y parameters of the heatmap "
                                                                      "(default: the two varied ones, if two)"),
        max_cells: int | None = typer.Option(None, "--max-cells", help="run at most N missing cells this time "
                                                                          "(the rest on a rerun)"),
        venues_dir: list[Path] = typer.Option([], "--venues-dir", help=VENUES_DIR_HELP),
        timeout: float | None = TimeoutOpt,
    ) -> None:
        """Run many metrics-only backtests over a parameter grid or sample and datasets; write results.parquet,
        results.csv (sorted by --sort), heatmap.png and report.html. Resumable: rerun to finish (cells that
        failed or were interrupted run again). Exit 1 when every cell failed."""
        from basisbt.batch.backends import check_scheduler
        from basisbt.batch.spec import checked_date
        from basisbt.batch.sweep import check_runs, publish, run_sweep, sort_keys, sort_table, write_table
        from basisbt.batch.sweep_plan import SweepError, plan_sweep
        from basisbt.batch.sweep_store import missing_cells
        from basisbt.data.errors import ConfigError
        from basisbt.reports.sweep import heatmap_png, write_report

        try:
            if jobs is not None and jobs < 1:
                raise SweepError(f"--jobs {jobs}: need at least 1")
            if max_cells is not None and max_cells < 0:
                raise SweepError(f"--max-cells {max_cells}: need 0 or more")
            run_keys = {k: checked_date(k, v) for k, v in (("start", start), ("end", end)) if v is not None}
            plan = plan_sweep(strategy, data, grid=grid, samples=samples, seed=seed,
                              vary=[v.strip() for v in vary.split(",") if v.strip()] if vary else None,
                              fixed=key_values(set_, "--set", "leverage=5"), run=run_keys, timeframe=timeframe,
                              cache_dir=str(cache_dir) if cache_dir else None,
                              venues_dirs=tuple(str(d) for d in venues_dir), timeout=timeout)
            if sort not in sort_keys(plan.axes):
                raise SweepError(f"--sort {sort!r}: not a metric or varied parameter; valid: "
                                 f"{', '.join(sort_keys(plan.axes))}")
            heat = _heat_axes(heatmap, plan.axes)
            check_scheduler(scheduler)
            out = out_dir or Path("runs") / f"sweep-{Path(strategy.split(':')[0]).stem}"
            where = batch_target(out, "sweep", jobs, scheduler)
            check_runs(plan)                    # what would fail every cell: refused once, before any cell
        except (SweepError, ConfigError) as e:
            if STATE["debug"]:
                raise
            fail(message(e))
        not_stored = len(missing_cells(plan, out))
        todo = min(not_stored, max_cells) if max_cells is not None else not_stored
        err.print(f"sweep: {len(plan.cells)} cells ({plan.mode}), {len(plan.cells) - not_stored} "
                  f"stored, running {todo} on {where}", highlight=False, markup=False)
        t0 = time.perf_counter()
        with count_progress("cells", todo) as advance:       # a ConfigError: one line from SafeGroup
            table = run_sweep(plan, out, jobs=jobs, scheduler=scheduler, max_cells=max_cells,
                              on_row=lambda row: advance(1))
        elapsed = time.perf_counter() - t0
        table = sort_table(table, sort, ascending)
        errors = table["error"].fillna("").astype(str) if "error" in table.columns else None
        n_failed = int((errors != "").sum()) if errors is not None else 0
        first_error = next((e for e in errors if e), "") if n_failed else ""
        if n_failed and n_failed == len(table):      # nothing ran: nothing is written, the directory stays
            fail(f"all {n_failed} cells failed, nothing written; the first: {first_error}", FAILED)

        def views(stage: Path) -> list[str]:
            pq, csv = write_table(table, stage)
            png = heatmap_png(table, heat[0], heat[1], sort, stage / "heatmap.png") if heat and len(table) else None
            page = write_report(table, stage, strategy=strategy, datas=list(plan.datas), mode=plan.mode, sort=sort,
                                axes=list(plan.axes), fixed=plan.fixed, heatmap=png, heat_axes=heat)
            return [pq.name, csv.name, "heatmap.png" if png else "", page.name]
        files = publish(plan, out, views)
        _print_table(table, plan.axes, sort)
        missing = len(plan.cells) - len(table)
        rate = f", {todo / elapsed:.1f} cells/s" if todo and elapsed > 0 else ""
        stored = len(table) - n_failed
        err.print(f"ran {todo} cells in {elapsed:.1f}s{rate}; " +
                  (f"{missing} still missing (rerun to finish)" if missing else
                   f"{stored} of {len(plan.cells)} cells stored" if n_failed else f"all {stored} cells stored"),
                  highlight=False, markup=False)
        if n_failed:      # a partial failure is a result (a region where the strategy cannot run): exit 0, said loudly
            err.print(f"{n_failed} of {len(table)} cells failed (their error is in results.csv; a rerun tries them "
                      f"again); the first: {first_error}", highlight=False, markup=False)
        typer.echo(f"wrote {out}/ ({', '.join(f for f in files if f)})")


def _heat_axes(option: str | None, axes: tuple[str, ...]) -> tuple[str, str] | None:
    """The heatmap's (x, y) parameters: --heatmap X,Y, or the two varied ones when exactly two vary."""
    from basisbt.batch.sweep_plan import SweepError
    if option is None:
        return (axes[0], axes[1]) if len(axes) == 2 else None
    xy = [a.strip() for a in option.split(",")]
    if len(xy) != 2 or xy[0] == xy[1]:
        raise SweepError(f"--heatmap {option!r}: expected two different parameters X,Y")
    for a in xy:
        if a not in axes:
            raise SweepError(f"--heatmap {a!r}: not a varied parameter; varied: {', '.join(axes) or 'none'}")
    return xy[0], xy[1]


def _print_table(table, axes: tuple[str, ...], sort: str, rows: int = 15) -> None:
    """The best `rows` cells on the terminal, formatted as the run report formats them. One dataset is named
    in the title; with several, the data column folds instead of being cut to "scenario…"."""
    from rich.console import Console

    from basisbt.reports.sweep import short_window_note, table_rows
    datas = list(dict.fromkeys(str(d) for d in table["data"])) if "data" in table.columns else []
    cols = [c for c in ["data", *axes, *dict.fromkeys((sort, "apy", "sharpe", "max_drawdown", "liquidations"))]
            if c in table.columns and not (c == "data" and len(datas) == 1)]
    title = f"best {min(rows, len(table))} of {len(table)} cells by {sort}"
    t = Table(title=title + (f", data {datas[0]}" if len(datas) == 1 else ""), title_justify="left")
    for c in cols:
        if c == "data":
            t.add_column("data", overflow="fold", ratio=1)
        else:
            t.add_column(escape(c), justify="left" if c in axes else "right", no_wrap=True)
    for row in table_rows(table, cols, rows):
        t.add_row(*(escape(x) for x in row))
    console = Console()
    console.print(t)
    note = short_window_note(table.head(rows), cols)
    if note:
        console.print(escape(note), highlight=False)
