"""The `basisbt` command line (docs/architecture.md §9). typer and rich live only in basisbt/cli/*.py.

Exit codes: 0 ok; 1 a run that failed its own checks; 2 bad input or usage (one line naming the
file/row/rule or the bad parameter and the valid ones; the traceback only with --debug); 3 the
environment failed (permissions, read-only or full disk, network), one line naming the path.
"""
from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from basisbt.cli.common import STATE, VENUES_DIR_HELP, SafeGroup, TimeoutOpt, err, fail, key_values, one_line
from basisbt.cli.options import message, run_kwargs
from basisbt.data.names import slug
from basisbt.data.phases import lap, phase, started

app = typer.Typer(
    name="basisbt",
    help="Backtest crypto basis and funding strategies: delta-neutral perp shorts, funding allocation "
         "across venues, lending rotation and synthetic dollars, with margin and liquidation by mark price.\n\n"
         "Start with `basisbt run` (perp_short on the embedded feb-2025-crash scenario), then "
         "`basisbt scenarios` and `basisbt strategies`.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, cls=SafeGroup)
out = Console()
CONFIG_HELP = escape("run TOML: run keys at top level, strategy params under [params]")


@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="show full tracebacks on errors")) -> None:
    STATE["debug"] = debug


def _slug(text: str) -> str:
    return slug(text.replace("scenario:", ""))


def default_run_name(res) -> str:
    """`<strategy>-<data>-<first day>-<last day>-<config id[:8]>`: distinct runs get distinct directories.

    The same strategy, parameters, config and span give the same name, so a rerun replaces its
    earlier run (whole) and never merges with it.
    """
    idx = res.timeline["ts"] if "ts" in res.timeline.columns else res.timeline.index
    days = "-".join(f"{t:%Y%m%d}" for t in (idx[0], idx[-1])) if len(idx) else "empty"
    return f"{_slug(res.strategy)[:40]}-{_slug(res.dataset)[-48:].strip('-')}-{days}-{res.config_id[:8]}"


@app.command()
def run(
    strategy: str | None = typer.Option(
        None, "--strategy", "-s", show_default="perp_short",
        help="built-in name (see `basisbt strategies`) or path/to/file.py:ClassName"),
    data: str | None = typer.Option(
        None, "--data", "-d", show_default="scenario:feb-2025-crash",
        help="scenario:NAME[:SEED] (see `basisbt scenarios`), cache[:SYMBOL] (several assets: cache:ETH/USDT,BTC/USDT, "
             "the first is primary), a dataset .toml, or a stress path stress:SEED:PATH[:key=value,...]"),
    config: Path | None = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
    set_: list[str] = typer.Option([], "--set", help="strategy parameter key=value (repeatable), "
                                                     "e.g. --set collateral=usdt --set leverage=5"),
    start: str | None = typer.Option(None, "--start", help="first date to use (UTC, e.g. 2025-02-01)"),
    end: str | None = typer.Option(None, "--end", help="date to stop before (UTC)"),
    timeframe: str | None = typer.Option(None, "--timeframe", help="bar size for scenarios (default: the scenario's own, 1h for most; see `basisbt scenarios`)"),
    fill: str | None = typer.Option(None, "--fill", help="'open' (next bar's open, default) or 'close'"),
    out_dir: Path | None = typer.Option(
        None, "--out", "-o", help="run directory, written whole and replacing an earlier run there "
                                  "(default runs/<strategy>-<data>-<first day>-<last day>-<config id>)"),
    strict: bool = typer.Option(False, "--strict", help="refuse data with missing bars or funding inside a gap "
                                                        "(exit 2) instead of pricing them stale and counting them"),
    cache_dir: Path | None = typer.Option(None, "--cache",
                                             help="cache dir for --data cache (default $BASISBT_CACHE or ~/.cache/basisbt)"),
    venues: str | None = typer.Option(None, "--venues", help="use only these venues of the data, e.g. binance,bybit"),
    venues_dir: list[Path] = typer.Option([], "--venues-dir", help=VENUES_DIR_HELP),
    spot_from: str | None = typer.Option(None, "--spot-from",
                                            help="price every venue's spot leg from this venue's spot bars "
                                                 "(spot held in custody, perps on the venues)"),
    benchmark: str | None = typer.Option(None, "--benchmark",
                                            help="compare a recorded series with an outside one: FILE.csv:COLUMN"
                                                 "[:SERIES], SERIES = staker_apy (default when recorded), nav, "
                                                 "backing_ratio or a timeline column; correlation and mean "
                                                 "difference of daily means go to metrics.json and the report"),
    benchmark_unit: str = typer.Option("auto", "--benchmark-unit",
                                       help="units of the benchmark column: fraction, percent, or auto (10x-3000x the "
                                            "run's series is percent)"),
    benchmark_time: str | None = typer.Option(None, "--benchmark-time",
                                                 help="the benchmark file's time column (default: a ts/time/"
                                                      "timestamp/date column; unix s/ms/us/ns or ISO 8601)"),
    timeout: float | None = TimeoutOpt,
    csv: bool = typer.Option(False, "--csv", help="write the equity, ledger, fills and extras tables as CSV "
                                                  "instead of Parquet (slower on long runs: ~35 s for a year of 1m bars)"),
) -> None:
    """Run one backtest and write its run directory (metrics.json, tables, report.html, report.md, run.toml).
    Every option is a keyword of the Python `bb.run` (docs/api.md), which this command calls."""
    if STATE.get("console"):            # the chart helper imports matplotlib while this process loads numba
        from basisbt.reports.chartproc import prewarm
        prewarm()
    import basisbt as bb
    from basisbt.batch.execute import load_engine
    from basisbt.engine.runner import StrategyError
    from basisbt.memory import prefer_small_pages
    from basisbt.reports.writers import RunTargetError, check_run_target, write_run
    load_engine()
    lap("import the engine (pandas, numba)")
    prefer_small_pages()

    given = {"--strategy": strategy, "--data": data, "--config": config, "--start": start, "--end": end,
             "--timeframe": timeframe, "--fill": fill, "--strict": strict, "--timeout": timeout,
             "--cache": cache_dir, "--venues": venues, "--venues-dir": venues_dir, "--spot-from": spot_from,
             "--benchmark": benchmark, "--benchmark-time": benchmark_time,
             "--benchmark-unit": None if benchmark_unit == "auto" else benchmark_unit}
    t0 = time.perf_counter()
    try:
        if out_dir is not None:
            check_run_target(out_dir)          # refuse a file or a foreign directory before running
        kw = run_kwargs({**given, "--set": key_values(set_, "--set", "leverage=5") or None})
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                      TextColumn("{task.completed}/{task.total} bars"), TimeElapsedColumn(), TimeRemainingColumn(),
                      console=err, transient=True, disable=not err.is_terminal) as prog:
            task = prog.add_task(f"{strategy or 'perp_short'} on {data or 'the default data'}", total=None)
            last = [0.0]

            def tick(done: int, total: int) -> None:
                now = time.perf_counter()
                if now - last[0] > 0.1 or done == total:
                    prog.update(task, completed=done, total=total)
                    last[0] = now
            res = bb.run(**kw, progress=tick)
    except (ValueError, StrategyError, RunTargetError) as e:   # ConfigError, DataError, MarketError, ... too
        if STATE["debug"]:
            raise
        fail(message(e))
    elapsed = time.perf_counter() - t0
    t1 = time.perf_counter()
    target = out_dir or Path("runs") / default_run_name(res)
    with phase("metrics"):
        metrics = res.metrics()
    try:
        with phase("write run directory"):
            write_run(res, target, csv=csv, metrics=metrics)
    except RunTargetError as e:
        fail(str(e))
    with phase("summary"):
        _summary(res, target, (elapsed, time.perf_counter() - t1), "csv" if csv else "parquet", metrics)


def _gaps_line(q: dict) -> str:
    """One line of the data_quality block: what was priced stale or refused (details in metrics.json)."""
    refused = sum((q.get("orders_refused") or {}).values())
    stale, f_stale = q.get("stale_total", 0), q.get("funding_priced_stale_total", 0)
    f_missing, filled = q.get("funding_missing_total", 0), q.get("filled_total", 0)
    if not (stale or f_stale or refused or f_missing):
        return "none"
    return (f"{stale} stale bars{f' ({filled} filled by an import)' if filled else ''}, {f_stale} settlements "
            f"priced stale, {f_missing} settlements missing, {refused} orders refused")


def _fmt(x: float | None, spec: str = ".2f") -> str:
    """A metric formatted, or n/a where it is undefined (None: e.g. a return once equity reached zero)."""
    return "n/a" if x is None else format(x, spec)


def _refusals_line(m: dict) -> str:
    """One line: orders and money moves the venues refused (metrics.json orders_rejected) and redemptions paid on
    credit (data_quality.outflows_on_credit): what a strategy asked for and did not get as asked."""
    n = m.get("orders_rejected_total", 0)
    credit = (m.get("data_quality") or {}).get("outflows_on_credit") or {}
    owed = sum(c["amount"] for c in credit.values())
    text = "none" if not n else f"{n} (by kind in metrics.json orders_rejected)"
    if credit:
        text += f"; {sum(c['count'] for c in credit.values())} outflows paid on credit ({owed:,.2f} beyond the cash)"
    return text


def _summary(res, target: Path, elapsed: tuple[float, float], tables: str = "parquet", m: dict | None = None) -> None:
    """The run's headline table and where its files went; `elapsed`: (run, metrics + files + report) seconds."""
    m = m or res.metrics()
    t = Table(title=f"{res.strategy} on {res.dataset}", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column(justify="right")
    pnl = m["pnl"]
    # a window under 90 days: its annualized figures are extrapolations and say so
    ann = f" (annualized from {m['days']:.1f} days)" if m["window"]["short"] else ""
    rows = [
        ("equity start → end", f"{m['equity_start']:,.2f} → {m['equity_end']:,.2f}"),
        ("total return / APY", f"{_fmt(m['total_return'], '.4%')} / {_fmt(m['apy'], '.2%')}{ann}"),
        ("max drawdown", f"{_fmt(m['max_drawdown'], '.3%')} over {_fmt(m['max_drawdown_days'], '.1f')} days"),
        ("sharpe / sortino", f"{_fmt(m['sharpe'])} / {_fmt(m['sortino'])}{ann}"),
        ("funding received / paid", f"{m['funding_received']:,.2f} / {m['funding_paid']:,.2f}"
         f" (capture ratio {_fmt(m['funding_capture_ratio'], '.1%')})"),
        ("liquidations", str(m["liquidations"])),
        ("fills", str(m["n_fills"])),
        ("data gaps", _gaps_line(m.get("data_quality") or {})),
        ("refused by venues", _refusals_line(m)),
    ]
    if m.get("benchmark"):
        b = m["benchmark"]
        rows.append((f"{b['series']} vs {b['column']}",
                     f"correlation {_fmt(b['correlation'])}, mean difference "
                     f"{_fmt(b['mean_difference'], '.4g')} "
                     f"over {b['days']} days"))
    for part in ("funding", "basis", "price", "fees", "slippage", "lending", "liquidation"):
        rows.append((f"pnl {part}", f"{pnl[part]:,.2f}"))
    rows.append(("pnl total", f"{pnl['total']:,.2f}"))
    for k, v in rows:
        t.add_row(k, v)
    out.print(t)
    for line in res.log[:8]:       # a strategy's ctx.log may be megabytes: the terminal gets its start, run.log all
        err.print(f"[dim]log: {escape(one_line(line))}[/dim]", highlight=False)
    if len(res.log) > 8:
        err.print(f"[dim]log: … {len(res.log) - 8} more lines in {target}/run.log[/dim]")
    out.print(f"wrote {target}/ (report.html, report.md, metrics.json, equity.{tables}, ledger.{tables}, "
              f"fills.{tables}, run.toml): run {elapsed[0]:.2f} s, files and report {elapsed[1]:.2f} s")


@app.command()
def scenarios() -> None:
    """List the embedded scenarios: what each models, what it stresses, and whether it is real data (and from where)."""
    from basisbt.data.scenarios import list_scenarios
    t = Table(title="embedded scenarios (use --data scenario:NAME)")
    t.add_column("name", style="bold", no_wrap=True)
    t.add_column("data")
    t.add_column("what it is")
    t.add_column("what it stresses")
    infos = list_scenarios(real_data=True, multi_asset=True, other_venues=True)
    for s in infos:
        kind = f"real: {s.source}" if s.real else "synthetic, seeded"
        if s.multi_asset:
            kind += f"; assets {', '.join(s.assets)} (first is primary)"
        kind += f"; {s.timeframe} bars by default"
        t.add_row(escape(s.name), escape(kind), escape(s.summary), escape(s.stresses))
    out.print(t)
    out.print("settings that show each one (basisbt run --data scenario:NAME ...):", markup=False)
    for s in infos:
        out.print(f"  {s.name}: {s.shows}", markup=False, soft_wrap=True)


@app.command()
def strategies() -> None:
    """List strategies with their parameters, types, defaults and docs."""
    from basisbt.strategies.registry import builtin_strategies
    for name, cls in sorted(builtin_strategies().items()):
        t = Table(title=escape(f"{name}: {cls.summary}  (decides: {cls.decide})"), title_justify="left")
        t.add_column("parameter", style="bold")
        t.add_column("type")
        t.add_column("default")
        t.add_column("meaning")
        for pname, typ, default, doc in cls.param_table():
            t.add_row(escape(pname), escape(str(typ)), escape(repr(default)), escape(doc))
        out.print(t)
    out.print("Set parameters with --set key=value or a [params] table in --config FILE.toml; "
              "run your own with --strategy path/to/file.py:ClassName.", markup=False)


def _register_commands() -> None:
    """The import/fetch/data, report, regress, sweep and stress commands live in their own modules."""
    from basisbt.cli import data, regress, report, stress, sweep
    for m in (data, report, regress, sweep, stress):
        m.register(app)


_register_commands()


def main() -> None:
    """Console-script entry point. When the command is done the process leaves without tearing the
    interpreter down: the atexit handlers run and the streams are flushed, but numba, pandas and matplotlib
    are not freed module by module (that took ~0.35 s of every `basisbt run`)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    from basisbt.engine.guard import install_sigint
    install_sigint()
    started()
    STATE["console"] = True
    try:
        app()
    except SystemExit as e:
        _leave(e.code)
    _leave(0)


def _leave(code: object) -> None:
    """Exit now with `code` (SystemExit's: None, an int, or a message for stderr and 1) after atexit."""
    import atexit
    import sys
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
