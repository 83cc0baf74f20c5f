"""Write a run directory (docs/architecture.md §9): metrics.json, CSVs, run.toml, report.md, report.html.

A run directory is written as a unit: every file goes into a temporary sibling directory
`.<name>.tmp-<pid>-<hex>`, which then replaces the target in one step (Linux renameat2
RENAME_EXCHANGE; elsewhere rename the old one aside, rename the new one in, delete the old), so a
crash leaves the old run or the new one, never a mix, and a rerun never keeps files of the previous
run. `--out` pointing at a file or at a non-empty directory that is not a run directory is refused.
Leftover temporaries of killed writers (their pid is gone) are removed by the next write.
CSV floats use Python's shortest round-trip repr (pandas' default), so `render_run` can rebuild
the exact same `Results` numbers and reproduce metrics.json byte for byte.
"""
from __future__ import annotations

import ctypes
import glob
import errno
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from basisbt.data.safe_io import atomic_write, atomic_write_text, fsync_path
from basisbt.engine.results import Results
from basisbt.reports import tomlfmt
from basisbt.reports.markdown import ALLOCATION_PNG
from basisbt.reports.metrics import compute_metrics, timeline_index

RUN_FORMAT = 1
FILLS_COLUMNS = ("ts", "venue", "instrument", "qty", "price", "ref_price", "fee", "slippage", "reason", "fill_id",
                 "liquidity")
LEDGER_COLUMNS = ("ts", "venue", "kind", "amount", "ref")
LIQUIDATION_COLUMNS = ("ts", "venue", "qty", "price", "fee", "insurance_loss", "liq_id", "socialized")


def metrics_json(metrics: dict[str, Any]) -> str:
    """The canonical metrics.json text: sorted keys, 2-space indent, repr floats, trailing newline."""
    return json.dumps(metrics, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def frame_csv(df: pd.DataFrame | None, columns: tuple[str, ...] = ()) -> str:
    """CSV text of a frame without its index; an empty or missing frame keeps the contract header."""
    if df is None or (len(df) == 0 and len(df.columns) == 0):
        df = pd.DataFrame(columns=list(columns))
    return df.to_csv(index=False, lineterminator="\n")


def timeline_csv(timeline: pd.DataFrame) -> str:
    """equity.csv text: a leading `ts` column (bar close, UTC) then the timeline columns."""
    tl = timeline.drop(columns=["ts"]) if "ts" in timeline.columns else timeline
    out = tl.copy()
    out.index = timeline_index(timeline)
    out.index.name = "ts"
    return out.to_csv(lineterminator="\n")


def extras_csv(extras: dict[str, pd.Series]) -> str:
    """extras.csv text in long form (name, ts, value), so series on different clocks round-trip."""
    rows = []
    for name in sorted(extras):
        s = extras[name]
        rows.append(pd.DataFrame({"name": name, "ts": pd.DatetimeIndex(s.index),
                                  "value": s.to_numpy(dtype=float)}))
    df = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["name", "ts", "value"])
    return df.to_csv(index=False, lineterminator="\n")


def run_toml(results: Results) -> str:
    """run.toml text: strategy, data, ids, initial equity, venues, params and the resolved config."""
    doc: dict[str, Any] = {
        "format": RUN_FORMAT,
        "strategy": results.strategy,
        "data": results.dataset,
        "config_id": results.config_id,
        "data_fingerprint": results.data_fingerprint,
        "venue_fingerprint": dict(results.venue_fingerprint),
        "initial_equity": float(results.initial_equity),
        "venues": list(results.venues),
        "protocols": list(results.protocols),
        "params": dict(results.params or {}),
        "config": dict(results.config or {}),
    }
    if results.venue_blocks:
        doc["venue_blocks"] = {v: list(b) for v, b in results.venue_blocks.items()}
    if results.benchmark:
        doc["benchmark"] = dict(results.benchmark)
    return tomlfmt.dumps(doc, header="basisbt run: the resolved configuration of this run.\n"
                                      "Re-render the reports with `basisbt report <this dir>`.")


RUN_MARKER = "run.toml"      # a directory holding this file is a basisbt run directory


class RunTargetError(ValueError):
    """`--out` names something a run must not replace (a file, or a directory that is not a run)."""


def is_run_dir(path: Path) -> bool:
    """True for a directory written by write_run (it holds run.toml)."""
    return Path(path).is_dir() and (Path(path) / RUN_MARKER).is_file()


def check_run_target(out_dir: Path) -> None:
    """RunTargetError unless out_dir is absent, an empty directory, or a previous run directory."""
    p = Path(out_dir)
    if p.is_symlink() and not p.exists():
        raise RunTargetError(f"{p}: is a dangling symlink; choose another --out")
    if p.exists() and not p.is_dir():
        raise RunTargetError(f"{p}: exists and is not a directory; choose another --out")
    if p.is_dir() and not is_run_dir(p) and any(p.iterdir()):
        raise RunTargetError(f"{p}: is a non-empty directory that is not a basisbt run "
                             f"(no {RUN_MARKER}); refusing to replace it, choose another --out")
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise RunTargetError(f"{parent}: is a file, so {p} cannot be a directory")
            break


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clean_stale(parent: Path, name: str) -> None:
    """Remove temporaries of killed writers of `name`; put back an old run left aside mid-swap."""
    for q in parent.glob(f".{glob.escape(name)}.*-*"):
        kind, _, rest = q.name[len(name) + 2:].partition("-")
        pid = rest.split("-", 1)[0]
        if kind not in ("tmp", "old") or not pid.isdigit() or _pid_alive(int(pid)) and int(pid) != os.getpid():
            continue
        if kind == "old" and not (parent / name).exists():
            os.rename(q, parent / name)          # killed between the two renames of the fallback swap
        else:
            shutil.rmtree(q, ignore_errors=True)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with renameat2(RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    e = ctypes.get_errno()
    if e in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(e, os.strerror(e), str(b))


def replace_dir(new: Path, target: Path) -> None:
    """Make `new` the directory at `target` in one step; the old target (if any) is deleted after."""
    if not target.exists():
        os.rename(new, target)
        return
    if _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)   # `new` now holds the old run
        return
    aside = target.parent / f".{target.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
    os.rename(target, aside)
    os.rename(new, target)
    shutil.rmtree(aside, ignore_errors=True)


def staging_dir(target: Path) -> Path:
    """A fresh temporary sibling of target (mode from the umask), after cleaning killed writers' leftovers."""
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    _clean_stale(parent, target.name)
    tmp = parent / f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    os.mkdir(tmp, 0o777)                         # the umask applies, like mkdir(1)
    return tmp


def commit_dir(tmp: Path, target: Path) -> None:
    """fsync the staged files' directory, then swap it in for target."""
    fsync_path(tmp)
    replace_dir(tmp, target)
    fsync_path(target.parent)


def write_run(results: Results, out_dir: Path, *, dpi: int = 110) -> Path:
    """Write the whole run directory as one unit (see the module docstring); returns out_dir."""
    out_dir = Path(out_dir)
    check_run_target(out_dir)
    tmp = staging_dir(out_dir)
    try:
        _write_run_files(results, tmp, dpi=dpi)
        commit_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _write_run_files(results: Results, out_dir: Path, *, dpi: int) -> None:
    """Every file of a run directory into out_dir (a fresh staging directory). Data first, reports last."""
    atomic_write_text(out_dir / "equity.csv", timeline_csv(results.timeline))
    atomic_write_text(out_dir / "ledger.csv", frame_csv(results.ledger, LEDGER_COLUMNS))
    atomic_write_text(out_dir / "fills.csv", frame_csv(results.fills, FILLS_COLUMNS))
    atomic_write_text(out_dir / "liquidations.csv",
                      frame_csv(results.liquidations, LIQUIDATION_COLUMNS))
    attr = results.attribution
    if attr is not None:
        attr = attr.copy()
        attr.index.name = "venue"
        atomic_write_text(out_dir / "attribution.csv", attr.to_csv(lineterminator="\n"))
    atomic_write_text(out_dir / "extras.csv", extras_csv(results.extras or {}))
    if results.log:
        atomic_write_text(out_dir / "run.log", "\n".join(results.log) + "\n")
    atomic_write_text(out_dir / "run.toml", run_toml(results))
    write_reports(results, out_dir, dpi=dpi)


def write_reports(results: Results, out_dir: Path, *, dpi: int = 110) -> dict[str, Any]:
    """(Re)write metrics.json, report.md and report.html from a Results; returns the metrics."""
    from basisbt.reports.html import render_html
    from basisbt.reports.markdown import render_markdown

    metrics = compute_metrics(results)
    atomic_write_text(out_dir / "metrics.json", metrics_json(metrics))
    chart = allocation_png(results, dpi)     # several assets only: the chart report.md links to
    if chart is not None:
        atomic_write(out_dir / ALLOCATION_PNG, lambda tmp: Path(tmp).write_bytes(chart))
    atomic_write_text(out_dir / "report.md", render_markdown(results, metrics))
    atomic_write_text(out_dir / "report.html", render_html(results, metrics, dpi=dpi, allocation_png=chart))
    return metrics


def allocation_png(results: Results, dpi: int = 110) -> bytes | None:
    """The allocation-by-asset-and-venue chart of a several-asset run as PNG bytes; None for one asset."""
    from basisbt.reports import assets, plots
    if not assets.assets_of(results):
        return None
    fig = plots.fig_asset_allocation(results, assets.allocation_switches(results), dpi)
    return plots.png_bytes(fig, dpi=dpi)
