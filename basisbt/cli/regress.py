"""`basisbt regress`: rerun the golden cases, print what moved, exit 1 on drift / stale / missing.

`register(app)` adds the command to the basisbt Typer app (basisbt/cli/app.py finds this module).
The cases, golden files and comparison live in basisbt/regress/golden.py.
"""
from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from basisbt.cli.common import VENUES_DIR_HELP

MAX_ROWS_PER_CASE = 15
_STYLE = {"pass": "green", "unchanged": "green", "updated": "cyan", "skipped": "dim", "drift": "red",
          "stale": "magenta", "missing": "yellow", "error": "red", "check-failed": "red"}


def _fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.10g}"
    return str(v)


def _delta(m) -> str:
    d, r = m.delta, m.rel
    if m.missing_side == "golden":
        return "new key"
    if m.missing_side == "now":
        return "key gone"
    if d is None:
        return "changed"
    return f"{d:+.6g} ({r:+.2e})" if r is not None and r == r and abs(r) != float("inf") else f"{d:+.6g}"


def register(app: typer.Typer) -> None:
    """Add the `regress` command to the basisbt Typer app."""

    @app.command("regress")
    def regress_cmd(
        update: bool = typer.Option(False, "--update", help="re-bless: run the independent checks and rewrite "
                                                           "the golden files of the cases that pass them"),
        only: list[str] = typer.Option([], "--only", help="case name, strategy, dataset or glob on the case "
                                                          "name (repeatable), e.g. --only perp_short"),
        cases_file: Path | None = typer.Option(None, "--cases", help="cases TOML (default ./basisbt-golden.toml "
                                                                        "if present, else the built-in cases)"),
        golden_dir: Path | None = typer.Option(None, "--golden-dir", help="where golden files live "
                                                                             "(default tests/golden)"),
        venues_dir: list[Path] = typer.Option([], "--venues-dir", help=VENUES_DIR_HELP),
    ) -> None:
        """Golden strategy returns: rerun every case and compare with its golden file at rtol 1e-9.

        Exit 0 when every case passes; 1 on drift, a stale golden (config or data changed), a
        missing golden, a failed run or a failed bless check; 2 on bad input.
        """
        from basisbt.cli.common import fail, venue_source
        from basisbt.regress.golden import GoldenError, default_cases, orphans, regress, select
        out, err = Console(), Console(stderr=True)
        source = venue_source(venues_dir)
        try:
            cases, gdir = default_cases(cases_file)
        except GoldenError as e:
            fail(str(e))
        gdir = golden_dir or gdir
        chosen = select(cases, only)
        if not chosen:
            fail(f"--only {' '.join(only)} matches no case; cases: {', '.join(c.name for c in cases)}")
        t0 = time.perf_counter()

        def tick(oc) -> None:
            err.print(f"[{_STYLE.get(oc.status, '')}]{oc.status:>12}[/] {oc.case.name}  [dim]{oc.seconds:.2f}s[/dim]",
                      highlight=False)

        from basisbt.cli.options import FLAGS
        outcomes = regress(chosen, gdir, update=update, on_case=tick, venues=source, names=FLAGS)
        elapsed = time.perf_counter() - t0

        table = Table(title=f"golden returns vs {gdir}", title_justify="left")
        for col, just in (("case", "left"), ("status", "left"), ("metric", "left"), ("golden", "right"),
                          ("now", "right"), ("delta (rel)", "right")):
            table.add_column(col, justify=just, overflow="fold")
        for oc in outcomes:
            style = _STYLE.get(oc.status, "")
            if oc.status in ("pass", "unchanged", "skipped") and not oc.message:
                continue
            rows = [(m.key, _fmt(m.golden), _fmt(m.now), "identity") for m in oc.identity]
            moved = sorted(oc.moved, key=lambda m: -(abs(m.rel) if m.rel is not None and m.rel == m.rel else 1e300))
            rows += [(m.key, _fmt(m.golden), _fmt(m.now), _delta(m)) for m in moved[:MAX_ROWS_PER_CASE]]
            if len(moved) > MAX_ROWS_PER_CASE:
                rows.append((f"… {len(moved) - MAX_ROWS_PER_CASE} more keys moved", "", "", ""))
            if oc.message:
                rows.insert(0, (oc.message, "", "", ""))
            if not rows:
                rows = [("", "", "", "")]
            for k, (key, g, n, d) in enumerate(rows):
                table.add_row(oc.case.name if k == 0 else "", f"[{style}]{oc.status}[/]" if k == 0 else "",
                              key, g, n, d)
        if table.row_count:
            out.print(table)
        counts: dict[str, int] = {}
        for oc in outcomes:
            counts[oc.status] = counts.get(oc.status, 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        out.print(f"{len(outcomes)} cases in {elapsed:.1f}s: {summary}")
        if not only:
            for p in orphans(cases, gdir):
                out.print(f"[yellow]warning:[/] {p} has no case (strategy or scenario renamed/removed?)")
        failed = [oc for oc in outcomes if oc.failed]
        if failed:
            hint = ("fix the run, or if the change is intended re-bless with `basisbt regress --update` "
                    "(make golden) and say why the numbers moved in the commit")
            out.print(f"[red]FAILED[/]: {', '.join(f'{oc.case.name} ({oc.status})' for oc in failed)}\n{hint}",
                      soft_wrap=True)
            raise typer.Exit(1)
