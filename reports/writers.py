"""Write a run directory (DESIGN §9): metrics.json, CSVs, run.toml, report.md, report.html.

Every file is written atomically: into a temporary file in the same directory, flushed and
fsynced, then `os.replace`d over the target, so a crash mid-write leaves the previous file intact.
CSV floats use Python's shortest round-trip repr (pandas' default), so `render_run` can rebuild
the exact same `Results` numbers and reproduce metrics.json byte for byte.
"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import pandas as pd

from engine.results import Results
from reports import tomlfmt
from reports.metrics import compute_metrics, timeline_index

RUN_FORMAT = 1
FILLS_COLUMNS = ("ts", "venue", "instrument", "qty", "price", "ref_price", "fee", "slippage", "reason")
LEDGER_COLUMNS = ("ts", "venue", "kind", "amount", "ref")
LIQUIDATION_COLUMNS = ("ts", "venue", "qty", "price", "fee", "insurance_loss")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write bytes to path via a same-directory temp file and os.replace (all or nothing)."""
    path = Path(path)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies, like open()
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 text atomically (see atomic_write_bytes)."""
    atomic_write_bytes(path, text.encode("utf-8"))


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
        "initial_equity": float(results.initial_equity),
        "venues": list(results.venues),
        "protocols": list(results.protocols),
        "params": dict(results.params or {}),
        "config": dict(results.config or {}),
    }
    return tomlfmt.dumps(doc, header="basisbt run: the resolved configuration of this run.\n"
                                      "Re-render the reports with `basisbt report <this dir>`.")


def write_run(results: Results, out_dir: Path, *, dpi: int = 110) -> Path:
    """Write the whole run directory; returns out_dir. Data files first, reports last."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
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
    return out_dir


def write_reports(results: Results, out_dir: Path, *, dpi: int = 110) -> dict[str, Any]:
    """(Re)write metrics.json, report.md and report.html from a Results; returns the metrics."""
    from reports.html import render_html
    from reports.markdown import render_markdown

    metrics = compute_metrics(results)
    atomic_write_text(out_dir / "metrics.json", metrics_json(metrics))
    atomic_write_text(out_dir / "report.md", render_markdown(results, metrics))
    atomic_write_text(out_dir / "report.html", render_html(results, metrics, dpi=dpi))
    return metrics
