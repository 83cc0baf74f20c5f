"""What `basisbt report` (and `Results.load`) checks before re-rendering a saved run: is it the run that was
written, and does it add up?

1. **Fingerprint** (format 2 directories): metrics.json `run_fingerprint` is the sha256 of run.toml, and
   run.toml `[files]` lists the sha256 of every table and run.log. A file changed after the run wrote it
   (an edited equity table, a hand-tuned run.toml) no longer matches.
2. **Attribution identity**, on what was read: at every bar, equity change − external flows = the sum of
   the seven PnL parts (the engine holds it to ~1e-15 of equity, docs/architecture.md §4), and the
   attribution table's per-part totals equal the timeline's. Checked to IDENTITY_RTOL of the book's
   largest equity. Format 1 directories (written before fingerprints) get this check only.

Each failure is a RunDirError naming the file and the check (the CLI exits 2).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from basisbt.engine.results import PNL_PARTS, Results
from basisbt.reports import runfiles
from basisbt.reports.loader import RunDirError

IDENTITY_RTOL = 1e-8      # of max(initial equity, |equity|): the engine's parts add up to ~1e-15 of it


def check_fingerprint(d: Path, doc: dict[str, Any], metrics: dict[str, Any]) -> None:
    """RunDirError unless run.toml and every file it lists are byte for byte what the run wrote."""
    fmt = doc.get("format", 1)
    if not isinstance(fmt, int) or fmt < 1:
        raise RunDirError(f"{d / 'run.toml'}: format {fmt!r} is not a run directory format")
    if fmt > 2:
        raise RunDirError(f"{d / 'run.toml'}: format {fmt} was written by a newer basisbt; upgrade to read it")
    if fmt == 1:
        return
    files = doc.get("files")
    if not isinstance(files, dict) or not files:
        raise RunDirError(f"{d / 'run.toml'}: no [files] table; the run's fingerprint cannot be checked")
    if not metrics:
        raise RunDirError(f"{d / 'metrics.json'}: missing; it holds the run's fingerprint (run_fingerprint)")
    want = metrics.get("run_fingerprint")
    if want != runfiles.file_sha256(d / "run.toml"):
        raise RunDirError(f"{d / 'run.toml'}: fingerprint check failed: its sha256 is not metrics.json's "
                          "run_fingerprint (run.toml or metrics.json was changed after the run wrote them)")
    for name, digest in files.items():
        p = d / str(name)
        if Path(str(name)).name != name or p.is_symlink():
            raise RunDirError(f"{d / 'run.toml'}: [files] lists {str(name)[:60]!r}, not a file of this directory")
        if not p.is_file():
            raise RunDirError(f"{p}: missing (run.toml [files] lists it)")
        if runfiles.file_sha256(p) != digest:
            raise RunDirError(f"{p}: fingerprint check failed: its sha256 is not the one run.toml [files] "
                              "lists (the file was changed after the run wrote it)")


def check_identity(results: Results, files: dict[str, Path]) -> None:
    """RunDirError unless every bar's PnL parts add up to its equity change less flows, and the attribution
    table's totals to the timeline's (IDENTITY_RTOL of the largest equity)."""
    tl, where = results.timeline, files["equity"]
    missing = [f"pnl_{p}" for p in PNL_PARTS if f"pnl_{p}" not in tl.columns]
    if missing:
        raise RunDirError(f"{where}: no {', '.join(missing)} column; attribution identity cannot be checked")
    try:
        eq = tl["equity"].to_numpy(dtype=float)
        parts = np.column_stack([tl[f"pnl_{p}"].to_numpy(dtype=float) for p in PNL_PARTS])
        flows = tl["flows"].to_numpy(dtype=float) if "flows" in tl.columns else np.zeros(len(tl))
    except (ValueError, TypeError) as e:
        raise RunDirError(f"{where}: a non-numeric equity, flows or pnl_ column ({e})") from None
    start = float(results.initial_equity)
    with np.errstate(invalid="ignore"):
        scale = max(1.0, abs(start), float(np.nanmax(np.abs(eq))) if len(eq) and np.isfinite(eq).any() else 0.0)
    tol = IDENTITY_RTOL * scale
    residual = np.diff(eq, prepend=start) - flows - parts.sum(axis=1)
    bad = np.flatnonzero(~(np.abs(residual) <= tol))          # NaN counts as a failure
    if bad.size:
        k = int(bad[0])
        raise RunDirError(f"{where}: attribution identity fails at bar {k + 1} of {len(eq)} "
                          f"({str(tl.index[k])[:16]} UTC): equity change − flows − sum of the PnL parts = "
                          f"{residual[k]:,.6g} quote (tolerance {tol:.3g}; {_bars(bad.size)}); the table was "
                          "changed or the run is inconsistent")
    attr = results.attribution
    if attr is None or not len(attr) or "attribution" not in files:
        return
    for j, p in enumerate(PNL_PARTS):
        if p not in attr.columns:
            raise RunDirError(f"{files['attribution']}: no {p!r} column")
        try:
            total = float(np.asarray(attr[p], dtype=float).sum())
        except (ValueError, TypeError):
            raise RunDirError(f"{files['attribution']}: non-numeric {p!r} column") from None
        timeline = float(parts[:, j].sum())
        if not abs(total - timeline) <= tol:
            raise RunDirError(f"{files['attribution']}: attribution identity fails: its {p} total "
                              f"{total:,.6g} differs from the sum of the timeline's pnl_{p} {timeline:,.6g} "
                              f"(tolerance {tol:.3g} quote)")


def _bars(n: int) -> str:
    return "1 bar fails" if n == 1 else f"{n:,} bars fail"
