"""Write a run directory (docs/architecture.md §9): metrics.json, the tables, run.toml, report.md, report.html.

A run directory is written as a unit: every file goes into a temporary sibling directory
`.<name>.tmp-<pid>-<hex>`, which then replaces the target in one step (Linux renameat2
RENAME_EXCHANGE; elsewhere rename the old one aside, rename the new one in, delete the old), so a
crash leaves the old run or the new one, never a mix, and a rerun never keeps files of the previous
run. `--out` pointing at a file or at a non-empty directory that is not a run directory is refused.
Leftover temporaries of killed writers (their pid is gone) are removed by the next write.
The tables are Parquet, or CSV with `csv=True` (reports/runfiles.py); both hold the exact floats, so
`render_run` rebuilds the same `RunResult` numbers and reproduces metrics.json byte for byte. Each file's
sha256 goes into run.toml `[files]` and run.toml's own into metrics.json `run_fingerprint`.
"""
from __future__ import annotations

import ctypes
import errno
import glob
import json
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd

from basisbt.data.phases import phase
from basisbt.data.safe_io import atomic_write, atomic_write_text, fsync_path
from basisbt.engine.results import RunResult
from basisbt.reports import runfiles, tomlfmt
from basisbt.reports.metrics import compute_metrics
from basisbt.reports.model import ALLOCATION_PNG
from basisbt.reports.series import timeline_index

if TYPE_CHECKING:
    from basisbt.reports.chartproc import ChartJob

RUN_FORMAT = 2       # 2: tables in Parquet or CSV, their sha256 in run.toml [files]; 1: CSV, no fingerprint
T = TypeVar("T")
FILLS_COLUMNS = ("ts", "venue", "instrument", "qty", "price", "ref_price", "fee", "slippage", "reason", "fill_id",
                 "liquidity")
LEDGER_COLUMNS = ("ts", "venue", "kind", "amount", "ref")
LIQUIDATION_COLUMNS = ("ts", "venue", "qty", "price", "fee", "insurance_loss", "liq_id", "socialized", "kind")


def metrics_json(metrics: dict[str, Any]) -> str:
    """The canonical metrics.json text: sorted keys, 2-space indent, repr floats, trailing newline."""
    return json.dumps(metrics, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def table_frame(df: pd.DataFrame | None, columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """A frame as written without its index; an empty or missing frame keeps the contract header."""
    if df is None or (len(df) == 0 and len(df.columns) == 0):
        return pd.DataFrame(columns=list(columns))
    return df


def timeline_frame(timeline: pd.DataFrame) -> pd.DataFrame:
    """The equity table: a leading `ts` column (bar close, UTC) then the timeline columns."""
    tl = timeline.drop(columns=["ts"]) if "ts" in timeline.columns else timeline
    out = tl.copy(deep=False)
    out.insert(0, "ts", timeline_index(timeline))
    out.index = pd.RangeIndex(len(out))
    return out


def extras_frame(extras: dict[str, pd.Series]) -> pd.DataFrame:
    """The extras table in long form (name, ts, value), so series on different clocks round-trip."""
    rows = []
    for name in sorted(extras):
        s = extras[name]
        rows.append(pd.DataFrame({"name": name, "ts": pd.DatetimeIndex(s.index),
                                  "value": s.to_numpy(dtype=float)}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["name", "ts", "value"])


def attribution_frame(attr: pd.DataFrame) -> pd.DataFrame:
    """The attribution table: a leading `venue` column, then the seven parts."""
    out = attr.copy()
    out.index.name = "venue"
    return out.reset_index()


def run_tables(results: RunResult) -> dict[str, pd.DataFrame]:
    """Every table of a run directory by table name (runfiles.TABLES + SMALL_TABLES), in writing order."""
    tables = {"equity": timeline_frame(results.timeline),
              "ledger": table_frame(results.ledger, LEDGER_COLUMNS),
              "fills": table_frame(results.fills, FILLS_COLUMNS),
              "liquidations": table_frame(results.liquidations, LIQUIDATION_COLUMNS)}
    if results.attribution is not None:
        tables["attribution"] = attribution_frame(results.attribution)
    tables["extras"] = extras_frame(results.extras or {})
    return tables


def run_toml(results: RunResult, files: dict[str, str] | None = None) -> str:
    """run.toml text: strategy, data, ids, initial equity, venues, params and the resolved config; with
    `files` (name -> sha256 of each table written) the [files] table that vouches for them."""
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
    if files is not None:
        doc["files"] = dict(files)
    return tomlfmt.dumps(doc, header="basisbt run: the resolved configuration of this run.\n"
                                      "Re-render the reports with `basisbt report <this dir>`.")


RUN_MARKER = "run.toml"      # a directory holding this file is a basisbt run directory
KIND_FILE = ".basisbt"       # sweep, stress and comparison directories: one word, the kind of output
OUT_KINDS = ("run", "sweep", "stress", "compare")


class RunTargetError(ValueError):
    """`--out` names something a command must not replace (a file, or a directory of another kind)."""


def out_kind(path: Path) -> str | None:
    """Which basisbt output a directory holds: 'run' (run.toml), the word in its .basisbt file ('sweep',
    'stress', 'compare'), or for directories written before that file existed, 'sweep' (sweep.json and
    cells/), 'stress' (summary.json and paths.parquet) or 'compare' (metrics.json and report.html alone);
    None for anything else."""
    p = Path(path)
    if not p.is_dir():
        return None
    if (p / RUN_MARKER).is_file():
        return "run"
    marker = p / KIND_FILE
    if marker.is_file():
        with open(marker, "rb") as fh:
            word = fh.read(64).decode("utf-8", "replace").strip()
        return word if word in OUT_KINDS else None
    if (p / "sweep.json").is_file() and (p / "cells").is_dir():
        return "sweep"
    if (p / "summary.json").is_file() and (p / "paths.parquet").is_file():
        return "stress"
    names = {q.name for q in p.iterdir()}
    if names and names <= {"metrics.json", "report.html"}:
        return "compare"
    return None


def check_out(out_dir: Path, kind: str) -> None:
    """The one `--out` rule of every command that writes a directory: RunTargetError unless out_dir is absent,
    an empty directory, or an earlier output of the same `kind` (run, sweep, stress, compare), which the
    command then replaces whole (or, for a sweep, resumes). A file, a user's own folder or another command's
    output is refused, naming what it is."""
    p = Path(out_dir)
    if p.is_symlink() and not p.exists():
        raise RunTargetError(f"{p}: is a dangling symlink; choose another --out")
    if p.exists() and not p.is_dir():
        raise RunTargetError(f"{p}: exists and is not a directory; choose another --out")
    if p.is_dir():
        have = out_kind(p)
        if have != kind and any(p.iterdir()):
            what = f"holds a basisbt {have} output" if have else "is a non-empty directory basisbt did not write"
            raise RunTargetError(f"{p}: {what}, not a basisbt {kind} output; refusing to replace it, "
                                 f"choose another --out")
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise RunTargetError(f"{parent}: is a file, so {p} cannot be a directory")
            break


def mark_out(out_dir: Path, kind: str) -> None:
    """Write the .basisbt file saying which output a (sweep, stress, comparison) directory holds."""
    atomic_write_text(Path(out_dir) / KIND_FILE, kind + "\n")


def check_run_target(out_dir: Path) -> None:
    """RunTargetError unless out_dir is absent, an empty directory, or a previous run directory."""
    check_out(out_dir, "run")


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


def replace_whole(out_dir: Path, kind: str, fill: Callable[[Path], T], keep: tuple[str, ...] = ()) -> T:
    """Write a run, sweep, stress or comparison directory as one unit: check_out, then fill(stage) writes every
    file into a temporary sibling, which gets the .basisbt mark (a run's mark is its run.toml) and replaces
    out_dir in one step. `keep` names subdirectories of the old out_dir carried over (hard links, copies across
    file systems), e.g. a sweep's stored cells. A failed or interrupted fill leaves out_dir as it was."""
    out_dir = Path(out_dir)
    check_out(out_dir, kind)
    tmp = staging_dir(out_dir)
    try:
        for sub in keep:
            _link_tree(out_dir / sub, tmp / sub)
        result = fill(tmp)
        if kind != "run":
            mark_out(tmp, kind)
        with phase("commit (fsync, swap directory)"):
            commit_dir(tmp, out_dir)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _as_target(e, tmp, out_dir) from e
    return result


def _link_tree(src: Path, dst: Path) -> None:
    """Hard-link every file below src into dst (a copy where links are refused)."""
    if not src.is_dir():
        return
    for f in sorted(src.rglob("*")):
        target = dst / f.relative_to(src)
        if f.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(f, target)
        except OSError:
            shutil.copy2(f, target)


def write_run(results: RunResult, out_dir: Path, *, dpi: int = 110, csv: bool = False,
              metrics: dict[str, Any] | None = None) -> Path:
    """Write the whole run directory as one unit (see the module docstring); returns out_dir.
    `csv=True` writes the tables as CSV instead of Parquet (reports/runfiles.py); `metrics`, when the caller
    has computed them already (compute_metrics(results)), are not computed again."""
    out_dir = Path(out_dir)
    replace_whole(out_dir, "run", lambda stage: _write_run_files(results, stage, dpi=dpi, csv=csv, metrics=metrics))
    return out_dir


def _as_target(e: BaseException, tmp: Path, out_dir: Path) -> BaseException:
    """An OSError on a staged file named as the file it was going to be (out_dir/name), not its temporary."""
    name = getattr(e, "filename", None)
    if isinstance(e, OSError) and e.errno is not None and name and str(name).startswith(str(tmp)):
        return OSError(e.errno, e.strerror, str(out_dir / Path(name).relative_to(tmp)))
    return e


def write_bytes(path: Path, data: bytes) -> None:
    """Write bytes atomically (temp file, fsync, rename)."""
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def write_tables(results: RunResult, out_dir: Path, csv: bool = False) -> dict[str, str]:
    """The run's tables (Parquet, or CSV) and run.log into out_dir; returns {file name: sha256}."""
    files: dict[str, str] = {}
    for table, frame in run_tables(results).items():
        name = runfiles.table_name(table, csv)
        with phase(f"write {name}"):
            files[name] = runfiles.write_table(frame, out_dir / name)
    if results.log:
        log = ("\n".join(results.log) + "\n").encode("utf-8")
        write_bytes(out_dir / "run.log", log)
        files["run.log"] = runfiles.sha256(log)
    return files


def _write_run_files(results: RunResult, out_dir: Path, *, dpi: int, csv: bool = False,
                     metrics: dict[str, Any] | None = None) -> None:
    """Every file of a run directory into out_dir (a fresh staging directory). The tables are written on a
    second thread while this one computes the metrics and draws the reports: pyarrow's encoding and the
    fsyncs release the GIL, so on a year of 1m bars the two overlap. run.toml (which lists the tables'
    hashes) and metrics.json (which holds run.toml's) come last."""
    from concurrent.futures import ThreadPoolExecutor

    from basisbt.reports.chartproc import start_charts
    with phase("start the charts (import matplotlib, fork the helper)"):
        charts = start_charts(results, dpi)     # its helper is forked before this function starts a thread
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="basisbt-tables") as pool:
            tables = pool.submit(write_tables, results, out_dir, csv)
            metrics = render_reports(results, out_dir, dpi=dpi, metrics=metrics, charts=charts)
            with phase("wait for the tables"):
                pool.shutdown(wait=True)
    finally:
        charts.close()
    atomic_write_text(out_dir / RUN_MARKER, run_toml(results, tables.result()))
    write_metrics(metrics, out_dir)


def run_fingerprint(run_dir: Path) -> str | None:
    """sha256 of the directory's run.toml (which lists every table's sha256); None without one."""
    p = Path(run_dir) / RUN_MARKER
    return runfiles.file_sha256(p) if p.is_file() else None


def write_metrics(metrics: dict[str, Any], out_dir: Path) -> None:
    """metrics.json, with `run_fingerprint`: the sha256 of the run.toml beside it (when there is one)."""
    fingerprint = run_fingerprint(out_dir)
    atomic_write_text(out_dir / "metrics.json",
                      metrics_json(dict(metrics, run_fingerprint=fingerprint) if fingerprint else metrics))


def render_reports(results: RunResult, out_dir: Path, *, dpi: int = 110,
                   metrics: dict[str, Any] | None = None, charts: Any = None) -> dict[str, Any]:
    """Compute the metrics (unless given) and the report model (reports/build.py) once, and write it as
    report.md, report.html (and allocation.png); returns the metrics. `charts`: the report's charts already
    being drawn (reports/chartproc.start_charts), else they are started here; report.md is written while they
    are drawn."""
    with phase("import report modules (matplotlib, jinja2)"):
        from basisbt.reports.build import run_report, with_charts
        from basisbt.reports.chartproc import start_charts
        from basisbt.reports.html import to_html
        from basisbt.reports.markdown import to_markdown
    if metrics is None:
        with phase("metrics"):
            metrics = compute_metrics(results)
    job = charts or start_charts(results, dpi)
    try:
        chart = allocation_png(results, dpi)     # several assets only: the chart report.md links to
        if chart is not None:
            write_bytes(out_dir / ALLOCATION_PNG, chart)
        with phase("report model"):
            report = run_report(results, metrics, allocation_png=chart, run_toml=run_toml(results))
        with phase("report.md"):
            atomic_write_text(out_dir / "report.md", to_markdown(report))
        drawn = job.finish()
    finally:
        job.close()
    with phase("report.html"):
        atomic_write_text(out_dir / "report.html", to_html(with_charts(report, drawn)))
    return metrics


def write_reports(results: RunResult, out_dir: Path, *, dpi: int = 110) -> dict[str, Any]:
    """(Re)write metrics.json, report.md and report.html from a RunResult beside its run.toml; returns the
    metrics (without run_fingerprint)."""
    metrics = render_reports(results, out_dir, dpi=dpi)
    write_metrics(metrics, out_dir)
    return metrics


def allocation_png(results: RunResult, dpi: int = 110) -> bytes | None:
    """The allocation-by-asset-and-venue chart of a several-asset run as PNG bytes; None for one asset."""
    from basisbt.reports import assets
    if not assets.assets_of(results):
        return None
    from basisbt.reports import plots  # matplotlib: only when there is this chart to draw
    fig = plots.fig_asset_allocation(results, assets.allocation_switches(results), dpi)
    return plots.png_bytes(fig, dpi=dpi)


def render_html(results: RunResult, metrics: dict[str, Any], *, dpi: int = 110,
                allocation: bytes | None = None, charts: ChartJob | None = None) -> str:
    """The self-contained report.html text for one run; `allocation` reuses the several-asset allocation chart
    already drawn for allocation.png (drawn here when not given); `charts` the charts already being drawn
    (reports/chartproc.py), else they are drawn here."""
    from basisbt.reports.build import run_report
    from basisbt.reports.chartproc import start_charts
    from basisbt.reports.html import to_html
    if allocation is None:
        allocation = allocation_png(results, dpi)
    job = charts or start_charts(results, dpi)
    try:
        drawn = job.finish()
    finally:
        job.close()
    return to_html(run_report(results, metrics, charts=drawn, allocation_png=allocation,
                              run_toml=run_toml(results)))
