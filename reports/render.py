"""Re-render saved runs without re-running them: one run's reports, or a comparison page of several."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from basisbt.reports import plots
from basisbt.reports.compare import comparison_report
from basisbt.reports.html import to_html
from basisbt.reports.loader import RunDirError, load_run
from basisbt.reports.series import nav_series
from basisbt.reports.writers import atomic_write_text, write_reports

__all__ = ["RunDirError", "render_run", "render_comparison"]


def render_run(run_dir: str | Path, *, dpi: int = 110) -> dict[str, Any]:
    """Rebuild metrics.json, report.md and report.html of a saved run from its CSVs and run.toml.

    The CSVs hold exact float round-trips, so metrics.json comes out byte for byte identical to
    the one `Results.save` wrote. Returns the metrics. Raises RunDirError for a bad directory.
    """
    import shutil

    from basisbt.reports.writers import commit_dir, staging_dir
    d = Path(run_dir)
    results = load_run(d)
    tmp = staging_dir(d)
    try:   # re-render a copy and swap it in whole: a failed or killed render leaves the run untouched
        shutil.copytree(d, tmp, dirs_exist_ok=True, symlinks=True)
        metrics = write_reports(results, tmp, dpi=dpi)
        commit_dir(tmp, d)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return metrics


def _labels(dirs: Sequence[Path]) -> list[str]:
    """Short unique labels for runs: the directory name, with its parent when names collide."""
    names = [d.name for d in dirs]
    out = []
    for d, n in zip(dirs, names, strict=True):
        out.append(f"{d.parent.name}/{n}" if names.count(n) > 1 else n)
    return out


def render_comparison(run_dirs: Sequence[str | Path], out: str | Path, *, dpi: int = 110) -> Path:
    """Write out/report.html (metrics side by side, equity curves on one chart) and out/metrics.json.

    Metrics are recomputed from each run's saved files. `out` follows the --out rule (reports/writers.check_out:
    absent, empty or an earlier comparison) and is replaced whole. Returns the path of the HTML page.
    """
    from basisbt.reports.writers import check_out, replace_whole
    out_dir = Path(out)
    check_out(out_dir, "compare")          # the --out rule, before any run is read
    dirs = [Path(d) for d in run_dirs]
    runs = [load_run(d) for d in dirs]
    from basisbt.reports.metrics import compute_metrics
    mets = [compute_metrics(r) for r in runs]
    labels = _labels(dirs)
    curves = [(lab, nav_series(r), float(r.initial_equity)) for lab, r in zip(labels, runs, strict=True)]
    equity_png = plots.figure_png(plots.fig_compare_equity(curves, dpi=dpi), dpi)
    html = to_html(comparison_report(labels, dirs, mets, equity_png))
    metrics = json.dumps(dict(zip(labels, mets, strict=True)), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)

    def fill(stage: Path) -> None:
        atomic_write_text(stage / "metrics.json", metrics + "\n")
        atomic_write_text(stage / "report.html", html)
    replace_whole(out_dir, "compare", fill)          # written whole, like a run directory
    return out_dir / "report.html"
