"""`basisbt report RUN_DIR [RUN_DIR...]`: re-render one saved run, or compare several."""
from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add the `report` command to the basisbt Typer app."""

    @app.command("report")
    def report(
        run_dirs: list[Path] = typer.Argument(..., help="Run directories written by `basisbt run`."),
        out: Path = typer.Option(Path("runs/compare"), "--out",
                                 help="Where the comparison page goes when several runs are given: absent, empty or an "
                                      "earlier comparison (replaced whole)."),
    ) -> None:
        """Re-render report.html, report.md and metrics.json of a run; with several runs, compare them."""
        from basisbt.cli.common import fail
        from basisbt.reports.render import RunDirError, render_comparison, render_run
        from basisbt.reports.writers import RunTargetError

        try:
            if len(run_dirs) == 1:
                render_run(run_dirs[0])
                typer.echo(f"{run_dirs[0] / 'report.html'}")
            else:
                typer.echo(str(render_comparison(run_dirs, out)))
        except (RunDirError, RunTargetError) as exc:
            fail(str(exc))
