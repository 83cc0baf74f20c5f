"""Rebuild the shipped real windows from ../shared/data so anyone can check them against the sources.

    .venv/bin/python -m data.scenarios.real.build_windows [--source ../shared/data/freqtrade/binance]
                                                          [--hl-source ../shared/data/hyperliquid]

For each window in data.scenarios.real.WINDOWS it keeps the rows with start <= date < end of the
four Binance ETH/USDT freqtrade files, and of the same four files of each further asset in
real.EXTRA_SYMBOLS (BTC/USDT), unchanged (same columns, values and dtypes), and writes them in
freqtrade's layout as zstd parquet, so they load through the ordinary freqtrade importer. It then
writes provenance.toml: each source file's name, sha256, rows and span, and per window and stream
the rows kept, the rows expected on the grid, and the missing ones counted from the data (ETH at the
top level as before; a further asset under [assets.BASE]). For each real-hyperliquid-* window (real.HL_WINDOWS) it
keeps the Hyperliquid fundingHistory records whose hour (the stamp snapped down) lies in the window, unchanged (one
JSON object per line), in `<dir>/hyperliquid/fundingHistory_ETH.json`, and records them under [hyperliquid].
Every file is written atomically
(temporary sibling, then rename), and a file that already holds the same rows is left as it is, byte
for byte, so adding an asset never rewrites the shipped ones. Same sources give the same rows.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from basisbt.data.safe_io import atomic_write as _atomic_write_bytes
from basisbt.data.scenarios.real import (
    EXTRA_SYMBOLS,
    HL_WINDOWS,
    PROVENANCE,
    ROOT,
    WINDOWS,
    RealWindow,
    hl_funding_file,
    window_dir,
)

DEFAULT_SOURCE = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "freqtrade" / "binance"
DEFAULT_HL_SOURCE = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "hyperliquid"
HL_ORIGIN = ("Hyperliquid info API fundingHistory records, as kept in ../shared/data/hyperliquid (paged and "
             "concatenated by yuchengzhang966/funding-rate-efficient-frontier @ 9669d3d); see ../shared/data/README.md")
HOUR_NS = 3600 * 10**9
FUNDING_STEP_NS = 8 * HOUR_NS          # Binance ETHUSDT settles at 00/08/16 UTC in every shipped window


def files_for(base: str) -> dict[str, tuple[str, int]]:
    """stream -> (path in the freqtrade tree without suffix, also used under each window; grid step of its rows)."""
    return {
        "spot": (f"spot/{base}_USDT-1h", HOUR_NS),
        "perp": (f"futures/{base}_USDT_USDT-1h-futures", HOUR_NS),
        "mark": (f"futures/{base}_USDT_USDT-1h-mark", HOUR_NS),
        "funding": (f"futures/{base}_USDT_USDT-1h-funding_rate", FUNDING_STEP_NS),   # BTCUSDT too: 8h throughout
    }


FILES: dict[str, tuple[str, int]] = files_for("ETH")              # the primary, ETH/USDT
EXTRA_FILES: dict[str, dict[str, tuple[str, int]]] = {s.split("/")[0]: files_for(s.split("/")[0])
                                                      for s in EXTRA_SYMBOLS}
ORIGIN = ("freqtrade download-data files from Binance, as kept in ../shared/data/freqtrade/binance "
          "(from the public freqtrade user repository Roshan7869/algotrading @ db07ceb); see ../shared/data/README.md")


def sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes (for provenance)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _ns(frame: pd.DataFrame) -> np.ndarray:
    return frame["date"].to_numpy(dtype="datetime64[ns]").view(np.int64)


def cut(frame: pd.DataFrame, w: RealWindow) -> pd.DataFrame:
    """The source rows with start <= date < end, unchanged."""
    start, end = w.span()
    ns = _ns(frame)
    keep = (ns >= start.value) & (ns < end.value)
    return frame[keep].reset_index(drop=True)


def gaps(frame: pd.DataFrame, w: RealWindow, step_ns: int) -> dict:
    """Rows, rows expected on the step grid in [start, end), missing ones, runs of missing and the longest run.

    Times are compared after rounding to the minute (Binance funding times carry ms jitter the
    importer snaps). Rows off the grid are counted as `off_grid` (e.g. 1h settlements after a capped print).
    """
    start, end = w.span()
    ns = (_ns(frame) + 30 * 10**9) // (60 * 10**9) * (60 * 10**9)
    grid = np.arange(start.value, end.value, step_ns, dtype=np.int64)
    present = np.isin(grid, ns)
    missing = ~present
    runs, longest, cur = 0, 0, 0
    for m in missing:
        cur = cur + 1 if m else 0
        runs += int(cur == 1)
        longest = max(longest, cur)
    return {"rows": int(ns.size), "expected": int(grid.size), "missing": int(missing.sum()),
            "gaps": runs, "longest_gap": longest, "off_grid": int((~np.isin(ns, grid)).sum()),
            "first": str(pd.Timestamp(int(ns[0]), tz="UTC")) if ns.size else "",
            "last": str(pd.Timestamp(int(ns[-1]), tz="UTC")) if ns.size else ""}


def write_parquet(frame: pd.DataFrame, path: Path) -> bool:
    """zstd parquet of the rows as they are (no pandas index), written atomically; False (file untouched) when
    `path` already holds the same table."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if path.is_file():
        try:
            if pq.read_table(path).equals(table):
                return False
        except (OSError, pa.ArrowException):
            pass                                 # unreadable: write it anew
    _atomic_write_bytes(path, lambda tmp: pq.write_table(table, tmp, compression="zstd", compression_level=19))
    return True


def _toml(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def _read_sources(source: Path, files: dict[str, tuple[str, int]], table: str,
                  lines: list[str]) -> dict[str, pd.DataFrame]:
    """Read each source file of one asset, appending its `[<table>.STREAM]` provenance lines."""
    frames: dict[str, pd.DataFrame] = {}
    for stream, (rel, _) in files.items():
        f = source / f"{rel}.feather"
        if not f.is_file():
            raise SystemExit(f"{f}: source file not found (give --source DIR, the freqtrade binance directory)")
        frames[stream] = pd.read_feather(f)
        ns = _ns(frames[stream])
        lines += [f"[{table}.{stream}]", f"file = {_toml(f'{rel}.feather')}", f"sha256 = {_toml(sha256(f))}",
                  f"bytes = {f.stat().st_size}", f"rows = {ns.size}",
                  f"first = {_toml(str(pd.Timestamp(int(ns[0]), tz='UTC')))}",
                  f"last = {_toml(str(pd.Timestamp(int(ns[-1]), tz='UTC')))}", ""]
    return frames


def _cut_windows(frames: dict[str, pd.DataFrame], files: dict[str, tuple[str, int]], table: str, out: Path,
                 lines: list[str], with_span: bool) -> None:
    """Write every window's cut of one asset's files under `out`, appending `[<table>.WINDOW.STREAM]` lines."""
    for w in WINDOWS:
        lines.append(f"[{table}.{w.name}]")
        if with_span:
            lines += [f"start = {_toml(w.start)}", f"end = {_toml(w.end)}"]
        lines.append("")
        for stream, (rel, step) in files.items():
            piece = cut(frames[stream], w)
            target = out / window_dir(w.name).relative_to(ROOT) / f"{rel}.parquet"
            write_parquet(piece, target)
            g = gaps(piece, w, step)
            lines.append(f"[{table}.{w.name}.{stream}]")
            lines.append(f"file = {_toml(target.relative_to(out).as_posix())}")
            lines += [f"{k} = {_toml(v)}" for k, v in g.items()]
            lines.append("")


def _hl_windows(hl_source: Path, out: Path, lines: list[str]) -> None:
    """Cut each real-hyperliquid-* window's funding records from the shared file, appending [hyperliquid] lines."""
    import json
    src = hl_source / "fundingHistory_ETH_2024-2025.json"
    if not src.is_file():
        raise SystemExit(f"{src}: source file not found (give --hl-source DIR, the shared hyperliquid directory)")
    records = json.loads(src.read_text())
    hours = np.array([int(r["time"]) // 3_600_000 * 3_600_000 * 10**6 for r in records], dtype=np.int64)
    lines += ["# Hyperliquid hourly funding, for the real-hyperliquid-* scenarios (real.HL_WINDOWS)", "[hyperliquid]",
              f"origin = {_toml(HL_ORIGIN)}", f"file = {_toml(src.name)}", f"sha256 = {_toml(sha256(src))}",
              f"bytes = {src.stat().st_size}", f"records = {len(records)}",
              f"first = {_toml(str(pd.Timestamp(int(hours[0]), tz='UTC')))}",
              f"last = {_toml(str(pd.Timestamp(int(hours[-1]), tz='UTC')))}", ""]
    for w in HL_WINDOWS:
        start, end = w.span()
        keep = [r for r, h in zip(records, hours, strict=True) if start.value <= h < end.value]
        text = "[\n" + ",\n".join(json.dumps(r) for r in keep) + "\n]\n"
        target = out / hl_funding_file(w).relative_to(ROOT)
        if not (target.is_file() and target.read_text() == text):
            _atomic_write_bytes(target, lambda tmp, text=text: Path(tmp).write_text(text))
        expected = int((end - start) / pd.Timedelta(hours=1))
        lines += [f"[hyperliquid.windows.{w.name}]", f"file = {_toml(target.relative_to(out).as_posix())}",
                  f"start = {_toml(w.start)}", f"end = {_toml(w.end)}", f"records = {len(keep)}",
                  f"expected = {expected}", f"missing = {expected - len(keep)}", ""]


def build(source: Path, out: Path = ROOT, hl_source: Path = DEFAULT_HL_SOURCE) -> dict:
    """Cut every window from `source` (and `hl_source`), write its files under `out` and return the provenance
    record."""
    lines = ["# Written by data/scenarios/real/build_windows.py from the files below; do not edit by hand.",
             f"origin = {_toml(ORIGIN)}", "venue = \"binance\"", "symbol = \"ETH/USDT\"", "timeframe = \"1h\"",
             "window_end = \"exclusive\"", ""]
    frames = _read_sources(source, FILES, "sources", lines)
    _cut_windows(frames, FILES, "windows", out, lines, with_span=True)
    for base, files in EXTRA_FILES.items():
        lines += [f"# {base}/USDT: the same windows, for the real-btc-eth-* scenarios (real.PAIRED)",
                  f"[assets.{base}]", f"symbol = {_toml(f'{base}/USDT')}", ""]
        frames = _read_sources(source, files, f"assets.{base}.sources", lines)
        _cut_windows(frames, files, f"assets.{base}.windows", out, lines, with_span=False)
    _hl_windows(hl_source, out, lines)
    text = "\n".join(lines)
    target = out / PROVENANCE.name
    _atomic_write_bytes(target, lambda tmp: Path(tmp).write_text(text))
    return tomllib.loads(text)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: build the windows and print each file's size."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="freqtrade binance data directory")
    ap.add_argument("--hl-source", type=Path, default=DEFAULT_HL_SOURCE, help="shared hyperliquid data directory")
    args = ap.parse_args(argv)
    build(args.source.resolve(), hl_source=args.hl_source.resolve())
    total = 0
    for f in sorted([*ROOT.rglob("*.parquet"), *ROOT.rglob("*.json")]):
        total += f.stat().st_size
        print(f"{f.relative_to(ROOT)}  {f.stat().st_size:,} B")
    print(f"total {total:,} B")
    return 0


if __name__ == "__main__":
    sys.exit(main())
